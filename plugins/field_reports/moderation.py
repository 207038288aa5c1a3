"""Moderation by staff: the citizen report's panel on the incident page; hide or show the
report, redact a photo, correct the text, merge a duplicate; and staff's view of any photo.

Every action is a change of the incident through `ioc_core.incidents.service.change`, so the
timeline keeps who did what and when, and the outbox tells the plugins that listen.

Redaction pixelates the photo in place (about 16 blocks across its longer side) and takes it
off the public pages. The original bytes are overwritten rather than kept aside: the point of
redacting is that a face, a number plate or a private home can no longer leak, not through a
later mistake and not through a copied media folder. The blocks still show staff what kind of
scene it was; the timeline keeps that it was redacted, by whom, and why. A file Pillow cannot
read is deleted instead, for the same reason.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response
from piccolo.engine import engine_finder
from PIL import Image, UnidentifiedImageError

from field_reports.photos import FORMATS, media_root
from field_reports.tables import Report, Service, ServiceField
from ioc_core.auth.errors import FormError
from ioc_core.auth.principal import Principal
from ioc_core.i18n import current_language, gettext
from ioc_core.incidents import outbox
from ioc_core.incidents import service as incidents
from ioc_core.incidents.routes import act
from ioc_core.incidents.tables import Attachment, Incident, IncidentFollower
from ioc_core.incidents.visibility import can_see
from ioc_core.incidents.workflow import TransitionError, check_transition, status_label
from ioc_core.web.forms import acting, form_of
from ioc_core.web.pages import render_partial

MODERATE = "field_reports.moderate"
VIEW = {"permission": "incidents.view"}
INCIDENTS = "/field-reports/incidents"
BASE = INCIDENTS + "/{incident_id:int}"
# Blocks across the longer side of a redacted photo: a face or a plate is a block or two.
REDACTION_BLOCKS = 16
MAX_NOTE = 1000
# An incident kept in place of a duplicate must itself be one that is worked on or was done.
NOT_KEPT = ("duplicate", "rejected")


# The panel


async def report_panel(
    request: Request[Any, Any, Any], incident: Incident, errors: dict[str, str]
) -> str | None:
    """The citizen report's panel on the staff incident page; None for other incidents."""
    report = await (
        Report.select().where(Report.incident == incident.id).output(load_json=True).first()
    )
    if report is None:
        return None
    principal = acting(request)
    photos = await (
        Attachment.select(Attachment.id, Attachment.public, Attachment.content_type)
        .where(Attachment.incident == incident.id)
        .order_by(Attachment.id)
    )
    context = {
        "incident": incident,
        "report": report,
        "attributes": await _attributes(incident.category, report["attributes"]),
        "photos": photos,
        "may_moderate": principal.can(MODERATE),
        "status_label": status_label,
        "errors": errors,
        "base": f"{INCIDENTS}/{incident.id}",
    }
    return render_partial(request, "field_reports/moderation_panel.html", context)


async def _attributes(category: int | None, values: dict[str, Any]) -> list[tuple[str, str]]:
    """Each custom field's value with its label, list keys as their names, in the form's
    order; a value of a field removed since shows under its code."""
    service = await Service.select(Service.id).where(Service.category == category).first()
    fields = []
    if service is not None:
        fields = await (
            ServiceField.select()
            .where(ServiceField.service == service["id"])
            .order_by(ServiceField.position)
            .order_by(ServiceField.id)
            .output(load_json=True)
        )
    english = current_language.get() == "en"

    def named(spec: dict[str, Any], key: str) -> str:
        for option in spec["options"]:
            if option["key"] == key:
                return str(
                    option["name_en"] if english and option["name_en"] else option["name_vi"]
                )
        return key

    shown = []
    for spec in fields:
        if spec["code"] not in values:
            continue
        value = values[spec["code"]]
        keys = value if isinstance(value, list) else [value]
        text = ", ".join(named(spec, str(k)) for k in keys)
        shown.append((spec["label_en"] if english and spec["label_en"] else spec["label_vi"], text))
    known = {spec["code"] for spec in fields}
    shown.extend((code, str(v)) for code, v in values.items() if code not in known)
    return shown


# The actions


