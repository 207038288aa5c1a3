"""Fault injection fixtures: private PostgreSQL and Redis servers per test module (the shared
ones must never be stopped), a local SMTP server, and the platform running on them."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.platform import (
    Platform,
    Template,
    drop_database,
    make_template,
    start_platform,
)
from tests.faults.services import PrivatePostgres, PrivateRedis, ServiceMissing
from tests.helpers import service_missing
from tests.smtp import Mailbox, local_smtp


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    # Not under pytest's tmp folder: as root, the cluster runs as `postgres`, which must reach it.
    root = Path(tempfile.mkdtemp(prefix="ioc-faults-pg-"))
    try:
        cluster = PrivatePostgres(root)
        cluster.init()
    except (ServiceMissing, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        service_missing("PostgreSQL server programs", exc)
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    try:
        server = PrivateRedis(tmp_path_factory.mktemp("redis"))
        server.start()
    except (ServiceMissing, OSError) as exc:
        service_missing("redis-server", exc)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with local_smtp() as server:
        yield server


@pytest.fixture(scope="module")
def template(
    private_pg: PrivatePostgres,
    private_redis: PrivateRedis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Template:
    return make_template(private_pg, private_redis, tmp_path_factory.mktemp("template"))


@pytest.fixture
def platform(
    private_pg: PrivatePostgres,
    private_redis: PrivateRedis,
    template: Template,
    smtp: tuple[Mailbox, int],
    tmp_path: Path,
) -> Iterator[Platform]:
    """The platform on a fresh database and an empty broker; no process started yet."""
    if private_redis.process is None:
        private_redis.start()  # a test that failed while it was stopped
    private_pg.ensure_running()
    started = start_platform(private_pg, private_redis, template, tmp_path, smtp[1])
    try:
        yield started
    finally:
        started.close()
        private_pg.ensure_running()  # a test that failed while it was stopped
        drop_database(private_pg, started.database_url)
