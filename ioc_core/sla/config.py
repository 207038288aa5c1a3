"""Editing what the SLA plugin decides with: routing rules, SLA targets, the calendar's special
days and the weekly office hours. Every change is checked first, written in one transaction and
audited with its before and after, so a refused form stores nothing."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from piccolo.columns import Column
from piccolo.engine import engine_finder
from piccolo.table import Table

from ioc_core.auth.errors import AuthError, FormError
from ioc_core.auth.tables import Department
from ioc_core.db.audit import audit
from ioc_core.db.transactions import write_transaction
from ioc_core.i18n import gettext, parse_day
from ioc_core.incidents.tables import Area, Category
from ioc_core.incidents.workflow import PRIORITIES
from ioc_core.sla.calendar import default_holidays
from ioc_core.sla.tables import CalendarDay, OfficeHours, RoutingRule, SlaTarget

# About a year of working days (250 days of 7.5 h): a longer target is a typo, not a plan.
MAX_HOURS = 2000
MAX_DAY_NAME = 200
# Years a due time can plausibly reach; a date outside them is a typo.
FIRST_YEAR, LAST_YEAR = 2000, 2100
WEEKDAYS = range(7)
# PostgreSQL advisory lock key: configuration writes queue behind each other, so two people
# cannot both add the same pair. SQLite's BEGIN IMMEDIATE (write_transaction) does the same.
LOCK_KEY = 43_110_004
# A hyphen or an en dash, which phones often put in for one.
PERIOD_RE = re.compile(r"(\d{1,2}:\d{2})\s*[-\u2013]\s*(\d{1,2}:\d{2})")
# Serial ids are 32-bit on PostgreSQL: a longer number is no row, not an overflow error.
MAX_ID_DIGITS = 9

Week = dict[int, list[tuple[str, str]]]
RowT = TypeVar("RowT", bound=Table)


class Missing(AuthError):
    """The row to change or delete is not there (any more)."""


@asynccontextmanager
async def _writing() -> AsyncIterator[None]:
    async with write_transaction():
        engine = engine_finder()
        if engine is not None and engine.engine_type != "sqlite":
            await engine.run_ddl(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
        yield


# Routing rules


async def save_routing_rule(
    values: Mapping[str, str], actor: str, rule_id: int | None = None
) -> RoutingRule:
    """Create or change the rule that sends incidents of a category in an area to a department;
    an empty category or area matches any."""
    errors: dict[str, str] = {}
    async with _writing():
        row = await _existing(RoutingRule, rule_id)
        category = await _reference(values, "category", Category, errors)
        area = await _reference(values, "area", Area, errors)
        department = await _reference(values, "department", Department, errors, required=True)
        if "category" not in errors and "area" not in errors:
            taken = RoutingRule.exists().where(
                _same(RoutingRule.category, category), _same(RoutingRule.area, area)
            )
            if rule_id is not None:
                taken = taken.where(RoutingRule.id != rule_id)
            if await taken:
                errors["area"] = gettext("There is already a rule for this category and area.")
        if errors:
            raise FormError(errors)
        before = await _rule_facts(rule_id)
        row.category, row.area, row.department = category, area, department
        row.updated_at, row.updated_by = dt.datetime.now(dt.UTC), actor
        await row.save()
        after = await _rule_facts(row.id)
        await audit(actor, "sla.routing_rule.save", f"routing_rule/{row.id}", before, after)
    return row


async def delete_routing_rule(rule_id: int, actor: str) -> RoutingRule:
    async with _writing():
        row = await _existing(RoutingRule, rule_id)
        before = await _rule_facts(rule_id)
        await row.remove()
        await audit(actor, "sla.routing_rule.delete", f"routing_rule/{rule_id}", before, None)
    return row


async def _rule_facts(rule_id: int | None) -> dict[str, Any] | None:
    """A rule as the audit log shows it: codes, which read better and outlive ids."""
    if rule_id is None:
        return None
    query = RoutingRule.select(
        RoutingRule.category.code.as_alias("category"),
        RoutingRule.area.code.as_alias("area"),
        RoutingRule.department.code.as_alias("department"),
    )
    return await query.where(RoutingRule.id == rule_id).first()


# SLA targets


async def save_sla_target(
    values: Mapping[str, str], actor: str, target_id: int | None = None
) -> SlaTarget:
    """Create or change the working hours to resolve incidents of a category and priority,
    and how many hours before that the assignee is warned."""
    errors: dict[str, str] = {}
    priority = str(values.get("priority", "")).strip()
    if priority and priority not in PRIORITIES:
        errors["priority"] = gettext("Choose a priority from the list.")
    hours = _number(values, "hours", errors)
    if hours is not None and not 0 < hours <= MAX_HOURS:
        errors["hours"] = gettext("Hours: more than 0 and at most %(max)s.") % {"max": MAX_HOURS}
        # Not compared with the warning: that would report one mistake twice.
        hours = None
    warn_hours = _number(values, "warn_hours", errors)
    if warn_hours is not None and warn_hours < 0:
        errors["warn_hours"] = gettext("Warn: 0 hours or more.")
    elif warn_hours is not None and hours is not None and warn_hours >= hours:
        errors["warn_hours"] = gettext("Warn: fewer hours than the hours to resolve.")
    async with _writing():
        row = await _existing(SlaTarget, target_id)
        category = await _reference(values, "category", Category, errors)
        if "category" not in errors and "priority" not in errors:
            taken = SlaTarget.exists().where(
                _same(SlaTarget.category, category), SlaTarget.priority == priority
            )
            if target_id is not None:
                taken = taken.where(SlaTarget.id != target_id)
            if await taken:
                errors["priority"] = gettext(
                    "There is already a target for this category and priority."
                )
        if errors:
            raise FormError(errors)
        assert hours is not None and warn_hours is not None
        before = await _target_facts(target_id)
        row.category, row.priority = category, priority
        row.hours, row.warn_hours = hours, warn_hours
        row.updated_at, row.updated_by = dt.datetime.now(dt.UTC), actor
        await row.save()
        after = await _target_facts(row.id)
        await audit(actor, "sla.target.save", f"sla_target/{row.id}", before, after)
    return row


async def delete_sla_target(target_id: int, actor: str) -> SlaTarget:
    async with _writing():
        row = await _existing(SlaTarget, target_id)
        before = await _target_facts(target_id)
        await row.remove()
        await audit(actor, "sla.target.delete", f"sla_target/{target_id}", before, None)
    return row


async def _target_facts(target_id: int | None) -> dict[str, Any] | None:
    if target_id is None:
        return None
    query = SlaTarget.select(
        SlaTarget.category.code.as_alias("category"),
        SlaTarget.priority,
        SlaTarget.hours,
        SlaTarget.warn_hours,
    )
    return await query.where(SlaTarget.id == target_id).first()


# Calendar days


async def save_calendar_day(
    values: Mapping[str, str], actor: str, day_id: int | None = None
) -> CalendarDay:
    """Add or change a day that breaks the weekly pattern: a day off (`working` "0") or a
    weekend day worked in exchange (`working` "1")."""
    errors: dict[str, str] = {}
    day = _day(values, errors)
    working = str(values.get("working", "0"))
    if working not in ("0", "1"):
        errors["working"] = gettext("Choose day off or working day.")
    name = str(values.get("name", "")).strip()
    if not name or len(name) > MAX_DAY_NAME:
        errors["name"] = gettext("Name: 1 to %(max)s characters.") % {"max": MAX_DAY_NAME}
    async with _writing():
        row = await _existing(CalendarDay, day_id)
        if day is not None:
            taken = CalendarDay.exists().where(CalendarDay.day == day)
            if day_id is not None:
                taken = taken.where(CalendarDay.id != day_id)
            if await taken:
                errors["day"] = gettext("%(day)s is already in the calendar.") % {
                    "day": f"{day:%d/%m/%Y}"
                }
        if errors:
            raise FormError(errors)
        assert day is not None
        before = _day_facts(row) if day_id is not None else None
        row.day, row.working, row.name = day, working == "1", name
        await row.save()
        await audit(actor, "sla.calendar_day.save", f"calendar_day/{day}", before, _day_facts(row))
    return row


async def delete_calendar_day(day_id: int, actor: str) -> CalendarDay:
    async with _writing():
        row = await _existing(CalendarDay, day_id)
        await row.remove()
        subject = f"calendar_day/{row.day}"
        await audit(actor, "sla.calendar_day.delete", subject, _day_facts(row), None)
    return row


async def add_default_holidays(year: int, actor: str) -> int:
    """Add Vietnam's public holidays of `year` known in advance that the calendar lacks; a day
    already there (perhaps edited on purpose) is left as it is. How many were added."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise FormError({"year": _year_range()})
    wanted = default_holidays([year])
    async with _writing():
        present = await CalendarDay.select(CalendarDay.day).where(
            CalendarDay.day.is_in(list(wanted))
        )
        known = {r["day"] for r in present}
        added = {day: name for day, name in sorted(wanted.items()) if day not in known}
        if added:
            await CalendarDay.insert(
                *(CalendarDay(day=day, working=False, name=name) for day, name in added.items())
            )
            after = {day.isoformat(): name for day, name in added.items()}
            await audit(actor, "sla.calendar.default_holidays", f"calendar/{year}", None, after)
    return len(added)


