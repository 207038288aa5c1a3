"""Taking a citizen report in: one path for the portal and for Open311.

    report = await intake.submit(Submission(service_code="chieu-sang", lat=10.93, lon=108.1,
                                            description="Đèn hỏng"), limits)

Everything is checked first (the service, the place, each custom field, the contact) and every
problem is reported at once as a `FormError` keyed by field (`attribute[CODE]` for custom
fields); then the incident, the report, its photos and the reporter as follower are stored in
one transaction, so a refused or failed report leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from piccolo.querystring import QueryString

from field_reports.tables import IntakeAttempt, Report, Service, ServiceField
from ioc_core.auth.errors import FormError
from ioc_core.db import config_cache
from ioc_core.db.config_cache import ConfigCache
from ioc_core.db.postgres import NO_FLUSH
from ioc_core.geo import spatial
from ioc_core.i18n import gettext
from ioc_core.incidents import service as incidents
from ioc_core.incidents.tables import Attachment, Category, Incident, IncidentFollower
from ioc_core.incidents.workflow import OPEN_STATUSES

SOURCE = "field_reports"
ACTOR = "citizen"
MAX_DESCRIPTION = 4000  # GeoReport v2's limit
MAX_STRING = 500
TITLE_LENGTH = 80
# The dot-atom of RFC 5322 (letters of any script) at a host name: nothing that could close a
# quote or a tag, and no line break (\Z, not $) for a mail header.
EMAIL_RE = re.compile(r"\A[\w.!#$%&'*+/=?^`{|}~-]+@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}\Z")
PHONE_RE = re.compile(r"\A\+?[0-9 .-]{8,20}\Z")
# A web address as a link may carry it: no spaces, quotes or angle brackets left unescaped.
MEDIA_URL_RE = re.compile(r"\Ahttps?://[^\s<>\"`\\{}|^]+\Z")
# How often a process prunes the throttle's rows older than the window.
PRUNE_EVERY_S = 60.0
# When this process last pruned them (time.monotonic()), in a list so throttle() can set it.
_pruned = [-math.inf]


@dataclass(frozen=True)
class Limits:
    """The plugin's settings that bound the public intake."""

    # West, south, east, north: reports outside the city's box are refused.
    bounds: tuple[float, float, float, float]
    per_client: int
    window_s: int

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> Limits:
        west, south, east, north = (float(v) for v in settings["bounds"])
        return cls(
            (west, south, east, north), int(settings["rate_limit"]), int(settings["rate_window_s"])
        )


@dataclass(frozen=True)
class Photo:
    """A photo already checked and stripped of its metadata, stored under the media folder."""

    path: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Submission:
    service_code: str
    lat: float | None = None
    lon: float | None = None
    address: str = ""
    description: str = ""
    # Custom field code → the values sent (one, or several for a multivaluelist).
    attributes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    email: str = ""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""
    account_id: str = ""
    device_id: str = ""
    media_url: str = ""
    channel: str = "portal"
    api_key_id: int | None = None
    photos: Sequence[Photo] = ()


class TooManyReports(Exception):
    """The client sent more reports than the intake takes in its window."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many reports; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# The attempt is counted unless the client already has `limit` in the window: one statement,
# so a report costs one round trip here, not a transaction's four. On PostgreSQL its commit does
# not wait for the disk: an attempt lost in a server crash only loosens the limit for a minute.
_COUNT_ATTEMPT = (
    "INSERT INTO fr_intake_attempt (client, at) SELECT {{}}, {{}} WHERE NOT EXISTS ("
    " SELECT 1 FROM fr_intake_attempt WHERE client = {{}} AND at >= {{}}"
    " ORDER BY at DESC LIMIT 1 OFFSET {{}}"
    "){} RETURNING id"
)


async def throttle(client: str, limits: Limits) -> None:
    """Count this attempt; raise TooManyReports past the limit in the window. Every attempt
    counts, refused ones too: a flood of bad input is still a flood."""
    now = _now()
    since = now - dt.timedelta(seconds=limits.window_s)
    client = client[:128]
    no_flush = f" AND {NO_FLUSH}" if spatial.is_postgres() else ""
    counted = await spatial.run_query(
        QueryString(
            _COUNT_ATTEMPT.format(no_flush), client, now, client, since, limits.per_client - 1
        )
    )
    if not counted:
        # The limit-th newest attempt in the window: one row read, however many it holds.
        oldest = (
            await IntakeAttempt.select(IntakeAttempt.at)
            .where(IntakeAttempt.client == client, IntakeAttempt.at >= since)
            .order_by(IntakeAttempt.at, ascending=False)
            .offset(limits.per_client - 1)
            .first()
        )
        wait = oldest["at"] + dt.timedelta(seconds=limits.window_s) - now if oldest else None
        raise TooManyReports(max(1, math.ceil(wait.total_seconds())) if wait else 1)
    if time.monotonic() - _pruned[0] >= PRUNE_EVERY_S:
        # Rows older than the window decide nothing any more; a write per attempt to say
        # so would cost the intake a round trip each time.
        _pruned[0] = time.monotonic()
        await IntakeAttempt.delete().where(IntakeAttempt.at < since)


async def _public_services() -> dict[str, dict[str, Any]]:
    rows = await Service.select(
        Service.all_columns(),
        Service.category.code.as_alias("code"),
        Service.category.name_vi.as_alias("name_vi"),
        Service.category.name_en.as_alias("name_en"),
    ).where(Service.public.eq(True), Service.category.active.eq(True))
    return {row["code"]: row for row in rows}


async def _fields() -> dict[int, list[dict[str, Any]]]:
    rows = await (
        ServiceField.select()
        .order_by(ServiceField.position)
        .order_by(ServiceField.id)
        .output(load_json=True)
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["service"], []).append(row)
    return found


# Read on every report: kept per process until services, fields or categories change.
_PUBLIC_SERVICES = ConfigCache(_public_services)
_FIELDS = ConfigCache(_fields)


async def public_service(code: str) -> dict[str, Any] | None:
    """The service with this code if citizens may use it: its row with the category's names
    (shared: read it, do not change it)."""
    return (await _PUBLIC_SERVICES.get()).get(code)


async def fields_of(service_id: int) -> list[dict[str, Any]]:
    """The service's custom fields in their order (shared: read them, do not change them)."""
    return (await _FIELDS.get()).get(service_id, [])


