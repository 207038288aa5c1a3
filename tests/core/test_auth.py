"""Signing in and out, the throttle, TOTP, CSRF, API keys, the auth commands, languages,
and permissions checked at start-up: against the database under test, through the real app."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from types import ModuleType
from typing import Any, TypeVar

import httpx
import pyotp
import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from ioc_core.auth.apikeys import create_api_key, revoke_api_key
from ioc_core.auth.errors import AuthError
from ioc_core.auth.permissions import collect_permissions
from ioc_core.auth.tables import ApiKey, LoginFailure, Session, User, UserRole
from ioc_core.auth.users import Membership, create_user, update_user
from ioc_core.hookspecs import hookimpl
from ioc_core.plugins import lifecycle
from ioc_core.plugins.registry import PluginError, load_plugins
from ioc_core.plugins.spec import Permission, PluginSpec
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings
from ioc_core.web.app import create_app
from tests.helpers import in_app, run
from tests.processes import IOC, ioc

T = TypeVar("T")
PASSWORD = "Den-giao-thong-42"
HTML = {"accept": "text/html"}
JSON = {"accept": "application/json"}
# Where the test client's requests come from, as the throttle records it.
CLIENT_ADDRESS = "testclient"
WRONG_CREDENTIALS = "Sai tên đăng nhập hoặc mật khẩu."
TOO_MANY = "Đăng nhập sai quá nhiều lần. Hãy thử lại sau 15 phút."
SIGN_IN_TO_CONTINUE = "Hãy đăng nhập để tiếp tục."
DEFAULT_ROLES = "admin, dispatcher, leader, officer, viewer"


@contextmanager
def browser(app: Litestar, **kwargs: Any) -> Iterator[TestClient[Litestar]]:
    """A test client that shows redirects instead of following them."""
    with TestClient(app, **kwargs) as client:
        client.follow_redirects = False
        yield client


@contextmanager
def other_browser(client: TestClient[Litestar], **cookies: str) -> Iterator[None]:
    """Requests from a browser holding only `cookies`, then back to the client's own jar."""
    saved = client.cookies
    client.cookies = httpx.Cookies(cookies)
    try:
        yield
    finally:
        client.cookies = saved


def csrf_token(client: TestClient[Litestar]) -> str:
    """The token every form carries; the CSRF cookie set by the first page."""
    if client.cookies.get("ioc_csrf") is None:
        assert client.get("/login").status_code == 200
    token = client.cookies.get("ioc_csrf")
    assert token
    return token


def sign_in(
    client: TestClient[Litestar], username: str, password: str = PASSWORD, next: str = "/"
) -> httpx.Response:
    form = {"username": username, "password": password, "next": next}
    return client.post("/login", data=form | {"_csrf_token": csrf_token(client)})


