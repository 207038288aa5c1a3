"""Which department answers for an incident and by when: the most specific routing rule and SLA
target for its category, area and priority, applied when it is filed or re-categorised."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ioc_core.db.config_cache import ConfigCache
from ioc_core.incidents.tables import Incident
from ioc_core.sla.clock import load_calendar, set_due
from ioc_core.sla.tables import RoutingRule, SlaTarget


async def _rules() -> list[dict[str, Any]]:
    return await RoutingRule.select()


async def _targets() -> list[dict[str, Any]]:
    return await SlaTarget.select()


# Read at every filing: kept per process until the rules or targets change.
_RULES = ConfigCache(_rules)
_TARGETS = ConfigCache(_targets)


async def rule_for(category: int | None, area: int | None) -> dict[str, Any] | None:
    """Both sides matching beats the category alone, which beats the area alone, which beats
    the catch-all rule."""
    rows = [
        r
        for r in await _RULES.get()
        if r["category"] in (None, category) and r["area"] in (None, area)
    ]
    return max(rows, key=lambda r: (r["category"] is not None, r["area"] is not None), default=None)


async def target_for(category: int | None, priority: str) -> dict[str, Any] | None:
    """Both sides matching beats the category alone, then the priority alone, then the default."""
    rows = [
        r
        for r in await _TARGETS.get()
        if r["category"] in (None, category) and r["priority"] in ("", priority)
    ]
    return max(rows, key=lambda r: (r["category"] is not None, r["priority"] != ""), default=None)


def hours(value: float) -> dt.timedelta:
    return dt.timedelta(hours=value)


async def route(
    incident: Incident, start: dt.datetime
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Apply the rules to `incident` (in place, in the caller's transaction): the department of
    the matching rule, and a due time of the matching target counted from `start`. Returns the
    (before, after) of what changed, with the rule and target applied, or None."""
    rule = await rule_for(incident.category, incident.area)
    target = await target_for(incident.category, incident.priority)
    before: dict[str, Any] = {"department": incident.department, "sla_due_at": _iso(incident)}
    if rule is not None:
        incident.department = rule["department"]
    if target is not None:
        # Read only when a target applies: filing is the intake's hot path.
        calendar = await load_calendar()
        due = calendar.add(start, hours(target["hours"]))
        set_due(incident, due, hours(target["warn_hours"]), calendar)
    after: dict[str, Any] = {"department": incident.department, "sla_due_at": _iso(incident)}
    if before == after:
        return None
    after["rule"] = rule["id"] if rule else None
    after["target"] = target["id"] if target else None
    return before, after


def _iso(incident: Incident) -> str | None:
    return incident.sla_due_at.isoformat() if incident.sla_due_at else None
