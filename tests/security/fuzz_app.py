"""The platform the API fuzz runs against: field_reports enabled, seeded, and three callers.

Every route of every plugin is put in the OpenAPI schema the fuzz reads, not only the machine
API the published schema documents: the staff pages and the citizen portal take path and query
parameters from anyone too, and a 500 there is as much a defect as on the API.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from field_reports.intake import Limits, Submission, submit
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

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
CSRF_FORM_FIELD = "_csrf_token"
# A form field's text, as far as the schema tells: no control characters (a request with one
# is refused before any handler, see ioc_core.web.forms; negative cases still send them).
TEXT = {"type": "string", "pattern": "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ufffe\\uffff]*$"}
# Pages the form crawl visits at most.
PAGES = 150


@dataclass
class Caller:
    """Who sends the fuzzed requests: the headers and cookies every one of theirs carries."""

    name: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)


@dataclass
class Seeded:
    admin_id: int
    password_hash: str
    key_id: int
    key: str
    # Each report's ticket code and the token of its private link.
    reports: list[tuple[str, str]]
    incident_ids: list[int]
    services: list[str]

    def tracking_links(self) -> list[str]:
        return [f"/track/{code}?token={token}" for code, token in self.reports]

    def open311_names(self) -> dict[str, list[dict[str, str]]]:
        """Path values of the Open311 routes that name real services, requests and tokens."""
        return {
            "GET /open311/v2/services/{name}": [{"name": f"{s}.json"} for s in self.services],
            "GET /open311/v2/requests/{name}": [{"name": f"{c}.xml"} for c, _ in self.reports],
            "GET /open311/v2/tokens/{name}": [{"name": f"{t}.json"} for _, t in self.reports],
        }


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
    reports, ids = [], []
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
        reports.append((incident.code, report.token))
        ids.append(incident.id)
    plain = await incidents.create_incident(
        incidents.NewIncident("fuzz", "Cây đổ", lon=PHAN_THIET[0], lat=PHAN_THIET[1]), "fuzz"
    )
    ids.append(plain.id)
    await incidents.assign(ids[0], "fuzz", department_id=services.works, assignee_id=admin.id)
    await incidents.change_status(ids[1], "triaged", "fuzz")
    await incidents.assign(ids[2], "fuzz", department_id=services.works)
    await incidents.change_status(ids[2], "resolved", "fuzz")
    services = ["chieu-sang", "rac-thai"]
    return Seeded(admin.id, admin.password_hash, row.id, key, reports, ids, services)


async def restore(runtime: Runtime, seeded: Seeded, session_token: str) -> str | None:
    """Undo what a fuzzed request did to the callers themselves and the platform they call
    (revoked the key, took the administrator's role or password, ended the session, disabled
    field_reports); a new session token when the old one is gone."""
    if not await runtime.states.is_enabled("field_reports"):
        await lifecycle.enable(runtime.registry, "field_reports", "fuzz")
    await ApiKey.update({ApiKey.revoked_at: None}).where(ApiKey.id == seeded.key_id)
    await User.update(
        {User.is_active: True, User.totp_secret: None, User.password_hash: seeded.password_hash}
    ).where(User.id == seeded.admin_id)
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


class _Forms(HTMLParser):
    """The links of a page and its forms: method, action, media type, and each field's name
    with whether it takes a file."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = {k: v or "" for k, v in attrs}
        if tag == "a" and given.get("href", "").startswith("/"):
            self.links.append(html.unescape(given["href"]))
        elif tag == "form":
            multipart = "multipart" in given.get("enctype", "") + given.get("hx-encoding", "")
            self._form = {
                "method": given.get("method", "get").upper(),
                "action": html.unescape(given.get("action") or given.get("hx-post", "")),
                "multipart": multipart,
                "fields": {},
            }
            self.forms.append(self._form)
        elif tag in ("input", "select", "textarea") and self._form is not None:
            name = given.get("name", "")
            if name and name != CSRF_FORM_FIELD:
                self._form["fields"][name] = given.get("type") == "file"

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


