"""Incidents, their append-only timeline, attachments, areas, categories and the outbox."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from ioc_core.auth.tables import Department, User
from ioc_core.geo.column import Geometry

# Incidents and their history are the analytics source: nothing referenced by them is
# deleted through a cascade (OnDelete.restrict); areas close, users deactivate.


class Area(Table, tablename="area"):
    """An administrative area (a ward) with the period it is valid: Vietnam redrew its wards in
    2025, and an old incident keeps the ward it was filed in."""

    code = Varchar(length=64, index=True)
    name_vi = Varchar(length=200)
    name_en = Varchar(length=200, default="")
    kind = Varchar(length=32, default="ward")
    valid_from = Date(null=True, default=None)
    valid_to = Date(null=True, default=None)
    geometry = Geometry("MultiPolygon")
    # The bounding box, so SQLite can pick candidate areas before shapely tests the polygon.
    min_lon = Float()
    min_lat = Float()
    max_lon = Float()
    max_lat = Float()
    source = Varchar(length=200, default="")


class Category(Table, tablename="category"):
    code = Varchar(length=64, unique=True)
    name_vi = Varchar(length=200)
    name_en = Varchar(length=200, default="")
    active = Boolean(default=True)


class TicketCounter(Table, tablename="ticket_counter"):
    """The last ticket number handed out in a year: `PT-2026-000123`."""

    year = Integer(unique=True)
    last = Integer(default=0)


class Incident(Table, tablename="incident"):
    code = Varchar(length=32, unique=True)
    source = Varchar(length=64, index=True)
    category = ForeignKey(Category, null=True, default=None, on_delete=OnDelete.restrict)
    title = Varchar(length=300)
    description = Text(default="")
    location = Geometry("Point", null=True, default=None)
    # Plain coordinates beside the geometry: SQLite's R*Tree index and exports read these.
    lon = Float(null=True, default=None)
    lat = Float(null=True, default=None)
    address = Varchar(length=500, default="")
    area = ForeignKey(Area, null=True, default=None, on_delete=OnDelete.restrict)
    status = Varchar(length=16, default="new", index=True)
    priority = Varchar(length=16, default="normal")
    department = ForeignKey(Department, null=True, default=None, on_delete=OnDelete.restrict)
    assignee = ForeignKey(User, null=True, default=None, on_delete=OnDelete.restrict)
    sla_due_at = Timestamptz(null=True, default=None)
    # When the assignee is warned that the due time is near; set with the due time.
    sla_warn_at = Timestamptz(null=True, default=None)
    # "" on time, "warned", "breached": each due time is warned and escalated at most once.
    sla_state = Varchar(length=16, default="", index=True)
    # While waiting on the citizen the clock stops; the due time moves on by the pause.
    sla_paused_at = Timestamptz(null=True, default=None)
    escalation_level = Integer(default=0)
    # The unit that must decide now (city leadership, province); null when not escalated.
    escalated_to = ForeignKey(Department, null=True, default=None, on_delete=OnDelete.restrict)
    escalation_reason = Varchar(length=32, default="")
    public_note = Text(default="")
    expected_at = Timestamptz(null=True, default=None)
    reporter_name = Varchar(length=200, default="", secret=True)
    reporter_contact = Varchar(length=200, default="", secret=True)
    duplicate_of = ForeignKey("self", null=True, default=None, on_delete=OnDelete.restrict)
    created_at = Timestamptz(index=True)
    updated_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)


class IncidentEvent(Table, tablename="incident_event"):
    """The append-only timeline: every change to an incident, with who and when."""

    incident = ForeignKey(Incident, null=False, index=True, on_delete=OnDelete.restrict)
    at = Timestamptz(index=True)
    actor = Varchar(length=128)
    kind = Varchar(length=32, index=True)
    before = JSON(null=True, default=None)
    after = JSON(null=True, default=None)
    note = Text(default="")
    public = Boolean(default=False)


class IncidentFollower(Table, tablename="incident_follower"):
    """Who is told when what the citizen sees changes: a staff user, or an e-mail address."""

    incident = ForeignKey(Incident, null=False, index=True, on_delete=OnDelete.restrict)
    user = ForeignKey(User, null=True, default=None, on_delete=OnDelete.restrict)
    email = Varchar(length=254, default="", secret=True)
    created_at = Timestamptz()


class Attachment(Table, tablename="attachment"):
    incident = ForeignKey(Incident, null=False, index=True, on_delete=OnDelete.restrict)
    path = Varchar(length=500)
    content_type = Varchar(length=100)
    size = Integer()
    public = Boolean(default=True)
    created_at = Timestamptz()


class OutboxEvent(Table, tablename="outbox_event"):
    """A domain event written in the transaction of the change; dispatched after commit."""

    topic = Varchar(length=64, index=True)
    payload = JSON()
    created_at = Timestamptz()
    dispatched_at = Timestamptz(null=True, default=None, index=True)
    attempts = Integer(default=0)


class HandledEvent(Table, tablename="handled_event"):
    """Which handler already handled which outbox event: handlers run once per event."""

    handler = Varchar(length=128)
    event = Integer(index=True)
    at = Timestamptz()


class KpiSnapshot(Table, tablename="kpi_snapshot"):
    """The leadership KPIs of one reader scope and period, computed beforehand so the page need
    not sort a year of durations per view (`ioc_core.incidents.kpi_snapshots`); one row per
    (scope, days), a unique index in migration 2026-11-30T06:00."""

    # "all", or the departments the reader sees (`kpi_snapshots.scope_key`).
    scope = Varchar(length=200)
    days = Integer()
    # `kpis.Kpis` as JSON (`kpi_snapshots.dumps`).
    figures = Text()
    computed_at = Timestamptz()
    # When a reader sent the refresh of a stale snapshot: the others do not send another.
    refresh_claimed_at = Timestamptz(null=True, default=None)
