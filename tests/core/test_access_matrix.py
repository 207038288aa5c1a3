"""Who may call every route, generated from the app's route table: a route added by any plugin
is checked here without editing this file.

For each (method, path) a plugin serves, from what its handler's `opt` declares:
- public: an anonymous caller is not refused (not 401/403);
- permission P: anonymous gets 401 (JSON) or 303 to /login (an HTML GET); a signed-in user and
  an API key holding every known permission but P get 403 naming P; a signed-in user holding
  only P (an API key, on routes that take only keys) is let through a GET or HEAD; P is a
  permission some plugin declares. Routes that take only API keys refuse a session.

One user signs in once and is moved between roles (one lacking P, one with only P, for each P):
the principal is read from the database on every request, so the next request sees the change.
Every request carries a valid CSRF token, so a 403 here is about access, never about CSRF; the
detail text says which.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from litestar import Litestar, delete, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath
from litestar.testing import TestClient

from ioc_core.auth import sessions
from ioc_core.auth.apikeys import create_api_key
from ioc_core.auth.tables import Role, RolePermission, UserRole
from ioc_core.auth.users import create_user
from ioc_core.hookspecs import hookimpl
from ioc_core.plugins import lifecycle
from ioc_core.plugins.spec import Permission, PluginSpec
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings
from ioc_core.web.app import create_app
from tests.helpers import run

PASSWORD = "Den-giao-thong-42"
SIGN_IN_TO_CONTINUE = "Hãy đăng nhập để tiếp tục."
API_KEY_ONLY = "Địa chỉ này chỉ nhận khóa API."
SAFE_METHODS = {"GET", "HEAD"}
# A plausible value for each kind of path parameter Litestar knows.
SAMPLE_VALUES = {
    "str": "x",
    "path": "x",
    "int": "1",
    "float": "1.5",
    "decimal": "1.5",
    "uuid": "00000000-0000-4000-8000-000000000001",
    "date": "2026-01-01",
    "datetime": "2026-01-01T00:00:00",
    "time": "12:00:00",
    "timedelta": "60",
}
PATH_PARAMETER = re.compile(r"\{(\w+):(\w+)\}")


def lacking(permission: str) -> str:
    return f"Bạn không có quyền {permission}."


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    url: str
    plugin: str
    permission: str | None  # None: public
    api_key_only: bool

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.plugin}: {self.permission or 'public'}]"


@dataclass(frozen=True)
class Problem:
    endpoint: Endpoint
    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.check}: {self.detail}"


def sample_url(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        kind = match.group(2)
        assert kind in SAMPLE_VALUES, f"{path}: add a sample value for {kind} path parameters"
        return SAMPLE_VALUES[kind]

    return PATH_PARAMETER.sub(value, path)


def endpoints(app: Litestar) -> list[Endpoint]:
    """Every (method, path) a plugin serves, with the access its handler declares."""
    found = []
    for route in app.routes:
        for handler in route.route_handlers:
            opt = handler.opt
            if "plugin" not in opt:
                continue  # Litestar's own routes: the OpenAPI schema
            methods = getattr(handler, "http_methods", None)
            assert methods, f"{route.path} is not an HTTP route: extend the access matrix for it"
            for method in sorted(set(methods) - {"OPTIONS"}):
                found.append(
                    Endpoint(
                        method=method,
                        path=route.path,
                        url=sample_url(route.path),
                        plugin=opt["plugin"],
                        permission=None if opt.get("public") else opt.get("permission", ""),
                        api_key_only=bool(opt.get("exclude_from_csrf")),
                    )
                )
    return found


@dataclass
class Callers:
    """One signed-in user, moved between roles: for each checked permission P, a role holding
    every known permission but P and a role holding only P. API keys likewise."""

    user_id: int
    session: str
    role_without: dict[str, int] = field(default_factory=dict)
    role_only: dict[str, int] = field(default_factory=dict)
    key_without: dict[str, str] = field(default_factory=dict)
    key_only: dict[str, str] = field(default_factory=dict)


async def make_callers(known: Collection[str], checked: list[str]) -> Callers:
    role_without: dict[str, int] = {}
    role_only: dict[str, int] = {}
    keys_without: dict[str, str] = {}
    keys_only: dict[str, str] = {}
    for index, permission in enumerate(checked):
        others = sorted(set(known) - {permission})
        role_without[permission] = await make_role(f"matrix_without_{index}", others)
        role_only[permission] = await make_role(f"matrix_only_{index}", [permission])
        _, keys_without[permission] = await create_api_key(
            f"without-{index}", others, "test", known
        )
        _, keys_only[permission] = await create_api_key(
            f"only-{index}", [permission], "test", known
        )
    user = await create_user("matrix", PASSWORD, roles=[], actor="test")
    if checked:  # the row give_only_role changes
        await UserRole.insert(UserRole(user=user.id, role=role_only[checked[0]]))
    token, pending = await sessions.sign_in("matrix", PASSWORD, "matrix")
    assert not pending
    return Callers(user.id, token, role_without, role_only, keys_without, keys_only)


async def make_role(name: str, grants: list[str]) -> int:
    role = Role(name=name, title_vi=name)
    await role.save()
    if grants:
        await RolePermission.insert(*[RolePermission(role=role.id, permission=p) for p in grants])
    return int(role.id)


class Caller:
    """Requests as one principal at a time, each with a valid CSRF cookie and header."""

    def __init__(self, client: TestClient[Litestar], callers: Callers) -> None:
        self.client = client
        self.callers = callers
        client.follow_redirects = False
        client.get("/login")
        token = client.cookies.get("ioc_csrf")
        assert token, "GET /login sets the CSRF cookie"
        self.csrf = token

    def __call__(
        self,
        endpoint: Endpoint,
        *,
        html: bool = False,
        signed_in: bool = False,
        api_key: str | None = None,
    ) -> httpx.Response:
        cookies = self.client.cookies
        cookies.clear()
        cookies.set("ioc_csrf", self.csrf)
        if signed_in:
            cookies.set("ioc_session", self.callers.session)
        headers = {"accept": "text/html" if html else "application/json", "x-csrftoken": self.csrf}
        if api_key:
            headers["x-api-key"] = api_key
        return self.client.request(endpoint.method, endpoint.url, headers=headers)

    def give_only_role(self, role_id: int) -> None:
        """The signed-in user's only role becomes `role_id`, from the next request on."""
        query = UserRole.update({UserRole.role: role_id}).where(
            UserRole.user == self.callers.user_id
        )
        # On the app's event loop, where PostgreSQL's connection pool lives.
        self.client.blocking_portal.call(query.run)