async def set_hidden(incident_id: int, actor: str, hidden: bool, note: str = "") -> Incident:
    """Hide the report from the public (the incident goes on), or show it again."""
    _check_note(note)

    async def apply(incident: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
        report = await Report.objects().get(Report.incident == incident.id)
        if report is None:
            raise FormError({"moderate": gettext("This incident has no citizen report.")})
        if report.hidden == hidden:
            already = (
                gettext("The report is already hidden.")
                if hidden
                else gettext("The report is already shown.")
            )
            raise FormError({"moderate": already})
        report.hidden = hidden
        await report.save([Report.hidden])
        return {"hidden": not hidden}, {"hidden": hidden}

    kind = "report_hidden" if hidden else "report_shown"
    return await incidents.change(incident_id, actor, kind, apply, note=note.strip())


async def redact_photo(
    incident_id: int, attachment_id: int, actor: str, media: Path, note: str = ""
) -> Incident:
    """Take a photo off the public pages and pixelate its file for good."""
    _check_note(note)

    async def apply(incident: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
        row = await Attachment.objects().get(
            (Attachment.id == attachment_id) & (Attachment.incident == incident.id)
        )
        if row is None:
            raise FormError({"moderate": gettext("This incident has no such photo.")})
        if not row.public:
            raise FormError({"moderate": gettext("This photo is already redacted.")})
        before = {"attachment": row.id, "public": True, "size": row.size}
        # The file changes before the commit: should the commit fail, the photo is pixelated
        # yet still public, which errs on the side of the people in it.
        done, row.size = _pixelate(media, row.path)
        row.public = False
        await row.save([Attachment.public, Attachment.size])
        return before, {"attachment": row.id, "public": False, "size": row.size, "file": done}

    return await incidents.change(incident_id, actor, "photo_redacted", apply, note=note.strip())


def _pixelate(media: Path, relative: str) -> tuple[str, int]:
    """Overwrite the photo by a pixelated copy in its own format: ("pixelated", new size); a
    file that is no readable photo is deleted: ("deleted", 0)."""
    root = media.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        return "deleted", 0
    try:
        with Image.open(path, formats=list(FORMATS)) as image:
            image.load()
            kind = str(image.format)
            width, height = image.size
            scale = max(width, height) / REDACTION_BLOCKS
            small = image.convert("RGB").resize(
                (max(1, round(width / scale)), max(1, round(height / scale))),
                Image.Resampling.BOX,
            )
            blocks = small.resize((width, height), Image.Resampling.NEAREST)
    except (OSError, UnidentifiedImageError, ValueError):
        path.unlink(missing_ok=True)
        return "deleted", 0
    # Written beside it and renamed over it: a reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    try:
        with os.fdopen(handle, "wb") as out:
            blocks.save(out, kind)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return "pixelated", path.stat().st_size


async def edit_text(incident_id: int, actor: str, title: str, description: str) -> Incident:
    """Correct what the citizen wrote (a phone number in the text, an insult); the timeline
    keeps the text before and after. The title is offered too: it starts with the text."""
    current = await (
        Incident.select(Incident.title, Incident.description)
        .where(Incident.id == incident_id)
        .first()
    )
    if current is None:
        raise incidents.IncidentNotFound(incident_id)
    changes = {
        name: value
        for name, value in (("title", title), ("description", description))
        if value != current[name]
    }
    if not changes:
        raise FormError({"moderate_description": gettext("Nothing was changed.")})
    try:
        return await incidents.edit_incident(incident_id, actor, changes)
    except FormError as exc:
        raise FormError({f"moderate_{k}": v for k, v in exc.errors.items()}) from None


async def merge_duplicate(
    incident_id: int, principal: Principal, kept_code: str, note: str = ""
) -> Incident:
    """Close this incident as a duplicate of the one with ticket `kept_code`: its followers
    move there (once each), and both timelines say so, each naming the other."""
    _check_note(note, "duplicate_note")
    code = kept_code.strip().upper()
    kept = await Incident.select(Incident.id, Incident.code).where(Incident.code == code).first()
    if kept is None or not await can_see(principal, kept["id"]):
        raise FormError({"duplicate_of": gettext("No incident %(code)s.") % {"code": code}})
    if kept["id"] == incident_id:
        raise FormError({"duplicate_of": gettext("An incident cannot duplicate itself.")})
    merged: dict[str, Any] = {}

    async def apply(incident: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            check_transition(incident.status, "duplicate")
        except TransitionError as exc:
            raise FormError({"duplicate_of": str(exc)}) from None
        target = await _locked(kept["id"])
        if target.status in NOT_KEPT:
            raise FormError(
                {
                    "duplicate_of": gettext(
                        "%(code)s is closed as %(status)s: give the ticket that is kept."
                    )
                    % {"code": target.code, "status": status_label(target.status)}
                }
            )
        before = {"status": incident.status, "duplicate_of": None}
        incident.status = "duplicate"
        incident.duplicate_of = target.id
        incident.closed_at = dt.datetime.now(dt.UTC)
        merged["followers"] = await _move_followers(incident.id, target.id)
        return before, {"status": "duplicate", "duplicate_of": target.id, "duplicate_of_code": code}

    events: list[int] = []

    async def record_on_kept(incident: Incident) -> None:
        after = {
            "duplicate": incident.id,
            "duplicate_code": incident.code,
            "followers_moved": merged["followers"],
        }
        await incidents.timeline_event(
            incidents.new_event(
                kept["id"], principal.actor, "duplicate_merged", None, after, note.strip()
            )
        )
        # The kept incident changed too (its followers): its own domain event, committed
        # with the merge and dispatched after it, as `change` does for the duplicate.
        payload = {"incident": kept["id"], "code": code, "before": None, "after": after}
        events.append(await outbox.emit("incident.duplicate_merged", payload))

    # A status event, as every change of status is: the duplicate's reporter is told.
    duplicate = await incidents.change(
        incident_id,
        principal.actor,
        "status",
        apply,
        note=note.strip(),
        public=True,
        then=record_on_kept,
    )
    await outbox.dispatch(events)
    return duplicate


async def _locked(incident_id: int) -> Incident:
    """The incident, locked until the transaction ends (PostgreSQL; SQLite's write lock is
    already the whole database's)."""
    engine = engine_finder()
    query = Incident.objects().where(Incident.id == incident_id)
    if engine is not None and engine.engine_type == "postgres":
        query = query.lock_rows()
    found = await query.first()
    if found is None:
        raise incidents.IncidentNotFound(incident_id)
    return found


async def _move_followers(from_id: int, to_id: int) -> int:
    """Move the followers of one incident to another; one already following there (the same
    user, or the same address in any case) is not added twice. How many moved."""
    there = await IncidentFollower.select(IncidentFollower.user, IncidentFollower.email).where(
        IncidentFollower.incident == to_id
    )
    users = {r["user"] for r in there if r["user"] is not None}
    emails = {r["email"].casefold() for r in there if r["email"]}
    moved = 0
    rows = await IncidentFollower.select().where(IncidentFollower.incident == from_id)
    for row in rows:
        email = row["email"].casefold()
        if (row["user"] is not None and row["user"] in users) or (email and email in emails):
            await IncidentFollower.delete().where(IncidentFollower.id == row["id"])
            continue
        await IncidentFollower.update({IncidentFollower.incident: to_id}).where(
            IncidentFollower.id == row["id"]
        )
        users.add(row["user"])
        emails.add(email)
        moved += 1
    return moved


def _check_note(note: str, field: str = "moderate_note") -> None:
    if len(note.strip()) > MAX_NOTE:
        raise FormError({field: gettext("At most %(n)s characters.") % {"n": MAX_NOTE}})


# Routes: forms on the incident page, answered by it


@post(BASE + "/visibility", opt={"permission": MODERATE}, include_in_schema=False)
async def report_visibility(
    request: Request[Any, Any, Any], incident_id: FromPath[int]
) -> Response[Any]:
    values, _ = await form_of(request)
    actor = acting(request).actor
    hidden = values.get("hidden") == "1"
    note = values.get("moderate_note", "")
    return await act(request, incident_id, lambda: set_hidden(incident_id, actor, hidden, note))


@post(
    BASE + "/photos/{attachment_id:int}/redact",
    opt={"permission": MODERATE},
    include_in_schema=False,
)
async def photo_redact(
    request: Request[Any, Any, Any], incident_id: FromPath[int], attachment_id: FromPath[int]
) -> Response[Any]:
    values, _ = await form_of(request)
    actor = acting(request).actor
    media = media_root(request.app.state.runtime.settings)
    note = values.get("moderate_note", "")
    return await act(
        request, incident_id, lambda: redact_photo(incident_id, attachment_id, actor, media, note)
    )


@post(BASE + "/text", opt={"permission": MODERATE}, include_in_schema=False)
async def report_text(request: Request[Any, Any, Any], incident_id: FromPath[int]) -> Response[Any]:
    values, _ = await form_of(request)
    actor = acting(request).actor
    title = values.get("moderate_title", "")
    description = values.get("moderate_description", "")
    return await act(
        request, incident_id, lambda: edit_text(incident_id, actor, title, description)
    )


@post(BASE + "/duplicate", opt={"permission": MODERATE}, include_in_schema=False)
async def report_duplicate(
    request: Request[Any, Any, Any], incident_id: FromPath[int]
) -> Response[Any]:
    values, _ = await form_of(request)
    principal = acting(request)
    code, note = values.get("duplicate_of", ""), values.get("duplicate_note", "")
    return await act(
        request, incident_id, lambda: merge_duplicate(incident_id, principal, code, note)
    )


@get("/field-reports/attachments/{attachment_id:int}", opt=VIEW, include_in_schema=False)
async def staff_attachment(
    request: Request[Any, Any, Any], attachment_id: FromPath[int]
) -> Response[bytes]:
    """Any attachment of an incident this staff member sees, redacted ones too."""
    row = await (
        Attachment.select(Attachment.path, Attachment.content_type, Attachment.incident)
        .where(Attachment.id == attachment_id)
        .first()
    )
    if row is None or not await can_see(acting(request), row["incident"]):
        raise NotFoundException()
    root = media_root(request.app.state.runtime.settings).resolve()
    path = (root / row["path"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFoundException()
    # Only the photo types are shown in the browser; anything else is a download.
    shown = row["content_type"] in {media for media, _ in FORMATS.values()}
    return Response(
        path.read_bytes(),
        media_type=row["content_type"] if shown else "application/octet-stream",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-cache",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Content-Disposition": "inline" if shown else "attachment",
        },
    )


ROUTES: list[Any] = [
    report_visibility,
    photo_redact,
    report_text,
    report_duplicate,
    staff_attachment,
]
