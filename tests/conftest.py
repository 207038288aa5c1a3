"""Fixtures: the backend under test, fresh databases, and the sample plugins installed.

The backend comes from the environment, so one suite runs on each:
- IOC_TEST_DATABASE_URL: unset for SQLite files; `postgresql://user@host:port/db` to create a
  fresh database per test on that server (PostGIS must be installable there).
- IOC_TEST_BROKER_URL: unset for the embedded broker; `redis://host:port/N` for Redis (db N is
  flushed per test).
With CI=true a test whose service is unreachable fails; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from ioc_core.plugins.lifecycle import migrate_enabled
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings
from tests import plugin_install
from tests.helpers import service_missing
from tests.smtp import Mailbox, local_smtp

TEST_DATABASE_URL = os.environ.get("IOC_TEST_DATABASE_URL", "")
TEST_BROKER_URL = os.environ.get("IOC_TEST_BROKER_URL", "")
BACKEND_FIXTURES = {"database_url", "broker_url", "module_environ"}


def pytest_report_header() -> str:
    return (
        f"ioc backend: database={'postgresql' if TEST_DATABASE_URL else 'sqlite'}, "
        f"broker={'redis' if TEST_BROKER_URL else 'embedded'}"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if BACKEND_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.backend)
        if item.get_closest_marker("postgresql"):
            item.add_marker(pytest.mark.backend)
    if TEST_DATABASE_URL:
        return
    # PostgreSQL-only tests (fault injection, the soak) belong to the PostgreSQL pass: left
    # out of the SQLite pass rather than counted there as skipped.
    elsewhere = [item for item in items if item.get_closest_marker("postgresql")]
    if elsewhere:
        config.hook.pytest_deselected(items=elsewhere)
        items[:] = [item for item in items if not item.get_closest_marker("postgresql")]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_with_database(url, "postgres"), timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """A database of its own: a SQLite file in `folder`, or a new PostgreSQL database on the
    server under test, dropped afterwards."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{folder / 'ioc.sqlite3'}"
        return
    name = f"ioc_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        service_missing("PostgreSQL", exc)
    try:
        yield _with_database(TEST_DATABASE_URL, name)
    finally:
        asyncio.run(_admin(TEST_DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fresh_broker(folder: Path) -> str:
    """An empty broker: an embedded queue file in `folder`, or the Redis db under test flushed."""
    if not TEST_BROKER_URL:
        return f"embedded:{folder / 'queue.sqlite3'}"
    import redis

    try:
        redis.Redis.from_url(TEST_BROKER_URL, socket_timeout=5).flushdb()
    except redis.RedisError as exc:
        service_missing("Redis", exc)
    return TEST_BROKER_URL


def platform_environ(folder: Path, database_url: str, broker_url: str) -> dict[str, str]:
    """Environment variables of a platform process under test (also for subprocesses)."""
    return {
        "IOC_VAR_DIR": str(folder / "var"),
        "IOC_DATABASE_URL": database_url,
        "IOC_BROKER_URL": broker_url,
        "IOC_PLUGIN_STATE_TTL": "0",
    }


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def broker_url(tmp_path: Path) -> str:
    return fresh_broker(tmp_path)


@pytest.fixture
def environ(tmp_path: Path, database_url: str, broker_url: str) -> dict[str, str]:
    return platform_environ(tmp_path, database_url, broker_url)


@pytest.fixture(scope="module")
def module_environ(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Like `environ`, one platform shared by a module's tests: for many small requests whose
    tests compare what is stored before and after, not what the database holds."""
    folder = tmp_path_factory.mktemp("module")
    with fresh_database(folder) as url:
        yield platform_environ(folder, url, fresh_broker(folder))


@pytest.fixture
def settings(environ: dict[str, str]) -> Settings:
    return Settings.load(environ)


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """A local SMTP server and what it received: (mailbox, port)."""
    with local_smtp() as server:
        yield server


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plugin_install.install(tmp_path_factory.mktemp("site"))


@pytest.fixture
def sample_plugins(sample_site: Path) -> Iterator[Path]:
    """The sample plugins installed (entry points in `ioc.plugins`) for this test only."""
    sys.path.insert(0, str(sample_site))
    importlib.invalidate_caches()
    yield sample_site
    sys.path.remove(str(sample_site))
    for name in [m for m in sys.modules if m.startswith(plugin_install.PACKAGES)]:
        del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture
def runtime(settings: Settings, sample_plugins: Path) -> Iterator[Runtime]:
    """A migrated platform with the sample plugins installed and none enabled."""
    built = build_runtime(settings, park_delay_ms=200)
    asyncio.run(migrate_enabled(built.registry))
    yield built
    built.broker.close()


@pytest.fixture
def subprocess_env(environ: dict[str, str], sample_site: Path) -> dict[str, str]:
    """Environment for an `ioc` subprocess that sees the sample plugins."""
    path = os.pathsep.join([str(sample_site), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, **environ, "PYTHONPATH": path}
