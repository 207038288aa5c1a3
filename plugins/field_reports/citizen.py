"""What a citizen does with a report after filing it: follow, track, rate, reopen.

Rating and reopening need the report's token (only in the private link the citizen was given)
and a resolved or closed incident. Reopening is limited by the setting `max_reopens`; past it
the citizen is asked to file a new report. Every change goes through the core's incident
service, so the timeline and the domain events see it like any other change.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from field_reports.intake import ACTOR, EMAIL_RE, SOURCE
from field_reports.tables import Report
from ioc_core.auth.errors import FormError
from ioc_core.db.transactions import write_transaction
from ioc_core.i18n import gettext
from ioc_core.incidents import service as incidents
from ioc_core.incidents.tables import Incident, IncidentFollower
from ioc_core.incidents.workflow import TransitionError

FINISHED = ("resolved", "closed")
MAX_COMMENT = 2000


class NotPublic(LookupError):
    """No report with this code that the public may see, or the wrong token for it: both
    answer the same 404, so a guessed code or token learns nothing."""


@dataclass(frozen=True)
class Tracked:
    incident: dict[str, Any]
    report: dict[str, Any]

    def owned_by(self, token: str) -> bool:
        """The private link's token matches (compared in constant time; as bytes, since
        `compare_digest` refuses a str with anything but ASCII, and a link may hold any)."""
        expected = str(self.report["token"]).encode()
        return bool(token) and secrets.compare_digest(token.encode(), expected)


def _code(raw: str) -> str:
    return raw.strip().upper()


async def tracked(code: str) -> Tracked:
    """The report with this ticket code, unless moderation hid it."""
    incident = await Incident.select().where(Incident.code == _code(code)).first()
    if incident is None or incident["source"] != SOURCE:
        raise NotPublic(code)
    report = await Report.select().where(Report.incident == incident["id"]).first()
    if report is None or report["hidden"]:
        raise NotPublic(code)
    return Tracked(incident, report)


async def owned(code: str, token: str) -> Tracked:
    found = await tracked(code)
    if not found.owned_by(token):
        raise NotPublic(code)
    return found


def _finished_or_refuse(status: str, message: str) -> None:
    if status not in FINISHED:
        raise FormError({"": message})


async def rate(code: str, token: str, rating: str, comment: str) -> Incident:
    """Store the citizen's 1-5 rating and comment on the report, and say so in the timeline.
    Once per resolution: after a reopen and a new resolution they may rate again."""
    found = await owned(code, token)
    errors = {}
    stars = int(rating) if rating.strip() in {"1", "2", "3", "4", "5"} else None
    if stars is None:
        errors["rating"] = gettext("Choose from 1 to 5 stars.")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        errors["rating_comment"] = gettext("At most %(n)s characters.") % {"n": MAX_COMMENT}
    if errors:
        raise FormError(errors)

    async def apply(incident: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
        # Checked again under the incident's lock: staff may have reopened it meanwhile.
        _finished_or_refuse(
            incident.status, gettext("You can rate the work once the report is resolved.")
        )
        report = await Report.objects().get(Report.id == found.report["id"])
        assert report is not None
        closed_at = incident.closed_at
        if report.rated_at is not None and closed_at is not None and report.rated_at >= closed_at:
            raise FormError({"": gettext("You have already rated this work.")})
        before = {"rating": report.rating}
        report.rating, report.rating_comment = stars, comment
        report.rated_at = dt.datetime.now(dt.UTC)
        await report.save([Report.rating, Report.rating_comment, Report.rated_at])
        return before, {"rating": stars}

    # The comment stays in the staff timeline; the public one shows the stars only.
    return await incidents.change(
        found.incident["id"], ACTOR, "rated", apply, note=comment, public=True
    )


async def reopen(code: str, token: str, reason: str, max_reopens: int) -> Incident:
    """Reopen a resolved or closed report the citizen says is not fixed, at most
    `max_reopens` times."""
    found = await owned(code, token)
    reason = reason.strip()
    if not reason or len(reason) > MAX_COMMENT:
        raise FormError(
            {
                "reason": gettext("Say what is still wrong (1 to %(n)s characters).")
                % {"n": MAX_COMMENT}
            }
        )
    report_id = found.report["id"]
    # The count is taken first, under the write lock, so two clicks cannot both pass the
    # limit; if the status change then fails, the count is given back.
    async with write_transaction():
        report = await Report.select(Report.reopen_count).where(Report.id == report_id).first()
        assert report is not None
        if report["reopen_count"] >= max_reopens:
            raise FormError(
                {
                    "": gettext(
                        "This report was already reopened %(n)s times, the most allowed. "
                        "Please send a new report."
                    )
                    % {"n": max_reopens}
                }
            )
        incident = (
            await Incident.select(Incident.status)
            .where(Incident.id == found.incident["id"])
            .first()
        )
        assert incident is not None
        _finished_or_refuse(incident["status"], gettext("Only a resolved report can be reopened."))
        await Report.update({Report.reopen_count: Report.reopen_count + 1}).where(
            Report.id == report_id
        )
    try:
        return await incidents.change_status(found.incident["id"], "reopened", ACTOR, reason)
    except (TransitionError, FormError):
        await Report.update({Report.reopen_count: Report.reopen_count - 1}).where(
            Report.id == report_id
        )
        raise FormError({"": gettext("Only a resolved report can be reopened.")}) from None


async def follow_instead(code: str, email: str) -> bool:
    """The citizen follows an open report already filed instead of filing the same one: their
    address is told of its changes. Creates nothing else. False when they already follow it."""
    email = email.strip()
    if not email or len(email) > 254 or not EMAIL_RE.match(email):
        raise FormError(
            {"email": gettext("Give your e-mail address to be told about this report.")}
        )
    found = await tracked(code)
    incident_id = found.incident["id"]
    async with write_transaction():
        if await IncidentFollower.exists().where(
            (IncidentFollower.incident == incident_id) & (IncidentFollower.email == email)
        ):
            return False
        await IncidentFollower.insert(
            IncidentFollower(incident=incident_id, email=email, created_at=dt.datetime.now(dt.UTC))
        )
    return True