def _day(values: Mapping[str, str], errors: dict[str, str]) -> dt.date | None:
    try:
        day = parse_day(str(values.get("day", "")))
    except ValueError:
        day = None
    if day is None:
        errors["day"] = gettext("Date: day/month/year, e.g. 02/09/2027.")
    elif not FIRST_YEAR <= day.year <= LAST_YEAR:
        errors["day"] = _year_range()
        return None
    return day


def _year_range() -> str:
    return gettext("Year: from %(first)s to %(last)s.") % {"first": FIRST_YEAR, "last": LAST_YEAR}


def _day_facts(row: CalendarDay) -> dict[str, Any]:
    return {"day": row.day.isoformat(), "working": row.working, "name": row.name}


# Office hours


async def office_week() -> Week:
    """The working periods of each weekday, earliest first; a weekday off has none."""
    week: Week = {weekday: [] for weekday in WEEKDAYS}
    rows = await OfficeHours.select().order_by(OfficeHours.weekday, OfficeHours.opens)
    for row in rows:
        week.setdefault(row["weekday"], []).append((row["opens"], row["closes"]))
    return week


def format_periods(periods: list[tuple[str, str]]) -> str:
    """Periods as people write them: `07:30-11:30, 13:30-17:00`."""
    return ", ".join(f"{opens}-{closes}" for opens, closes in periods)


