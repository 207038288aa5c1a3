"""What the people who reported an incident are told when its status changes: the reporter
through the contact they gave (e-mail, or SMS where a plugin offers that channel), with their
private tracking link; other followers (reporters of merged duplicates) with the public one."""

from __future__ import annotations

from typing import Any

from field_reports.tables import Report
from ioc_core.i18n import gettext
from ioc_core.incidents.tables import IncidentFollower
from ioc_core.incidents.workflow import status_label
from ioc_core.notifications import sender
from ioc_core.notifications.service import notify

STATUS = "field_reports.status"
SMS = "sms"


def track_link(code: str, token: str | None = None) -> str:
    """The citizen's page of a report; with the token, the private link that may rate or
    reopen it."""
    return f"/track/{code}?token={token}" if token else f"/track/{code}"


async def on_status(event: dict[str, Any]) -> None:
    """A change of status, by itself or with an assignment."""
    before, after = event.get("before") or {}, event.get("after") or {}
    if "status" not in after or before.get("status") == after["status"]:
        return
    report = await (
        Report.select(Report.email, Report.phone, Report.token)
        .where(Report.incident == event["incident"])
        .first()
    )
    followers = await IncidentFollower.select(IncidentFollower.email).where(
        (IncidentFollower.incident == event["incident"]) & (IncidentFollower.email != "")
    )
    params = {"code": event["code"], "status": after["status"]}
    written = 0
    reporter = {report["email"].lower()} if report and report["email"] else set()
    if report and (report["email"] or report["phone"]):
        written += await notify(
            kind=STATUS,
            params=params,
            link=track_link(event["code"], report["token"]),
            emails=[report["email"]] if report["email"] else [],
            addresses={SMS: [report["phone"]]} if report["phone"] else None,
        )
    others = [f["email"] for f in followers if f["email"].lower() not in reporter]
    if others:
        written += await notify(
            kind=STATUS, params=params, link=track_link(event["code"]), emails=others
        )
    if written:
        await sender.send_soon()


def _status(params: dict[str, Any]) -> tuple[str, str]:
    status = status_label(params.get("status", ""))
    title = gettext("Your report %(code)s: %(status)s") % {**params, "status": status}
    body = gettext("The status of report %(code)s is now: %(status)s.") % {
        **params,
        "status": status,
    }
    return title, body


HANDLERS = {"incident.status": [on_status], "incident.assigned": [on_status]}
WORDING = {STATUS: _status}
