"""Every change to an incident: checked, written with its timeline event and its domain event
in one transaction, then the domain event dispatched. Nothing changes without an event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from piccolo.columns.combination import WhereRaw
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine
from shapely.geometry import Point

from ioc_core.auth.errors import FormError
from ioc_core.auth.tables import Department, User
from ioc_core.db import config_cache
from ioc_core.db.config_cache import ConfigCache
from ioc_core.db.postgres import NO_FLUSH
from ioc_core.db.transactions import write_transaction
from ioc_core.geo.areas import area_for
from ioc_core.geo.column import to_db
from ioc_core.i18n import gettext
from ioc_core.incidents import outbox
from ioc_core.incidents.tables import (
    Category,
    Incident,
    IncidentEvent,
    IncidentFollower,
    TicketCounter,
)
from ioc_core.incidents.workflow import OPEN_STATUSES, PRIORITIES, check_transition
from ioc_core.sla import clock, routing

TICKET_PREFIX = "PT"
# Who the timeline names for what the routing rules and SLA targets did.
ROUTING_ACTOR = "system:routing"
MAX_TITLE = 300
MAX_TEXT = 10_000


class IncidentNotFound(LookupError):
    pass


class NoChange(Exception):
    """Raised by a change that finds, under the lock, nothing left to do: nothing is written."""


@dataclass(frozen=True)
class NewIncident:
    source: str
    title: str
    description: str = ""
    category: str | None = None
    lon: float | None = None
    lat: float | None = None
    address: str = ""
    priority: str = "normal"
    reporter_name: str = ""
    reporter_contact: str = ""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _check_text(errors: dict[str, str], field: str, value: str, limit: int) -> None:
    if len(value) > limit:
        errors[field] = gettext("At most %(n)s characters.") % {"n": limit}


def _check_location(errors: dict[str, str], lon: float | None, lat: float | None) -> None:
    if (lon is None) != (lat is None):
        errors["location"] = gettext("Give both longitude and latitude, or neither.")
    elif lon is not None and lat is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90):
        errors["location"] = gettext("Longitude must be within ±180 and latitude within ±90.")


async def _category_ids() -> dict[str, int]:
    return {row["code"]: row["id"] for row in await Category.select(Category.code, Category.id)}


# Read at every filing: kept per process until a category changes.
_CATEGORY_IDS = ConfigCache(_category_ids)


async def category_id(code: str) -> int | None:
    """The id of the category with this code, active or not."""
    return (await _CATEGORY_IDS.get()).get(code)


async def create_incident(
    data: NewIncident,
    actor: str,
    then: Callable[[Incident], Awaitable[None]] | None = None,
) -> Incident:
    """File a new incident, routed by the rules. `then` runs in the same transaction, after the
    incident is stored, for what a plugin stores with it (a citizen report's photos, say): all
    of it commits together or none of it does."""
    async with config_cache.pinned():
        return await _create_incident(data, actor, then)


async def _create_incident(
    data: NewIncident, actor: str, then: Callable[[Incident], Awaitable[None]] | None
) -> Incident:
    errors: dict[str, str] = {}
    title = data.title.strip()
    if not title:
        errors["title"] = gettext("A title is required.")
    _check_text(errors, "title", title, MAX_TITLE)
    _check_text(errors, "description", data.description, MAX_TEXT)
    _check_location(errors, data.lon, data.lat)
    if data.priority not in PRIORITIES:
        errors["priority"] = gettext("Choose a priority from the list.")
    category = None
    if data.category:
        category = await category_id(data.category)
        if category is None:
            errors["category"] = gettext("No category %(code)s.") % {"code": data.category}
    if errors:
        raise FormError(errors)

    area = await area_for(data.lon, data.lat) if data.lon is not None else None
    now = _now()
    # On PostgreSQL numbered in a statement of its own: a counter row locked until the commit
    # would make every filing wait for the one before it to commit. A filing that fails after
    # this leaves a gap in the numbers, never a shared number. SQLite's write transaction holds
    # the database's one write lock from its start anyway: numbering inside it saves a commit.
    on_sqlite = isinstance(engine_finder(), SQLiteEngine)
    code = "" if on_sqlite else await _next_code(now.year)
    async with write_transaction():
        incident = Incident(
            code=code or await _next_code(now.year),
            source=data.source,
            category=category,
            title=title,
            description=data.description,
            lon=data.lon,
            lat=data.lat,
            location=to_db(Point(data.lon, data.lat)) if data.lon is not None else None,
            address=data.address,
            area=area,
            priority=data.priority,
            reporter_name=data.reporter_name,
            reporter_contact=data.reporter_contact,
            created_at=now,
            updated_at=now,
        )
        routed = await routing.route(incident, now)
        await incident.save()
        events = [
            new_event(incident.id, actor, "created", None, public_fields(incident), public=True)
        ]
        if routed:
            events.append(new_event(incident.id, ROUTING_ACTOR, "routed", *routed))
        await timeline_event(*events)
        if then is not None:
            await then(incident)
        event_id = await outbox.emit(
            "incident.created", {"incident": incident.id, "code": incident.code}
        )
    await outbox.dispatch([event_id])
    return incident


async def _next_code(year: int) -> str:
    """`PT-2026-000123`: short, readable, unique; a counter row per year, counted on in one
    statement (in the caller's transaction, if any), so two incidents never share a number."""
    count_on = (
        TicketCounter.update({TicketCounter.last: TicketCounter.last + 1})
        .where(TicketCounter.year == year)
        .returning(TicketCounter.last)
    )
    engine = TicketCounter._meta.db
    if engine.engine_type == "postgres" and not engine.transaction_exists():
        # Numbered on its own (see create_incident): the incident's own commit flushes this one
        # too, and a number whose incident was never stored may be given again.
        count_on = count_on.where(WhereRaw(NO_FLUSH))
    updated = await count_on
    if updated:
        number = updated[0]["last"]
    elif await TicketCounter.insert(TicketCounter(year=year, last=1)).on_conflict(
        target=TicketCounter.year, action="DO NOTHING"
    ):
        number = 1
    else:
        # Another transaction created the year's counter meanwhile (the year's first
        # incidents, filed at once): count on from its number.
        number = (await count_on)[0]["last"]
    return f"{TICKET_PREFIX}-{year}-{number:06d}"


def public_fields(incident: Incident) -> dict[str, Any]:
    """What the timeline keeps of an incident: never the reporter's contact."""
    return {
        "title": incident.title,
        "description": incident.description,
        "category": incident.category,
        "status": incident.status,
        "priority": incident.priority,
        "lon": incident.lon,
        "lat": incident.lat,
        "address": incident.address,
        "area": incident.area,
    }


def new_event(
    incident_id: int,
    actor: str,
    kind: str,
    before: Any,
    after: Any,
    note: str = "",
    public: bool = False,
) -> IncidentEvent:
    """A timeline event of the incident, not yet stored."""
    return IncidentEvent(
        incident=incident_id,
        at=_now(),
        actor=actor,
        kind=kind,
        before=before,
        after=after,
        note=note,
        public=public,
    )


async def timeline_event(*events: IncidentEvent) -> None:
    """Store events made by `new_event`, in one statement."""
    await IncidentEvent.insert(*events)


Change = Callable[[Incident], Awaitable[tuple[dict[str, Any], dict[str, Any]]]]


async def change(
    incident_id: int,
    actor: str,
    kind: str,
    apply: Change,
    *,
    note: str = "",
    public: bool = False,
    then: Callable[[Incident], Awaitable[None]] | None = None,
) -> Incident:
    """The one path every change takes: lock, change, timeline, outbox, commit, dispatch.

    `apply` changes the locked incident in place and returns the (before, after) the timeline
    and the domain event `incident.<kind>` keep; it may write more rows in the same transaction.
    `then` runs after the change's timeline event, in the transaction, for what follows from it
    (the routing it triggered, say). `NoChange` raised by `apply` rolls back and reaches the
    caller."""
    engine = engine_finder()
    assert engine is not None
    async with write_transaction():
        query = Incident.objects().where(Incident.id == incident_id)
        if engine.engine_type == "postgres":
            query = query.lock_rows()
        incident = await query.first()
        if incident is None:
            raise IncidentNotFound(incident_id)
        before, after = await apply(incident)
        incident.updated_at = _now()
        await incident.save()
        await timeline_event(new_event(incident.id, actor, kind, before, after, note, public))
        if then is not None:
            await then(incident)
        event_id = await outbox.emit(
            f"incident.{kind}",
            {"incident": incident.id, "code": incident.code, "before": before, "after": after},
        )
    await outbox.dispatch([event_id])
    return incident


async def change_status(incident_id: int, target: str, actor: str, note: str = "") -> Incident:
    async def apply(incident: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
        check_transition(incident.status, target)
        before = {"status": incident.status, "sla_due_at": _iso(incident.sla_due_at)}
        now = _now()
        if target == "waiting":
            clock.pause(incident, now)
        elif incident.status == "waiting":
            clock.resume(incident, now, await clock.load_calendar())
        elif target == "reopened":
            # A reopened report gets its full time again, from now.
            await routing.route(incident, now)
        incident.status = target
        if target in OPEN_STATUSES:
            incident.closed_at = None
        elif incident.closed_at is None:
            incident.closed_at = now
        return before, {"status": target, "sla_due_at": _iso(incident.sla_due_at)}

    return await change(incident_id, actor, "status", apply, note=note, public=True)


async def assign(
    incident_id: int,
    actor: str,
    *,
    department_id: int | None,
    assignee_id: int | None = None,
    note: str = "",
) -> Incident:
    """Give the incident to a department (and a person in it); a new one moves to assigned."""
    if department_id is not None and not await Department.exists().where(
        Department.id == department_id
    ):
        raise FormError({"department": gettext("No such department.")})
    if assignee_id is not None and not await User.exists().where(User.id == assignee_id):
        raise FormError({"assignee": gettext("No such user.")})

    async def apply(incident: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
        before = {
            "department": incident.department,
            "assignee": incident.assignee,
            "status": incident.status,
        }
        incident.department, incident.assignee = department_id, assignee_id
        if incident.status in ("new", "triaged", "reopened"):
            check_transition(incident.status, "assigned")
            incident.status = "assigned"
        after = {"department": department_id, "assignee": assignee_id, "status": incident.status}
        return before, after

    return await change(incident_id, actor, "assigned", apply, note=note)


async def comment(incident_id: int, actor: str, text: str, *, public: bool = False) -> Incident:
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise FormError({"comment": gettext("A comment: 1 to 10 000 characters.")})

    async def apply(incident: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
        return {}, {}

    return await change(incident_id, actor, "commented", apply, note=text, public=public)


async def set_public_note(
    incident_id: int, actor: str, note: str, expected_at: dt.datetime | None
) -> Incident:
    """What a citizen sees while the incident waits: e.g. waiting for budget, expected 15/01."""
    if len(note) > 1000:
        raise FormError({"public_note": gettext("At most %(n)s characters.") % {"n": 1000}})

    async def apply(incident: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
        before = {"public_note": incident.public_note, "expected_at": _iso(incident.expected_at)}
        incident.public_note, incident.expected_at = note.strip(), expected_at
        return before, {"public_note": incident.public_note, "expected_at": _iso(expected_at)}

    return await change(incident_id, actor, "public_note", apply, public=True)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


async def recategorise(incident_id: int, actor: str, category_code: str) -> Incident:
    """Give the incident another category; the routing rules and SLA targets apply again, the
    clock still counted from when it was filed."""
    category = await category_id(category_code)
    if category is None:
        raise FormError({"category": gettext("No category %(code)s.") % {"code": category_code}})
    routed: list[dict[str, Any]] = []

    async def apply(incident: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
        if incident.category == category:
            raise FormError({"category": gettext("The incident already has this category.")})
        before = {"category": incident.category}
        incident.category = category
        routed.extend(await routing.route(incident, incident.created_at) or ())
        return before, {"category": incident.category}

    async def log_routing(incident: Incident) -> None:
        if routed:
            await timeline_event(new_event(incident.id, ROUTING_ACTOR, "routed", *routed))

    return await change(incident_id, actor, "recategorised", apply, then=log_routing)


async def follow(incident_id: int, user_id: int) -> bool:
    """Tell this user when what the citizen sees changes; False when they already follow."""
    async with write_transaction():
        if await IncidentFollower.exists().where(
            (IncidentFollower.incident == incident_id) & (IncidentFollower.user == user_id)
        ):
            return False
        await IncidentFollower.insert(
            IncidentFollower(incident=incident_id, user=user_id, created_at=_now())
        )
    return True


async def unfollow(incident_id: int, user_id: int) -> None:
    await IncidentFollower.delete().where(
        (IncidentFollower.incident == incident_id) & (IncidentFollower.user == user_id)
    )


EDITABLE = ("title", "description", "priority", "address")


async def edit_incident(incident_id: int, actor: str, changes: dict[str, str]) -> Incident:
    """Correct what was reported; the timeline keeps each changed field's old and new value."""
    errors: dict[str, str] = {}
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        errors[""] = gettext("These fields cannot be edited: %(names)s.") % {
            "names": ", ".join(sorted(unknown))
        }
    if "title" in changes and not changes["title"].strip():
        errors["title"] = gettext("A title is required.")
    _check_text(errors, "title", changes.get("title", ""), MAX_TITLE)
    _check_text(errors, "description", changes.get("description", ""), MAX_TEXT)
    if "priority" in changes and changes["priority"] not in PRIORITIES:
        errors["priority"] = gettext("Choose a priority from the list.")
    if errors:
        raise FormError(errors)

    async def apply(incident: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
        before, after = {}, {}
        for field, value in changes.items():
            old = getattr(incident, field)
            if old != value:
                before[field], after[field] = old, value
                setattr(incident, field, value)
        return before, after

    return await change(incident_id, actor, "edited", apply)