async def replace_office_hours(texts: Mapping[int, str], actor: str) -> None:
    """Replace the office hours of each weekday given (0 = Monday) by the periods written in
    its text, e.g. `07:30-11:30, 13:30-17:00`; an empty text makes the weekday a day off.
    Errors are keyed `hours_<weekday>`."""
    errors: dict[str, str] = {}
    wanted: Week = {}
    for weekday, text in texts.items():
        if weekday not in WEEKDAYS:
            errors["weekday"] = gettext("Weekday: 0 (Monday) to 6 (Sunday).")
            continue
        try:
            wanted[weekday] = parse_periods(text)
        except ValueError as exc:
            errors[f"hours_{weekday}"] = str(exc)
    if errors:
        raise FormError(errors)
    async with _writing():
        week = await office_week()
        if not any(wanted.get(weekday, periods) for weekday, periods in week.items()):
            # The calendar could then never reach a due time.
            raise FormError({"": gettext("At least one weekday needs office hours.")})
        for weekday, periods in sorted(wanted.items()):
            if periods == week[weekday]:
                continue
            await OfficeHours.delete().where(OfficeHours.weekday == weekday)
            if periods:
                await OfficeHours.insert(
                    *(OfficeHours(weekday=weekday, opens=o, closes=c) for o, c in periods)
                )
            before = [f"{o}-{c}" for o, c in week[weekday]]
            after = [f"{o}-{c}" for o, c in periods]
            await audit(actor, "sla.office_hours.save", f"weekday/{weekday}", before, after)


def parse_periods(text: str) -> list[tuple[str, str]]:
    """`07:30-11:30, 13:30-17:00` → [("07:30", "11:30"), ("13:30", "17:00")], in order; a
    ValueError says what is wrong, in the interface's language."""
    periods = []
    for part in re.split(r"[,;]", text):
        if not part.strip():
            continue
        match = PERIOD_RE.fullmatch(part.strip())
        if match is None:
            raise ValueError(
                gettext("Write periods as HH:MM-HH:MM separated by commas, e.g. %(example)s.")
                % {"example": "07:30-11:30, 13:30-17:00"}
            )
        opens, closes = (_clock(t) for t in match.groups())
        if opens >= closes:
            raise ValueError(
                gettext("%(period)s: the end must be later than the start.")
                % {"period": part.strip()}
            )
        periods.append((opens, closes))
    periods.sort()
    for (_, first_end), (second_start, _) in itertools.pairwise(periods):
        if second_start < first_end:
            raise ValueError(gettext("Periods must not overlap."))
    return [(f"{opens:%H:%M}", f"{closes:%H:%M}") for opens, closes in periods]


def _clock(text: str) -> dt.time:
    try:
        return dt.datetime.strptime(text, "%H:%M").time()
    except ValueError:
        raise ValueError(gettext("%(time)s is not a time of day.") % {"time": text}) from None


# Shared checks


async def _existing(table: type[RowT], row_id: int | None) -> RowT:
    """The row to change, or a new one when `row_id` is None."""
    if row_id is None:
        # Its required fields are filled before it is saved.
        return table(_ignore_missing=True)
    row = await table.objects().get(table.id == row_id)
    if row is None:
        raise Missing(gettext("It no longer exists."))
    return row


async def _reference(
    values: Mapping[str, str],
    field: str,
    table: type[Table],
    errors: dict[str, str],
    *,
    required: bool = False,
) -> int | None:
    """The id chosen in a select box of `table`'s rows; empty means any, unless required."""
    text = str(values.get(field, "")).strip()
    if not text and not required:
        return None
    unknown = {
        "category": gettext("Choose a category from the list."),
        "area": gettext("Choose an area from the list."),
        "department": gettext("Choose a department from the list."),
    }[field]
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS):
        errors[field] = unknown
        return None
    if not await table.exists().where(table.id == int(text)):
        errors[field] = unknown
        return None
    return int(text)


def _same(column: Column, value: int | None) -> Any:
    """`column` holds `value`, where None is matched as SQL NULL."""
    return column.is_null() if value is None else column == value


def _number(values: Mapping[str, str], field: str, errors: dict[str, str]) -> float | None:
    # People in Vietnam write a decimal comma (7,5); a number input's dot is accepted too.
    text = str(values.get(field, "")).strip().replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        errors[field] = gettext("Enter a number of hours, e.g. 8 or 7.5.")
        return None
    return number