def set_cookie(response: httpx.Response, name: str) -> tuple[str, dict[str, str]]:
    """The value and the attributes (lower-case names) of one Set-Cookie of a response."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            first, *attributes = (part.strip() for part in header.split(";"))
            found = {}
            for attribute in attributes:
                key, _, value = attribute.partition("=")
                found[key.lower()] = value.lower()
            return first.partition("=")[2], found
    raise AssertionError(f"no Set-Cookie {name} in {response.headers.get_list('set-cookie')}")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def add_user(name: str, roles: tuple[str, ...] = ("officer",), **extra: Any) -> User:
    return run(create_user(name, PASSWORD, roles=list(roles), actor="test", **extra))


def side_by_side(
    *commands: Callable[..., subprocess.CompletedProcess[str]], env: dict[str, str]
) -> list[subprocess.CompletedProcess[str]]:
    """Independent `ioc` commands at once: each process takes about a second to start."""
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda command: command(env=env), commands))


def error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in done.stderr, done.stderr
    return [line for line in done.stderr.splitlines() if line.startswith("Error")]


# 1. Sign in and out


def test_sign_in_sets_a_safe_cookie_stores_only_its_hash_and_sign_out_ends_it(
    runtime: Runtime,
) -> None:
    add_user("an")
    with browser(create_app(runtime=runtime)) as client:
        _, csrf_attributes = set_cookie(client.get("/login"), "ioc_csrf")
        assert "secure" not in csrf_attributes

        signed = sign_in(client, "an")
        assert signed.status_code == 303
        assert signed.headers["location"] == "/"
        token, attributes = set_cookie(signed, "ioc_session")
        assert "httponly" in attributes
        assert attributes["samesite"] == "lax"
        assert "secure" not in attributes, "plain http: a Secure cookie would never come back"
        assert attributes["path"] == "/" and attributes["max-age"] == "43200"

        home = client.get("/", headers=HTML)
        assert home.status_code == 200
        assert '<a href="/profile">an</a>' in home.text

        rows = in_app(client, Session.select().output(load_json=True).run)
        assert len(rows) == 1
        assert rows[0]["token_hash"] == sha256(token)
        assert rows[0]["second_factor_pending"] is False
        assert token not in repr(rows), "the cookie value itself is never stored"

        with other_browser(client, ioc_session=token):
            assert client.get("/", headers=HTML).status_code == 200, "the cookie is the session"

        out = client.post("/logout", data={"_csrf_token": csrf_token(client)})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        cleared, cleared_attributes = set_cookie(out, "ioc_session")
        assert cleared in ("", '""') and cleared_attributes["max-age"] == "0"
        assert in_app(client, Session.count().run) == 0

        with other_browser(client, ioc_session=token):
            page = client.get("/", headers=HTML)
            assert page.status_code == 303
            assert page.headers["location"] == "/login?next=/"
            api = client.get("/", headers=JSON)
            assert api.status_code == 401
            assert api.json() == {"status_code": 401, "detail": SIGN_IN_TO_CONTINUE}


def test_cookies_are_secure_behind_https(runtime: Runtime) -> None:
    add_user("an")
    https = dataclasses.replace(runtime.settings, public_url="https://ioc.example.vn")
    with browser(create_app(https), base_url="https://testserver.local") as client:
        _, csrf_attributes = set_cookie(client.get("/login"), "ioc_csrf")
        assert "secure" in csrf_attributes and "httponly" in csrf_attributes
        signed = sign_in(client, "an")
        assert signed.status_code == 303
        _, attributes = set_cookie(signed, "ioc_session")
        assert "secure" in attributes
        assert "httponly" in attributes and attributes["samesite"] == "lax"
        assert client.get("/", headers=HTML).status_code == 200


# 2. Any web process serves any session


def test_a_session_from_one_web_process_works_in_another(runtime: Runtime) -> None:
    """Each create_app is a process of its own (registry, engine, broker); only the database
    is shared. They run one after the other: Piccolo binds tables to one engine per process."""
    add_user("an")
    settings = runtime.settings
    with browser(create_app(settings)) as first:
        signed = sign_in(first, "an")
        assert signed.status_code == 303
        token = signed.cookies["ioc_session"]
        csrf = csrf_token(first)

    with browser(create_app(settings), cookies={"ioc_session": token, "ioc_csrf": csrf}) as second:
        home = second.get("/", headers=HTML)
        assert home.status_code == 200
        assert '<a href="/profile">an</a>' in home.text
        assert second.post("/logout", headers={"x-csrftoken": csrf}).status_code == 303

    with browser(create_app(settings), cookies={"ioc_session": token}) as third:
        page = third.get("/", headers=HTML)
        assert page.status_code == 303, "signed out in one process: signed out in all"
        assert page.headers["location"] == "/login?next=/"


def test_a_new_password_ends_the_other_sessions(runtime: Runtime) -> None:
    user = add_user("an")
    with browser(create_app(runtime=runtime)) as client:
        # Two browsers of the same user: the laptop's cookies, then the phone's.
        assert sign_in(client, "an").status_code == 303
        laptop = dict(client.cookies)
        client.cookies.clear()
        assert sign_in(client, "an").status_code == 303
        phone = dict(client.cookies)

        def status_of(cookies: dict[str, str], path: str = "/profile") -> int:
            with other_browser(client, **cookies):
                return client.get(path, headers=HTML).status_code

        new = PASSWORD + "-moi"
        change = {"current": PASSWORD, "new": new, "repeat": new}
        with other_browser(client, **laptop):
            changed = client.post(
                "/profile/password", data=change, headers={"x-csrftoken": laptop["ioc_csrf"]}
            )
        assert changed.status_code == 303
        assert status_of(laptop) == 200, "the changer stays signed in"
        assert status_of(phone) == 303, "the other session is signed out"

        # An administrator's new password (a leaked one) signs the user out everywhere.
        client.cookies.clear()
        assert sign_in(client, "an", new).status_code == 303
        phone = dict(client.cookies)
        run_in = partial(in_app, client)
        run_in(
            partial(
                update_user,
                user.id,
                Membership(roles=["officer"]),
                actor="test",
                full_name="",
                email="",
                language="vi",
                is_active=True,
                new_password="Mat-khau-moi-2026",
            )
        )
        assert status_of(laptop) == 303
        assert status_of(phone) == 303
        assert run_in(Session.count().where(Session.user == user.id).run) == 0


# 3. Wrong passwords and the throttle


def test_wrong_password_unknown_user_and_the_throttle(runtime: Runtime) -> None:
    add_user("an")
    add_user("binh")
    with browser(create_app(runtime=runtime)) as client:
        wrong = sign_in(client, "an", "not-the-password-1")
        assert wrong.status_code == 422
        assert WRONG_CREDENTIALS in wrong.text
        assert '<html lang="vi">' in wrong.text
        assert "ioc_session" not in client.cookies

        unknown = sign_in(client, "khong-ai", "not-the-password-1")
        assert unknown.status_code == 422, "the same answer: no user enumeration"
        assert WRONG_CREDENTIALS in unknown.text

        for _ in range(4):
            assert sign_in(client, "an", "still-wrong-2").status_code == 422
        locked = sign_in(client, "an")
        assert locked.status_code == 429, "5 failures: even the right password waits"
        assert TOO_MANY in locked.text
        assert WRONG_CREDENTIALS not in locked.text
        assert 14 * 60 <= int(locked.headers["retry-after"]) <= 15 * 60 + 1
        assert "ioc_session" not in client.cookies

        other = sign_in(client, "binh")
        assert other.status_code == 303, "another user name from the same address may sign in"
        failures = in_app(
            client, LoginFailure.select(LoginFailure.username, LoginFailure.address).run
        )
        assert sorted(f["username"] for f in failures) == ["an"] * 5 + ["khong-ai"]
        assert {f["address"] for f in failures} == {CLIENT_ADDRESS}

        # The address limit is 20 recent failures, whatever the user names: 13 more make 19.
        guesses = [
            LoginFailure(username=f"guess{i}", address=CLIENT_ADDRESS, at=utcnow())
            for i in range(13)
        ]
        in_app(client, LoginFailure.insert(*guesses).run)
        assert sign_in(client, "binh").status_code == 303, "19 failures from the address"
        assert sign_in(client, "nobody", "wrong-again-3").status_code == 422
        blocked = sign_in(client, "binh")
        assert blocked.status_code == 429, "20 failures from the address: every name waits"
        assert TOO_MANY in blocked.text


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# 4. Password rules


def test_create_user_refuses_weak_passwords_and_stores_nothing(runtime: Runtime) -> None:
    add_user("an")
    cases = [
        ("binh", "Ab1-xy", "Dùng ít nhất 10 ký tự."),
        ("binh", "12345678901234", "Kết hợp chữ cái với chữ số hoặc ký hiệu."),
        ("nguyenvan", "Nguyenvan-2024!", "Không dùng tên đăng nhập trong mật khẩu."),
    ]
    for username, password, message in cases:
        with pytest.raises(AuthError) as refused:
            run(create_user(username, password, roles=["officer"], actor="test"))
        assert str(refused.value) == message, password
    assert [u["username"] for u in run(User.select(User.username))] == ["an"]
    assert run(UserRole.count()) == 1


# 5. TOTP


def wrong_code(totp: pyotp.TOTP) -> str:
    """Six digits the authenticator does not show around now."""
    valid = {totp.at(time.time() + 30 * step) for step in range(-2, 3)}
    return next(code for code in (f"{n:06d}" for n in range(10)) if code not in valid)


def session_row(client: TestClient[Litestar], token: str) -> dict[str, Any]:
    query = Session.select().where(Session.token_hash == sha256(token)).first()
    row = in_app(client, query.run)
    assert row is not None
    return row


def test_totp_user_must_give_the_code_before_the_session_opens(runtime: Runtime) -> None:
    user = add_user("an")
    secret = pyotp.random_base32()
    run(User.update({User.totp_secret: secret}).where(User.id == user.id))
    totp = pyotp.TOTP(secret)
    with browser(create_app(runtime=runtime)) as client:
        signed = sign_in(client, "an")
        assert signed.status_code == 303
        assert signed.headers["location"] == "/login/totp?next=/"
        token = signed.cookies["ioc_session"]
        pending = session_row(client, token)
        assert pending["second_factor_pending"] is True
        lifetime = pending["expires_at"] - pending["created_at"]
        assert dt.timedelta(minutes=4) < lifetime <= dt.timedelta(minutes=5, seconds=1)

        not_yet = client.get("/", headers=HTML)
        assert not_yet.status_code == 303 and not_yet.headers["location"] == "/login?next=/"
        form = client.get("/login/totp?next=/")
        assert form.status_code == 200 and "Mã xác minh" in form.text

        code_form = {"next": "/", "_csrf_token": csrf_token(client)}
        wrong = client.post("/login/totp", data=code_form | {"code": wrong_code(totp)})
        assert wrong.status_code == 422
        assert "Sai mã. Hãy nhập 6 chữ số ứng dụng xác thực đang hiển thị." in wrong.text
        assert client.get("/", headers=HTML).status_code == 303, "still waiting for the code"

        right = client.post("/login/totp", data=code_form | {"code": totp.now()})
        assert right.status_code == 303 and right.headers["location"] == "/"
        assert client.get("/", headers=HTML).status_code == 200
        done = session_row(client, token)
        assert done["second_factor_pending"] is False
        assert done["expires_at"] - done["created_at"] > dt.timedelta(hours=11)


# 6. CSRF


def test_sign_in_and_out_need_the_csrf_token(runtime: Runtime) -> None:
    add_user("an")
    with browser(create_app(runtime=runtime)) as client:
        page = client.get("/login")
        token = csrf_token(client)
        assert f'name="_csrf_token" value="{token}"' in page.text
        form = {"username": "an", "password": PASSWORD, "next": "/"}

        refused = client.post("/login", data=form)
        assert refused.status_code == 403
        assert refused.json()["detail"].startswith("Biểu mẫu đã hết hạn"), "said in Vietnamese"
        forged = token[:-1] + ("0" if token[-1] != "0" else "1")
        assert client.post("/login", data=form, headers={"x-csrftoken": forged}).status_code == 403
        assert "ioc_session" not in client.cookies
        assert in_app(client, Session.count().run) == 0

        accepted = client.post("/login", data=form, headers={"x-csrftoken": token})
        assert accepted.status_code == 303 and "ioc_session" in client.cookies

        kept = client.post("/logout")
        assert kept.status_code == 403
        assert kept.json()["detail"].startswith("Biểu mẫu đã hết hạn")
        assert client.get("/", headers=HTML).status_code == 200, "still signed in"
        out = client.post("/logout", headers={"x-csrftoken": token})
        assert out.status_code == 303
        assert client.get("/", headers=HTML).status_code == 303


# 7. API keys


def test_api_keys_scoped_revocable_and_stored_as_hash(runtime: Runtime) -> None:
    known = runtime.registry.permissions
    portal_row, portal_key = run(create_api_key("ung-dung-di-dong", ["portal.view"], "test", known))
    _, profile_key = run(create_api_key("chi-ho-so", ["auth.profile"], "test", known))
    prefix, _, secret = portal_key.removeprefix("ioc_").partition("_")
    with browser(create_app(runtime=runtime)) as client:
        assert client.get("/", headers={"authorization": f"Bearer {portal_key}"}).status_code == 200
        assert client.get("/", headers={"x-api-key": portal_key}).status_code == 200

        denied = client.get("/", headers={"x-api-key": profile_key})
        assert denied.status_code == 403
        assert denied.json() == {"status_code": 403, "detail": "Bạn không có quyền portal.view."}

        tampered = f"ioc_{prefix}_{'A' * len(secret)}"
        assert client.get("/", headers={"x-api-key": tampered}).status_code == 401

        in_app(client, revoke_api_key, portal_row.id, "test")
        revoked = client.get("/", headers={"authorization": f"Bearer {portal_key}"})
        assert revoked.status_code == 401
        assert revoked.json() == {"status_code": 401, "detail": SIGN_IN_TO_CONTINUE}

        rows = in_app(client, ApiKey.select().order_by(ApiKey.id).output(load_json=True).run)
    assert portal_key not in repr(rows) and secret not in repr(rows)
    assert profile_key not in repr(rows)
    assert rows[0]["prefix"] == prefix and rows[0]["key_hash"] == sha256(portal_key)
    assert rows[0]["permissions"] == ["portal.view"] and rows[0]["revoked_at"] is not None
    assert rows[1]["revoked_at"] is None


def test_an_api_key_has_no_profile_to_see_or_change(runtime: Runtime) -> None:
    """auth.profile may be given to a key, but a key's id is not a user's: the profile pages
    once served, and changed, the user whose id equalled the key's."""
    user = add_user("an")
    secret = pyotp.random_base32()
    run(User.update({User.totp_secret: secret}).where(User.id == user.id))
    row, key = run(
        create_api_key("bao-cao", ["auth.profile"], "test", runtime.registry.permissions)
    )
    assert row.id == user.id, "the same id, so a mix-up would show"
    with browser(create_app(runtime=runtime)) as client:
        headers = {"x-api-key": key, "x-csrftoken": csrf_token(client)}
        refused = {"status_code": 403, "detail": "Hãy đăng nhập để tiếp tục."}
        page = client.get("/profile", headers={"x-api-key": key})
        assert page.status_code == 403 and page.json() == refused
        disable = client.post("/profile/totp", data={"action": "disable"}, headers=headers)
        assert disable.status_code == 403 and disable.json() == refused
        change = {"current": PASSWORD, "new": "Mat-khau-moi-77", "repeat": "Mat-khau-moi-77"}
        password = client.post("/profile/password", data=change, headers=headers)
        assert password.status_code == 403 and password.json() == refused
        stored = in_app(client, User.select(User.totp_secret).where(User.id == user.id).run)
        assert stored == [{"totp_secret": secret}]
        assert sign_in(client, "an").status_code == 303, "the password is unchanged"