def detail(response: httpx.Response) -> str | None:
    try:
        return response.json().get("detail")
    except ValueError:
        return None


class Checks:
    """The expected answers for one endpoint; what differs becomes a Problem naming it."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.problems: list[Problem] = []

    def answers(self, who: str, response: httpx.Response, status: int, text: str) -> None:
        head = self.endpoint.method == "HEAD"  # no body to read the detail from
        got = (response.status_code, None if head else detail(response))
        wanted = (status, None if head else text)
        if got != wanted:
            self.fail(who, f"expected {wanted}, got {got}")

    def lets_through(self, who: str, response: httpx.Response) -> None:
        if response.status_code in (401, 403, 500):
            self.fail(
                who, f"expected to be let through, got {response.status_code} {detail(response)}"
            )

    def fail(self, who: str, what: str) -> None:
        self.problems.append(Problem(self.endpoint, who, what))


def check_without_session(
    endpoint: Endpoint, call: Caller, known: Collection[str]
) -> list[Problem]:
    """Anonymous callers, public routes, the declared permission, API keys."""
    checks = Checks(endpoint)
    permission = endpoint.permission
    if permission is None:
        answer = call(endpoint)
        crashed = endpoint.method in SAFE_METHODS and answer.status_code == 500
        if answer.status_code in (401, 403) or crashed:
            checks.fail("anonymous", f"public, got {answer.status_code} {detail(answer)}")
        return checks.problems

    checks.answers("anonymous", call(endpoint), 401, SIGN_IN_TO_CONTINUE)
    if endpoint.method == "GET":
        page = call(endpoint, html=True)
        got = (page.status_code, page.headers.get("location"))
        wanted = (303, f"/login?next={endpoint.url}")
        if got != wanted:
            checks.fail("anonymous browser", f"expected {wanted}, got {got}")
    if permission not in known:
        checks.fail("unknown permission", f"{permission!r} is declared by no plugin")
        return checks.problems
    key_without = call.callers.key_without[permission]
    checks.answers(
        "API key without it", call(endpoint, api_key=key_without), 403, lacking(permission)
    )
    if endpoint.api_key_only and endpoint.method in SAFE_METHODS:
        checks.lets_through(
            "API key with only it", call(endpoint, api_key=call.callers.key_only[permission])
        )
    return checks.problems


def check_as_user(endpoint: Endpoint, call: Caller, holds_it: bool) -> list[Problem]:
    """The signed-in user, whose only role holds every known permission but the endpoint's
    (`holds_it` False) or only the endpoint's (`holds_it` True). A caller allowed to change
    state is never sent a state-changing request: it would change what the next checks see."""
    checks = Checks(endpoint)
    permission = endpoint.permission
    assert permission is not None
    if endpoint.api_key_only:
        if holds_it:
            answer = call(endpoint, signed_in=True)
            checks.answers("user on an API-key route", answer, 403, API_KEY_ONLY)
    elif not holds_it:
        answer = call(endpoint, signed_in=True)
        checks.answers("user without it", answer, 403, lacking(permission))
    elif endpoint.method in SAFE_METHODS:
        checks.lets_through("user with only it", call(endpoint, signed_in=True))
    return checks.problems


def run_matrix(
    runtime: Runtime, plugins: Collection[str] | None = None
) -> tuple[list[Endpoint], list[Problem]]:
    """Check every endpoint of the app (of `plugins` only, when given)."""
    app = create_app(runtime=runtime)
    found = [e for e in endpoints(app) if plugins is None or e.plugin in plugins]
    known = set(runtime.registry.permissions)
    checked = sorted({e.permission for e in found if e.permission in known})
    callers = run(make_callers(known, checked))
    problems: list[Problem] = []
    with TestClient(app, raise_server_exceptions=False) as client:
        call = Caller(client, callers)
        for endpoint in found:
            problems += check_without_session(endpoint, call, known)
        for permission in checked:
            guarded = [e for e in found if e.permission == permission]
            for role, holds_it in ((callers.role_without, False), (callers.role_only, True)):
                call.give_only_role(role[permission])
                for endpoint in guarded:
                    problems += check_as_user(endpoint, call, holds_it)
    for endpoint in found:
        print(endpoint)
    print(f"{len(found)} endpoints checked, {len(checked)} permissions, {len(problems)} problems")
    return found, problems


def test_every_route_answers_as_its_access_declares(runtime: Runtime) -> None:
    # Enabled plugins' routes answer; a disabled one's answer 404 and would prove nothing.
    for plugin in ("sample_addon", "field_reports"):
        run(lifecycle.enable(runtime.registry, plugin, "test"))
    found, problems = run_matrix(runtime)

    checked = {(e.method, e.path): e.permission for e in found}
    assert len(found) > 0
    # The matrix reaches built-in, plugin and public routes (and their access as declared).
    assert checked[("GET", "/")] == "portal.view"
    assert checked[("POST", "/profile/password")] == "auth.profile"
    assert checked[("POST", "/sample-reports")] == "sample_reports.view"
    assert checked[("GET", "/sample-addon/ping")] is None
    assert checked[("POST", "/open311/v2/{name:str}")] == "field_reports.submit"
    assert checked[("POST", "/login")] is None
    assert not any(path.startswith("/schema") for _, path in checked), "not a plugin's"
    assert not problems, "\n".join(map(str, problems))


def probe_plugin() -> ModuleType:
    """A plugin registered in code: routes of every shape the matrix must handle, and two
    mistakes it must report."""
    module = ModuleType("test_plugin_probe")
    module.SPEC = PluginSpec(
        name="probe",
        title_vi="probe",
        title_en="probe",
        version="1.0",
        permissions=tuple(
            Permission(f"probe.{action}", action, action) for action in ("view", "edit", "sync")
        ),
    )

    @get("/probe/items/{item_id:int}", opt={"permission": "probe.view"}, sync_to_thread=False)
    def item(item_id: FromPath[int]) -> dict[str, int]:
        return {"id": item_id}

    @delete("/probe/items/{item_id:int}", opt={"permission": "probe.edit"}, sync_to_thread=False)
    def remove(item_id: FromPath[int]) -> None:
        return None

    api_key_only = {"permission": "probe.sync", "exclude_from_csrf": True}

    @post("/probe/sync", opt=api_key_only, sync_to_thread=False)
    def sync() -> dict[str, str]:
        return {"synced": "yes"}

    @get("/probe/files/{name:path}", opt={"public": True}, sync_to_thread=False)
    def files(name: FromPath[Path]) -> dict[str, str]:
        return {"name": str(name)}

    def also_edit(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = connection.scope.get("user")
        if principal is None or not principal.can("probe.edit"):
            raise PermissionDeniedException("probe.edit")

    # Mistake 1: declares probe.view, but its own guard also wants probe.edit.
    @get("/probe/report", opt={"permission": "probe.view"}, guards=[also_edit])
    async def report() -> dict[str, str]:
        return {"report": "ok"}

    @hookimpl
    def route_handlers() -> list[Any]:
        return [item, remove, sync, files, report]

    module.route_handlers = route_handlers
    return module


def test_a_new_plugin_route_is_checked_and_mistakes_are_named(settings: Settings) -> None:
    built = build_runtime(settings, extra_plugins=[probe_plugin()])
    run(lifecycle.migrate_enabled(built.registry))
    run(lifecycle.enable(built.registry, "probe", "test"))
    found, problems = run_matrix(built, plugins={"probe"})

    assert {(e.method, e.path, e.url) for e in found} == {
        ("GET", "/probe/items/{item_id:int}", "/probe/items/1"),
        ("DELETE", "/probe/items/{item_id:int}", "/probe/items/1"),
        ("POST", "/probe/sync", "/probe/sync"),
        ("GET", "/probe/files/{name:path}", "/probe/files/x"),
        ("GET", "/probe/report", "/probe/report"),
    }
    reported = sorted((p.endpoint.method, p.endpoint.path, p.check) for p in problems)
    assert reported == [
        ("GET", "/probe/report", "user with only it"),
    ], "\n".join(map(str, problems))
