"""Routing rules, SLA targets, the working calendar and escalations: data the city edits."""

from __future__ import annotations

from piccolo.columns import (
    Boolean,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from ioc_core.auth.tables import Department
from ioc_core.incidents.tables import Area, Category, Incident


class RoutingRule(Table, tablename="routing_rule"):
    """Category and area → the department responsible; an empty side matches anything, and the
    most specific rule wins (both sides, then category, then area, then the catch-all)."""

    category = ForeignKey(Category, null=True, default=None, on_delete=OnDelete.restrict)
    area = ForeignKey(Area, null=True, default=None, on_delete=OnDelete.restrict)
    department = ForeignKey(Department, null=False, on_delete=OnDelete.restrict)
    updated_at = Timestamptz()
    updated_by = Varchar(length=128)


class SlaTarget(Table, tablename="sla_target"):
    """Category and priority → working hours to resolve; empty sides match anything, the most
    specific target wins (both, then category, then priority, then the default)."""

    category = ForeignKey(Category, null=True, default=None, on_delete=OnDelete.restrict)
    priority = Varchar(length=16, default="")
    hours = DoublePrecision()
    # The assignee is warned when this much working time is left.
    warn_hours = DoublePrecision(default=4.0)
    updated_at = Timestamptz()
    updated_by = Varchar(length=128)


class CalendarDay(Table, tablename="calendar_day"):
    """A day that breaks the weekly pattern: a public holiday, or a weekend day worked in
    exchange for a bridge holiday."""

    day = Date(unique=True)
    working = Boolean(default=False)
    name = Varchar(length=200, default="")


class OfficeHours(Table, tablename="office_hours"):
    """A working period of a weekday (0 = Monday), `HH:MM` in the city's time zone."""

    weekday = Integer(index=True)
    opens = Varchar(length=5)
    closes = Varchar(length=5)


class Escalation(Table, tablename="escalation"):
    """One step up the hierarchy and what the unit above decided."""

    incident = ForeignKey(Incident, null=False, index=True, on_delete=OnDelete.restrict)
    level = Integer()
    from_department = ForeignKey(Department, null=True, default=None, on_delete=OnDelete.restrict)
    to_department = ForeignKey(Department, null=False, index=True, on_delete=OnDelete.restrict)
    reason = Varchar(length=32, index=True)
    note = Text(default="")
    automatic = Boolean(default=False)
    raised_by = Varchar(length=128)
    raised_at = Timestamptz()
    # "" while open; approved, reassigned, returned, or forwarded (escalated further).
    decision = Varchar(length=16, default="", index=True)
    decided_by = Varchar(length=128, default="")
    decided_at = Timestamptz(null=True, default=None)
    decision_note = Text(default="")
    new_expected_at = Timestamptz(null=True, default=None)
