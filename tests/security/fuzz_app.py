"""The platform the API fuzz runs against: field_reports enabled, seeded, and three callers.

Every route of every plugin is put in the OpenAPI schema the fuzz reads, not only the machine
API the published schema documents: the staff pages and the citizen portal take path and query
parameters from anyone too, and a 500 there is as much a defect as on the API.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from field_reports.intake import Limits, Submission, submit
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.routes import HTTPRoute

from ioc_core.auth.apikeys import create_api_key
from ioc_core.auth.sessions import sign_in
from ioc_core.auth.tables import ApiKey, Role, Session, User, UserRole
from ioc_core.auth.tokens import digest
from ioc_core.auth.users import create_user
from ioc_core.geo.areas import import_areas
from ioc_core.incidents import service as incidents
from ioc_core.plugins import lifecycle
from ioc_core.runtime import Runtime
from tests.helpers import STAFF_PASSWORD
from tests.plugins.field_reports.conftest import PHAN_THIET, seed_services

WARDS = Path(__file__).resolve().parents[1] / "geo" / "fixtures" / "wards.geojson"
ADMIN = "fuzz-admin"
SESSION_COOKIE = "ioc_session"
CSRF_COOKIE = "ioc_csrf"
CSRF_HEADER = "x-csrftoken"


@dataclass
class Caller:
    """Who sends the fuzzed requests: the headers and cookies every one of theirs carries."""

    name: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)


@dataclass
class Seeded:
    admin_id: int
    key_id: int
    key: str
    report_tokens: list[str]
    incident_ids: list[int]


async def seed(runtime: Runtime) -> Seeded:
    """Departments, services, wards, an administrator, an all-powerful API key, a staff
    officer, reports filed through the intake and plain incidents, so that small ids hit
    real rows."""
    await lifecycle.enable(runtime.registry, "field_reports", "fuzz")
    services = await seed_services()
    await import_areas(WARDS)
    admin = await create_user(ADMIN, STAFF_PASSWORD, roles=["admin"], actor="fuzz")
    await create_user(
        "fuzz-officer", STAFF_PASSWORD, roles=["officer"], departments=["qldt"], actor="fuzz"
    )
    known = sorted(runtime.registry.permissions)
    row, key = await create_api_key("fuzz client", known, "fuzz", known)
    limits = Limits.of(runtime.registry.plugin_settings("field_reports"))
    tokens, ids = [], []
    for n in range(3):
        incident, report = await submit(
            Submission(
                service_code="rac-thai",
                lat=PHAN_THIET[1] + n * 0.001,
                lon=PHAN_THIET[0],
                description=f"Rác chưa thu gom {n}",
                email=f"dan{n}@example.org",
                channel="portal",
            ),
            limits,
        )
        tokens.append(report.token)
        ids.append(incident.id)
    plain = await incidents.create_incident(
        incidents.NewIncident("fuzz", "Cây đổ", lon=PHAN_THIET[0], lat=PHAN_THIET[1]), "fuzz"
    )
    ids.append(plain.id)
    await incidents.assign(ids[0], "fuzz", department_id=services.works, assignee_id=admin.id)
    await incidents.change_status(ids[1], "triaged", "fuzz")
    return Seeded(admin.id, row.id, key, tokens, ids)


async def restore(seeded: Seeded, session_token: str) -> str | None:
    """Undo what a fuzzed request did to the callers themselves (revoked their key, took the
    administrator's role, ended the session); a new session token when the old one is gone."""
    await ApiKey.update({ApiKey.revoked_at: None}).where(ApiKey.id == seeded.key_id)
    await User.update({User.is_active: True, User.totp_secret: None}).where(
        User.id == seeded.admin_id
    )
    admin_role = await Role.select(Role.id).where(Role.name == "admin").first()
    assert admin_role is not None
    linked = await UserRole.exists().where(
        (UserRole.user == seeded.admin_id) & (UserRole.role == admin_role["id"])
    )
    if not linked:
        await UserRole.insert(UserRole(user=seeded.admin_id, role=admin_role["id"]))
    if await Session.exists().where(
        (Session.token_hash == digest(session_token)) & (Session.expires_at > _now())
    ):
        return None
    token, _ = await sign_in(ADMIN, STAFF_PASSWORD, "127.0.0.1")
    return token


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def document_every_route(app: Litestar) -> None:
    """Put every plugin route in the app's OpenAPI schema, as its own handler describes it.

    Litestar settles `include_in_schema` when the app is built, hands the routes it includes
    to its OpenAPI plugin then, and writes the schema once, on first use: settle it again,
    hand over the rest, and forget the schema written so far."""
    openapi = app.plugins.get(OpenAPIPlugin)
    for route in app.routes:
        handlers = [h for h in route.route_handlers if "plugin" in h.opt]
        if not isinstance(route, HTTPRoute) or not handlers:
            continue
        for handler in handlers:
            handler._resolved_include_in_schema = True
        openapi.receive_route(route)
    openapi._openapi_schema = None