def clean_attributes(
    fields: Sequence[Mapping[str, Any]], raw: Mapping[str, Sequence[str]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each custom field's value as stored (str, float, ISO datetime, key, or list of keys), and
    the errors, keyed `attribute[CODE]`."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    known = {f["code"] for f in fields}
    for code in sorted(set(raw) - known):
        errors[f"attribute[{code}]"] = gettext("This service has no field %(code)s.") % {
            "code": code
        }
    for spec in fields:
        key = f"attribute[{spec['code']}]"
        given = [v.strip() for v in raw.get(spec["code"], ()) if v.strip()]
        if not given:
            if spec["required"]:
                errors[key] = gettext("%(label)s is required.") % {"label": spec["label_vi"]}
            continue
        try:
            values[spec["code"]] = _value(spec, given)
        except ValueError as exc:
            errors[key] = str(exc)
    return values, errors


def _value(spec: Mapping[str, Any], given: list[str]) -> Any:
    datatype = spec["datatype"]
    if datatype == "multivaluelist":
        keys = {o["key"] for o in spec["options"]}
        if not set(given) <= keys:
            raise ValueError(gettext("Choose from the list."))
        return sorted(set(given), key=given.index)
    if len(given) > 1:
        raise ValueError(gettext("Give one value."))
    value = given[0]
    if datatype == "singlevaluelist":
        if value not in {o["key"] for o in spec["options"]}:
            raise ValueError(gettext("Choose from the list."))
        return value
    if datatype == "number":
        try:
            number = float(value.replace(",", "."))
        except ValueError:
            raise ValueError(gettext("Give a number.")) from None
        if not math.isfinite(number):
            raise ValueError(gettext("Give a number."))
        return number
    if datatype == "datetime":
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(gettext("Give a date and time like 2027-01-15T08:30.")) from None
        return moment.isoformat()
    limit = MAX_DESCRIPTION if datatype == "text" else MAX_STRING
    if len(value) > limit:
        raise ValueError(gettext("At most %(n)s characters.") % {"n": limit})
    return value


def _check_place(sub: Submission, limits: Limits, errors: dict[str, str]) -> None:
    if sub.lat is None or sub.lon is None:
        if (sub.lat is None) != (sub.lon is None):
            errors["location"] = gettext("Give both latitude and longitude.")
        elif not sub.address.strip():
            errors["location"] = gettext("Give the place: a point on the map or an address.")
        return
    finite = math.isfinite(sub.lat) and math.isfinite(sub.lon)
    if not (finite and abs(sub.lat) <= 90 and abs(sub.lon) <= 180):
        errors["location"] = gettext("Longitude must be within ±180 and latitude within ±90.")
        return
    west, south, east, north = limits.bounds
    if not (west <= sub.lon <= east and south <= sub.lat <= north):
        errors["location"] = gettext("This place is outside the city.")


def _check_contact(sub: Submission, errors: dict[str, str]) -> None:
    if sub.email and (len(sub.email) > 254 or not EMAIL_RE.match(sub.email)):
        errors["email"] = gettext("Give an e-mail address like ten@example.vn.")
    if sub.phone and not PHONE_RE.match(sub.phone):
        errors["phone"] = gettext("Give a phone number like 0901 234 567.")
    for name, value, limit in (
        ("first_name", sub.first_name, 100),
        ("last_name", sub.last_name, 100),
        ("account_id", sub.account_id, 64),
        ("device_id", sub.device_id, 128),
        ("media_url", sub.media_url, 500),
        ("address", sub.address, 500),
    ):
        if len(value) > limit:
            errors[name] = gettext("At most %(n)s characters.") % {"n": limit}
    if sub.media_url and not MEDIA_URL_RE.match(sub.media_url):
        errors["media_url"] = gettext(
            "Give a web address starting with https://, without spaces, quotes or angle brackets."
        )


async def check(sub: Submission, limits: Limits) -> tuple[dict[str, Any], dict[str, Any]]:
    """Everything a report must satisfy, every problem at once (FormError); the service and
    the cleaned custom field values. Stores nothing."""
    errors: dict[str, str] = {}
    service = await public_service(sub.service_code)
    attributes: dict[str, Any] = {}
    if not sub.service_code:
        errors["service_code"] = gettext("Choose a service.")
    elif service is None:
        errors["service_code"] = gettext("No service %(code)s.") % {"code": sub.service_code}
    else:
        attributes, field_errors = clean_attributes(await fields_of(service["id"]), sub.attributes)
        errors |= field_errors
    _check_place(sub, limits, errors)
    if len(sub.description) > MAX_DESCRIPTION:
        errors["description"] = gettext("At most %(n)s characters.") % {"n": MAX_DESCRIPTION}
    _check_contact(sub, errors)
    if errors:
        raise FormError(errors)
    assert service is not None
    return service, attributes


async def submit(sub: Submission, limits: Limits) -> tuple[Incident, Report]:
    """Check everything, then store the report with its incident, all or nothing."""
    async with config_cache.pinned():
        return await _submit(sub, limits)


async def _submit(sub: Submission, limits: Limits) -> tuple[Incident, Report]:
    service, attributes = await check(sub, limits)
    created: list[Report] = []

    async def store(incident: Incident) -> None:
        report = Report(
            incident=incident.id,
            token=secrets.token_urlsafe(18),
            channel=sub.channel,
            api_key=sub.api_key_id,
            attributes=attributes,
            email=sub.email,
            phone=sub.phone,
            account_id=sub.account_id,
            device_id=sub.device_id,
            media_url=sub.media_url,
            created_at=incident.created_at,
        )
        await report.save()
        created.append(report)
        for photo in sub.photos:
            await Attachment.insert(
                Attachment(
                    incident=incident.id,
                    path=photo.path,
                    content_type=photo.content_type,
                    size=photo.size,
                    public=True,
                    created_at=incident.created_at,
                )
            )
        if sub.email:
            await IncidentFollower.insert(
                IncidentFollower(incident=incident.id, email=sub.email, created_at=_now())
            )

    name = " ".join(p for p in (sub.first_name.strip(), sub.last_name.strip()) if p)
    incident = await incidents.create_incident(
        incidents.NewIncident(
            source=SOURCE,
            title=_title(service["name_vi"], sub),
            description=sub.description,
            category=sub.service_code,
            lon=sub.lon,
            lat=sub.lat,
            address=sub.address.strip(),
            reporter_name=name,
            reporter_contact=sub.email or sub.phone,
        ),
        ACTOR,
        then=store,
    )
    return incident, created[0]


def _title(service_name: str, sub: Submission) -> str:
    text = " ".join(sub.description.split()) or sub.address.strip()
    if len(text) > TITLE_LENGTH:
        text = text[: TITLE_LENGTH - 1].rstrip() + "…"
    return f"{service_name}: {text}" if text else service_name


async def possible_duplicates(service_code: str, lon: float, lat: float) -> list[dict[str, Any]]:
    """Open reports of the same service near this point, filed within the service's window,
    nearest first: what a citizen is offered to follow instead of filing again."""
    service = await public_service(service_code)
    if service is None:
        return []
    category = await Category.select(Category.id).where(Category.code == service_code).first()
    assert category is not None
    since = _now() - dt.timedelta(hours=service["duplicate_window_h"])
    hidden = Report.select(Report.incident).where(Report.hidden.eq(True))
    ids = await spatial.within_radius(
        lon,
        lat,
        service["duplicate_radius_m"],
        where=(Incident.category == category["id"])
        & Incident.status.is_in(list(OPEN_STATUSES))
        & (Incident.created_at >= since)
        & Incident.id.not_in(hidden),
    )
    if not ids:
        return []
    rows = await Incident.select(
        Incident.id, Incident.code, Incident.title, Incident.status, Incident.created_at
    ).where(Incident.id.is_in(ids))
    order = {incident_id: i for i, incident_id in enumerate(ids)}
    return sorted(rows, key=lambda r: order[r["id"]])
