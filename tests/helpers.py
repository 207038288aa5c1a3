"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import dramatiq
import pytest
from litestar.testing import TestClient

from ioc_core.runtime import Runtime

T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() == "true"


def run(awaitable: Awaitable[T]) -> T:
    """Await a coroutine or a Piccolo query from synchronous test code."""

    async def wait() -> T:
        return await awaitable

    return asyncio.run(wait())


def service_missing(what: str, exc: BaseException) -> NoReturn:
    """Skip on a developer's machine; fail in CI, where every service must be there."""
    message = f"{what} unreachable: {exc}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing service fails the run)")
    pytest.skip(message)


def require_postgresql(url: str) -> None:
    """Connect once to the PostgreSQL server at `url`, or skip (fail in CI)."""
    import asyncpg

    async def ping() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        await conn.close()

    try:
        asyncio.run(ping())
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        service_missing("PostgreSQL", exc)


def require_redis(url: str) -> None:
    """Ping the Redis server at `url`, or skip (fail in CI)."""
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=5).ping()
    except redis.RedisError as exc:
        service_missing("Redis", exc)


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@contextmanager
def worker(runtime: Runtime) -> Iterator[dramatiq.Worker]:
    """A real dramatiq worker on the runtime's broker for the duration of the block."""
    running = dramatiq.Worker(runtime.broker, worker_threads=2, worker_timeout=100)
    running.start()
    try:
        yield running
    finally:
        running.stop()


# The password of the staff accounts tests create.
STAFF_PASSWORD = "Trung-tâm-2026"


def sign_in(client: TestClient[Any], username: str, password: str = STAFF_PASSWORD) -> str:
    """Sign in through the login form; the CSRF token for the forms that follow."""
    token = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    form = {"username": username, "password": password, "_csrf_token": token.group(1)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    return token.group(1)


def in_app(client: TestClient[Any], call: Callable[..., Awaitable[T]], *args: Any) -> T:
    """A database call on the app's event loop while its test client is open: PostgreSQL's
    connection pool lives on that loop then, and `run` would use another."""
    return client.blocking_portal.call(call, *args)