@dataclass
class Crawl:
    """What a visit of the pages found, per operation ("METHOD /path/{param}"): the form
    fields it is sent (name → takes a file) and in which media type, the query names of its
    links, and the path parameters of the real objects its links named."""

    fields: dict[str, dict[str, bool]] = field(default_factory=dict)
    multipart: set[str] = field(default_factory=set)
    query: dict[str, set[str]] = field(default_factory=dict)
    values: dict[str, list[dict[str, str]]] = field(default_factory=dict)


def _matcher(paths: list[str]) -> Callable[[str], tuple[str, dict[str, str]] | None]:
    """The operation path a concrete path is, and its parameters; the most literal wins."""
    patterns = sorted(
        (
            (
                path.count("{"),
                path,
                re.compile("^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$"),
            )
            for path in paths
        ),
        key=lambda p: (p[0], p[1]),
    )

    def match(concrete: str) -> tuple[str, dict[str, str]] | None:
        for _, path, pattern in patterns:
            found = pattern.match(concrete)
            if found:
                return path, found.groupdict()
        return None

    return match


def crawl(
    client: TestClient[Litestar],
    cookies: dict[str, str],
    schema: dict[str, Any],
    starts: list[str],
    limit: int = PAGES,
) -> Crawl:
    """Visit the pages reachable from `starts` as the caller with `cookies` (at most `limit`,
    one per operation and parameter values), and note what each form and link sends."""
    match = _matcher(list(schema["paths"]))
    found = Crawl()
    queue, visited = list(starts), set()
    while queue and len(visited) < limit:
        url = queue.pop(0)
        path, _, query = url.partition("?")
        target = match(path)
        if target is None or url in visited or "GET" not in _methods(schema, target[0]):
            continue
        visited.add(url)
        client.cookies.clear()
        client.cookies.update(cookies)
        response = client.get(url, follow_redirects=False)
        _note(found, f"GET {target[0]}", target[1], parse_qs(query))
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        parser = _Forms()
        parser.feed(response.text)
        queue += [link for link in parser.links if link not in visited]
        for form in parser.forms:
            action = form["action"] or path
            aimed = match(action.partition("?")[0])
            if aimed is None or form["method"] not in _methods(schema, aimed[0]):
                continue
            operation = f"{form['method']} {aimed[0]}"
            _note(found, operation, aimed[1], {})
            if form["method"] == "GET":
                found.query.setdefault(operation, set()).update(form["fields"])
            else:
                found.fields.setdefault(operation, {}).update(form["fields"])
                if form["multipart"]:
                    found.multipart.add(operation)
    return found


def _methods(schema: dict[str, Any], path: str) -> set[str]:
    return {m.upper() for m in schema["paths"][path]}


def _note(found: Crawl, operation: str, params: dict[str, str], query: dict[str, Any]) -> None:
    named = {name: unquote(value) for name, value in params.items()}
    if named and named not in found.values.setdefault(operation, []):
        found.values[operation].append(named)
    if query:
        found.query.setdefault(operation, set()).update(query)


def describe_forms(schema: dict[str, Any], found: Crawl) -> None:
    """Write into `schema` what the pages showed and their handlers read without Litestar
    knowing: form bodies and query parameters."""
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            parameters = operation.setdefault("parameters", [])
            declared = {p["name"] for p in parameters}
            for name in sorted(found.query.get(label, set()) - declared - {CSRF_FORM_FIELD}):
                parameters.append({"name": name, "in": "query", "schema": {"type": "string"}})
            fields = found.fields.get(label)
            if fields and "requestBody" not in operation:
                properties = {
                    name: {"type": "string", "format": "binary"} if is_file else TEXT
                    for name, is_file in sorted(fields.items())
                }
                media = (
                    "multipart/form-data"
                    if label in found.multipart
                    else "application/x-www-form-urlencoded"
                )
                operation["requestBody"] = {
                    "required": True,
                    "content": {media: {"schema": {"type": "object", "properties": properties}}},
                }
