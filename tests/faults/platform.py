"""The platform as it runs in production, on the private servers: `ioc serve` and `ioc worker`
processes, field_reports enabled with two services, and an Open311 API key."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest

from ioc_core.auth.apikeys import create_api_key
from ioc_core.plugins import lifecycle
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings
from tests.faults.services import PrivatePostgres, PrivateRedis
from tests.plugins.field_reports.conftest import PHAN_THIET, Services, seed_services
from tests.processes import IOC, answering, free_port

T = TypeVar("T")

# Fault injection belongs to the PostgreSQL + Redis pass (see tests/conftest.py).
FAULT_MARKS = [pytest.mark.postgresql]
V2 = "/open311/v2"
SUBMIT = "field_reports.submit"
# Seconds without a heartbeat after which a worker counts as dead: short, so a killed worker's
# messages come back within the test's patience.
HEARTBEAT_TIMEOUT_S = 3
CREATED = 201
# A process that has not stopped this long after SIGTERM is killed.
STOP_TIMEOUT_S = 5


@dataclass
class Platform:
    env: dict[str, str]
    database_url: str
    runtime: Runtime  # this test process's own, as a CLI command would have
    services: Services
    key: str
    logs: Path
    base: str = ""
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def run(self, awaitable: Awaitable[T]) -> T:
        """A database call from the test process (it connects per call: no pool)."""

        async def wait() -> T:
            return await awaitable

        return asyncio.run(wait())

    def _spawn(self, *args: str) -> subprocess.Popen[str]:
        name = f"{args[0]}-{len(self.processes)}.log"
        with open(self.logs / name, "w") as out:
            process = subprocess.Popen(
                [IOC, *args], env=self.env, stdout=out, stderr=subprocess.STDOUT, text=True
            )
        self.processes.append(process)
        return process

    def serve(self) -> subprocess.Popen[str]:
        port = free_port()
        process = self._spawn("serve", "--port", str(port))
        self.base = f"http://127.0.0.1:{port}"
        answering(self.base, process)
        return process

    def worker(self) -> subprocess.Popen[str]:
        return self._spawn("worker", "--threads", "2")

    def process_logs(self) -> str:
        """The tail of every process's output, for a failing assertion's message."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.logs.glob("*.log"))
        )

    def report(self, client: httpx.Client, email: str, **fields: str) -> httpx.Response:
        form = {
            "api_key": self.key,
            "service_code": "rac-thai",
            "lat": str(PHAN_THIET[1]),
            "long": str(PHAN_THIET[0]),
            "description": "Rác chưa được thu gom",
            "email": email,
            **fields,
        }
        return client.post(f"{self.base}{V2}/requests.json", data=form)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.runtime.broker.close()


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL: no shutdown hook, no ack, no rollback sent by the process."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@dataclass(frozen=True)
class Template:
    """A database set up once per module, that each test's database is copied from."""

    name: str
    key: str
    services: Services


def _environ(database_url: str, broker: PrivateRedis, tmp: Path, smtp_port: int) -> dict[str, str]:
    config = tmp / "ioc.toml"
    # The per-key rate limit would refuse the load of the outage test.
    config.write_text("[plugin.field_reports]\nrate_limit = 100000\n")
    return {
        **os.environ,
        "IOC_VAR_DIR": str(tmp / "var"),
        "IOC_DATABASE_URL": database_url,
        "IOC_BROKER_URL": broker.url,
        "IOC_PLUGIN_STATE_TTL": "0",
        "IOC_CONFIG": str(config),
        "IOC_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "IOC_BROKER_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
        "PYTHONUNBUFFERED": "1",
    }


def make_template(pg: PrivatePostgres, broker: PrivateRedis, tmp: Path) -> Template:
    """Migrated, field_reports enabled, two services, an API key: what `ioc init`, `ioc plugins
    enable` and `ioc apikeys create` do, called in this process to save three start-ups."""
    name = f"faults_template_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(pg.url(), f'CREATE DATABASE "{name}"'))
    runtime = build_runtime(Settings.load(_environ(pg.url(name), broker, tmp, 25)))

    async def set_up() -> tuple[str, Services]:
        await lifecycle.migrate_enabled(runtime.registry)
        await lifecycle.enable(runtime.registry, "field_reports", "test")
        _, key = await create_api_key("faults", [SUBMIT], "test", runtime.registry.permissions)
        return key, await seed_services()

    try:
        key, services = asyncio.run(set_up())
    finally:
        runtime.broker.close()
    return Template(name, key, services)


def start_platform(
    pg: PrivatePostgres, broker: PrivateRedis, template: Template, tmp: Path, smtp_port: int
) -> Platform:
    """A copy of the template database and an empty broker; no process started yet."""
    name = f"faults_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(pg.url(), f'CREATE DATABASE "{name}" TEMPLATE "{template.name}"'))
    broker.flush()
    database_url = pg.url(name)
    env = _environ(database_url, broker, tmp, smtp_port)
    runtime = build_runtime(Settings.load(env))
    logs = tmp / "logs"
    logs.mkdir()
    return Platform(env, database_url, runtime, template.services, template.key, logs)


def drop_database(pg: PrivatePostgres, database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    asyncio.run(_admin(pg.url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def rows(platform: Platform, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of a read straight from PostgreSQL, as the test sees them."""

    async def fetch() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(platform.database_url, timeout=10)
        try:
            return [dict(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return asyncio.run(fetch())