def test_apikeys_command_prints_a_working_key_last(
    settings: Settings, subprocess_env: dict[str, str]
) -> None:
    assert ioc("init", env=subprocess_env).returncode == 0
    done, unknown = side_by_side(
        partial(ioc, "apikeys", "create", "tong-dai", "--permission", "portal.view"),
        partial(ioc, "apikeys", "create", "x", "--permission", "portal.fly"),
        env=subprocess_env,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "API key 1 for tong-dai: portal.view"
    key = lines[-1]
    assert key.startswith("ioc_") and len(key) > 40
    assert unknown.returncode == 2
    assert error_lines(unknown) == ["Error: Unknown permissions: portal.fly."]

    with browser(create_app(settings)) as client:
        assert client.get("/", headers={"authorization": f"Bearer {key}"}).status_code == 200
        assert client.get("/profile", headers={"x-api-key": key}).status_code == 403
        names = in_app(client, ApiKey.select(ApiKey.name).run)
    assert names == [{"name": "tong-dai"}]


# 8. `ioc users create`


def users_create(*args: str, stdin: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [IOC, "users", "create", *args, "--password-stdin"]
    return subprocess.run(command, input=stdin, env=env, capture_output=True, text=True, timeout=60)


def test_users_command_reads_the_password_from_stdin(
    settings: Settings, subprocess_env: dict[str, str]
) -> None:
    assert ioc("init", env=subprocess_env).returncode == 0
    created, unknown_role, empty = side_by_side(
        partial(users_create, "Lan", "--role", "admin", stdin=f"{PASSWORD}\n"),
        partial(users_create, "minh", "--role", "chief", stdin=f"{PASSWORD}\n"),
        partial(users_create, "minh", "--role", "admin", stdin=""),
        env=subprocess_env,
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "user lan created with roles admin"

    assert unknown_role.returncode == 2
    assert error_lines(unknown_role) == [f"Error: No role named chief (known: {DEFAULT_ROLES})."]
    assert empty.returncode == 2
    assert error_lines(empty) == [
        "Error: no password on standard input: echo the password | ioc users create ..."
    ]

    with browser(create_app(settings)) as client:
        assert sign_in(client, "lan").status_code == 303
        assert client.get("/profile", headers=HTML).status_code == 200
        users = in_app(client, User.select(User.username).run)
    assert users == [{"username": "lan"}], "refused commands stored nobody"


# 9. Language


def test_signed_in_user_switches_language_and_keeps_it(runtime: Runtime) -> None:
    add_user("an")
    with browser(create_app(runtime=runtime)) as client:
        assert '<html lang="vi">' in client.get("/login").text
        assert sign_in(client, "an").status_code == 303
        token = client.cookies["ioc_session"]
        home = client.get("/", headers=HTML)
        assert '<html lang="vi">' in home.text
        assert "Đăng xuất" in home.text and "Sign out" not in home.text

        chosen = client.post(
            "/language", data={"language": "en", "next": "/", "_csrf_token": csrf_token(client)}
        )
        assert chosen.status_code == 303 and chosen.headers["location"] == "/"
        home = client.get("/", headers=HTML)
        assert '<html lang="en">' in home.text
        assert "Sign out" in home.text and "Đăng xuất" not in home.text

        stored = in_app(client, User.select(User.language).where(User.username == "an").run)
        assert stored == [{"language": "en"}]
        with other_browser(client, ioc_session=token):
            again = client.get("/", headers=HTML)
            assert '<html lang="en">' in again.text, "kept in the profile, not only a cookie"


# 10. Permissions are checked at start-up


def plugin_module(name: str, *permissions: str, **spec: Any) -> ModuleType:
    module = ModuleType(f"test_plugin_{name}")
    declared = tuple(Permission(p, p, p) for p in permissions)
    module.SPEC = PluginSpec(
        name=name, title_vi=name, title_en=name, version="1.0", permissions=declared, **spec
    )
    return module


def with_route(module: ModuleType, path: str, permission: str) -> ModuleType:
    @get(path, opt={"permission": permission}, sync_to_thread=False)
    def handler() -> dict[str, str]:
        return {"plugin": module.SPEC.name}

    @hookimpl
    def route_handlers() -> list[Any]:
        return [handler]

    module.route_handlers = route_handlers
    return module


def test_permissions_outside_the_namespace_or_declared_twice_refuse_the_plugin(
    settings: Settings,
) -> None:
    first = with_route(plugin_module("first", "first.view"), "/first", "first.view")
    impostor = with_route(plugin_module("impostor", "first.view"), "/impostor", "first.view")
    outsider = plugin_module("outsider", "outsider.view", "portal.manage")
    follower = plugin_module("follower", requires=("impostor",))
    twice = plugin_module("twice", "twice.view")

    @hookimpl
    def permissions() -> list[Permission]:
        return [Permission("twice.view", "again", "again")]

    twice.permissions = permissions
    built = build_runtime(settings, extra_plugins=[first, impostor, outsider, follower, twice])
    registry = built.registry
    reasons = {b.name: b.reason for b in registry.broken}
    assert reasons == {
        "impostor": "permission 'first.view' must be named impostor.<action>",
        "outsider": "permission 'portal.manage' must be named outsider.<action>",
        "follower": "requires impostor, which was refused",
        "twice": "permission 'twice.view' is declared twice (also by twice)",
    }
    assert "first" in registry.plugins
    builtin = set(collect_permissions(load_plugins(settings)))
    assert {"auth.profile", "portal.view"} <= builtin
    assert set(registry.permissions) == builtin | {"first.view"}, "no refused plugin's permission"

    run(lifecycle.migrate_enabled(registry))
    assert run(lifecycle.enable(registry, "first", "test")) == ["first"]
    with pytest.raises(PluginError, match=r"impostor cannot be used: permission 'first\.view'"):
        run(lifecycle.enable(registry, "impostor", "test"))
    _, key = run(create_api_key("first-client", ["first.view"], "test", registry.permissions))
    with browser(create_app(runtime=built)) as client:
        served = client.get("/first", headers={"x-api-key": key})
        assert served.status_code == 200 and served.json() == {"plugin": "first"}
        assert client.get("/impostor", headers={"x-api-key": key}).status_code == 404
