"""Who is told what: the unit an incident was escalated to, the people working it when the
decision comes back or its due time nears, and its followers whenever what the citizen sees
(the public note, the expected date) changes. Outbox event handlers, run once per event."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ioc_core.auth.tables import Department, UserDepartment
from ioc_core.i18n import gettext, local_time
from ioc_core.incidents.tables import Incident, IncidentFollower
from ioc_core.notifications import sender
from ioc_core.notifications.service import notify
from ioc_core.sla.escalation import decision_label, reason_label

PUBLIC = ("public_note", "expected_at")


async def _tell(**what: Any) -> None:
    """Notify, and have a worker send the e-mails shortly after this handler commits."""
    if await notify(**what):
        await sender.send_soon()


async def _members(department_id: int | None) -> list[int]:
    if department_id is None:
        return []
    rows = await UserDepartment.select(UserDepartment.user).where(
        UserDepartment.department == department_id
    )
    return [r["user"] for r in rows]


async def _workers(incident_id: int) -> list[int]:
    """The assignee, or else everyone in the responsible department."""
    row = await (
        Incident.select(Incident.assignee, Incident.department)
        .where(Incident.id == incident_id)
        .first()
    )
    if row is None:
        return []
    return [row["assignee"]] if row["assignee"] else await _members(row["department"])


async def _tell_followers(event: dict[str, Any]) -> None:
    before, after = event.get("before") or {}, event.get("after") or {}
    if not any(k in after and before.get(k) != after[k] for k in PUBLIC):
        return
    followers = await IncidentFollower.select(IncidentFollower.user, IncidentFollower.email).where(
        IncidentFollower.incident == event["incident"]
    )
    await _tell(
        kind="sla.public_note",
        params={
            "code": event["code"],
            "note": after.get("public_note", ""),
            "expected": after.get("expected_at"),
        },
        link=f"/incidents/{event['incident']}",
        users=[f["user"] for f in followers if f["user"]],
        emails=[f["email"] for f in followers if f["email"]],
    )


async def on_escalated(event: dict[str, Any]) -> None:
    """An escalation by staff or by the sweep: the unit above is told, followers too."""
    after = event.get("after") or {}
    unit = after.get("escalated_to")
    if unit and unit != (event.get("before") or {}).get("escalated_to"):
        name = await Department.select(Department.name_vi).where(Department.id == unit).first()
        await _tell(
            kind="sla.escalated",
            params={
                "code": event["code"],
                "reason": after.get("escalation_reason", ""),
                "unit": name["name_vi"] if name else "",
            },
            link=f"/incidents/{event['incident']}",
            users=await _members(unit),
        )
    await _tell_followers(event)


async def on_decided(event: dict[str, Any]) -> None:
    after = event.get("after") or {}
    await _tell(
        kind="sla.decided",
        params={
            "code": event["code"],
            "decision": after.get("decision", ""),
            "expected": after.get("expected_at"),
        },
        link=f"/incidents/{event['incident']}",
        users=await _workers(event["incident"]),
    )
    await _tell_followers(event)


async def on_warning(event: dict[str, Any]) -> None:
    await _tell(
        kind="sla.warning",
        params={"code": event["code"], "due": (event.get("after") or {}).get("sla_due_at")},
        link=f"/incidents/{event['incident']}",
        users=await _workers(event["incident"]),
    )


HANDLERS = {
    "incident.escalated": [on_escalated],
    "incident.sla_breached": [on_escalated],
    "incident.decided": [on_decided],
    "incident.sla_warning": [on_warning],
    "incident.public_note": [_tell_followers],
}


def _day(value: str | None) -> str:
    return local_time(dt.datetime.fromisoformat(value), "%d/%m/%Y") if value else "—"


def _escalated(params: dict[str, Any]) -> tuple[str, str]:
    title = gettext("%(code)s was escalated to %(unit)s") % params
    return title, gettext("Reason: %(reason)s.") % {"reason": reason_label(params["reason"])}


def _decided(params: dict[str, Any]) -> tuple[str, str]:
    decision = decision_label(params["decision"])
    title = gettext("Decision on %(code)s: %(decision)s") % {**params, "decision": decision}
    return title, gettext("Expected date: %(day)s.") % {"day": _day(params.get("expected"))}


def _warning(params: dict[str, Any]) -> tuple[str, str]:
    due = local_time(dt.datetime.fromisoformat(params["due"])) if params.get("due") else "—"
    title = gettext("%(code)s is due soon") % params
    return title, gettext("Resolve it before %(due)s.") % {"due": due}


def _public_note(params: dict[str, Any]) -> tuple[str, str]:
    title = gettext("News on %(code)s") % params
    body = gettext("%(note)s (expected: %(day)s)") % {
        "note": params.get("note") or "—",
        "day": _day(params.get("expected")),
    }
    return title, body


WORDING = {
    "sla.escalated": _escalated,
    "sla.decided": _decided,
    "sla.warning": _warning,
    "sla.public_note": _public_note,
}
