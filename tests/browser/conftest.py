"""Browser fixtures: Debian's Chromium driven by Playwright against a real `ioc serve` process.

- `browser` (session): one headless Chromium for the whole run; a missing Chromium or Playwright
  skips on a developer's machine and fails with CI=true (like a missing PostgreSQL or Redis).
- `live_server`: a fresh platform (`ioc init`, an admin and a viewer) served on loopback; a
  `LiveServer` with `base`, `env` (for more `ioc` commands), `admin` and `viewer` credentials.
- `page` (1280x800) and `phone_page` (an emulated 390x844 touch phone): a new browser context
  and page per test, every wait bounded by `TIMEOUT_MS`; a test whose page breaks the
  Content-Security-Policy (Chromium's console says what it refused) fails.
- `sign_in(page, base, username, password)`: fills the real login form and submits it.

The tests use `subprocess_env`, hence the database and broker fixtures, so tests/conftest.py marks
them `backend` and the PostgreSQL + Redis pass runs them too.

Playwright's sync API leaves its event loop marked as running in this thread between calls, and
then `asyncio.run()` refuses to start (the PostgreSQL fixtures, `tests.helpers.run`). So the loop
is marked running only while browser code runs: inside these fixtures and during the call phase
of a test that uses `browser`, `page` or `phone_page`. In such a test, wrap asyncio code in
`with outside_browser_loop(): ...`.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers import IN_CI, service_missing
from tests.processes import IOC, ioc, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
# What this machine needs: no sandbox (root in a container), no GPU, and no traffic of
# Chromium's own (updates, sync, field trials) towards a network that is closed anyway.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Belt and braces: no host name resolves, so only 127.0.0.1 can be reached.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
TIMEOUT_MS = 10_000
LAUNCH_TIMEOUT_MS = 30_000
COMMAND_TIMEOUT_S = 60
BROWSER_FIXTURES = {"browser", "page", "phone_page"}


@dataclass(frozen=True)
class Account:
    username: str
    password: str


@dataclass(frozen=True)
class LiveServer:
    base: str  # http://127.0.0.1:PORT, no trailing slash
    env: dict[str, str]  # for further `ioc ...` commands against the same platform
    admin: Account  # role admin
    viewer: Account  # role viewer


class _PlaywrightLoop:
    loop: asyncio.AbstractEventLoop | None = None


@contextmanager
def browser_loop() -> Iterator[None]:
    """Playwright's loop marked running, as its sync API needs; unmarked again afterwards."""
    asyncio._set_running_loop(_PlaywrightLoop.loop)
    try:
        yield
    finally:
        asyncio._set_running_loop(None)


@contextmanager
def outside_browser_loop() -> Iterator[None]:
    """For `asyncio.run()` (e.g. `tests.helpers.run`) in the body of a browser test."""
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(_PlaywrightLoop.loop)


def require_playwright() -> None:
    """For a test module, before it imports Playwright: skip it here, fail it in CI."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        message = f"Playwright missing (pip install -e '.[test]'): {exc}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: a missing service fails the run)", pytrace=False)
        pytest.skip(message, allow_module_level=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    if _PlaywrightLoop.loop is None or not BROWSER_FIXTURES & set(
        getattr(item, "fixturenames", ())
    ):
        return (yield)
    with browser_loop():
        return (yield)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        service_missing("Playwright (pip install -e '.[test]')", exc)
    if not CHROMIUM.exists():
        service_missing("Chromium", FileNotFoundError(f"{CHROMIUM} (apt-get install chromium)"))
    playwright = sync_playwright().start()
    _PlaywrightLoop.loop = asyncio._get_running_loop()
    try:
        with browser_loop():
            try:
                launched = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=LAUNCH_TIMEOUT_MS
                )
            except Error as exc:
                service_missing("Chromium", exc)
        yield launched
        with browser_loop():
            launched.close()
    finally:
        with browser_loop():
            playwright.stop()
        _PlaywrightLoop.loop = None


def create_user(env: dict[str, str], account: Account, role: str) -> None:
    done = subprocess.run(
        [IOC, "users", "create", account.username, "--role", role, "--password-stdin"],
        input=account.password + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def live_server(subprocess_env: dict[str, str]) -> Iterator[LiveServer]:
    initialised = ioc("init", env=subprocess_env, timeout=COMMAND_TIMEOUT_S)
    assert initialised.returncode == 0, initialised.stderr
    admin = Account("quantri", "Mat-khau-quan-tri-42")
    viewer = Account("nguoixem", "Mat-khau-nguoi-xem-42")
    # The accounts are created while the server starts: each command is a second of start-up.
    with ThreadPoolExecutor(max_workers=2) as pool:
        created = [
            pool.submit(create_user, subprocess_env, admin, "admin"),
            pool.submit(create_user, subprocess_env, viewer, "viewer"),
        ]
        with serving(subprocess_env) as base:
            for done in created:
                done.result(timeout=COMMAND_TIMEOUT_S)
            yield LiveServer(base=base, env=subprocess_env, admin=admin, viewer=viewer)


DESKTOP = {"viewport": {"width": 1280, "height": 800}}
# A phone as the browser emulates one: the page's viewport meta tag applies, touch works.
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}


@contextmanager
def _open_page(browser: Browser, options: dict[str, Any]) -> Iterator[Page]:
    refused: list[str] = []
    with browser_loop():
        context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        opened = context.new_page()
        # Every browser test also checks the Content-Security-Policy: Chromium reports what
        # the policy refused (an inline script or style, a foreign image) on the console.
        opened.on(
            "console",
            lambda message: (
                refused.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
    try:
        yield opened
    finally:
        with browser_loop():
            context.close()
    assert not refused, f"the page broke its Content-Security-Policy: {refused}"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A desktop-sized page in a context (cookies, storage) of its own."""
    with _open_page(browser, DESKTOP) as opened:
        yield opened


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    """A page on an emulated 390x844 phone, in a context of its own."""
    with _open_page(browser, PHONE) as opened:
        yield opened


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    """Sign in through the login form; the caller checks where it landed."""
    page.goto(base + "/login")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")
