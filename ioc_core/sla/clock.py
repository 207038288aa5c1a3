"""The SLA clock of one incident: its due time and warning time in working time, stopped while
the incident waits on the citizen. Every change of the due time goes through `set_due`, which
also re-arms the warning and the escalation of the new due time."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from ioc_core.db.config_cache import ConfigCache
from ioc_core.incidents.tables import Incident
from ioc_core.sla.calendar import Period, WorkCalendar
from ioc_core.sla.tables import CalendarDay, OfficeHours


async def load_calendar() -> WorkCalendar:
    """The city's calendar as administrators edited it."""
    return await _CALENDAR.get()


async def _read_calendar() -> WorkCalendar:
    week: dict[int, list[Period]] = defaultdict(list)
    for row in await OfficeHours.select().order_by(OfficeHours.opens):
        week[row["weekday"]].append((_time(row["opens"]), _time(row["closes"])))
    days = await CalendarDay.select(CalendarDay.day, CalendarDay.working)
    return WorkCalendar(
        week={weekday: tuple(periods) for weekday, periods in week.items()},
        holidays=frozenset(d["day"] for d in days if not d["working"]),
        working_days=frozenset(d["day"] for d in days if d["working"]),
    )


# Read at every filing and every clock change: kept per process until it is edited.
_CALENDAR = ConfigCache(_read_calendar)


def _time(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def set_due(
    incident: Incident,
    due: dt.datetime | None,
    warn_before: dt.timedelta | None,
    calendar: WorkCalendar,
) -> None:
    """Give the incident a new due time (None: no target), warned `warn_before` of working time
    ahead; a new due time may be warned and escalated again."""
    incident.sla_due_at = due
    incident.sla_state = ""
    incident.sla_warn_at = (
        calendar.subtract(due, warn_before) if due is not None and warn_before else None
    )


def pause(incident: Incident, now: dt.datetime) -> None:
    incident.sla_paused_at = now


def resume(incident: Incident, now: dt.datetime, calendar: WorkCalendar) -> None:
    """Move the due and warning times on by the working time the clock was stopped; a due time
    already passed when the pause began stays passed."""
    paused_at, incident.sla_paused_at = incident.sla_paused_at, None
    if paused_at is None or incident.sla_due_at is None or incident.sla_due_at <= paused_at:
        return
    stopped = calendar.between(paused_at, now)
    incident.sla_due_at = calendar.add(incident.sla_due_at, stopped)
    if incident.sla_warn_at is not None and incident.sla_warn_at > paused_at:
        incident.sla_warn_at = calendar.add(incident.sla_warn_at, stopped)
