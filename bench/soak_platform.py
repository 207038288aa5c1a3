"""The platform under soak: a fresh backend, a prepared var folder, and `ioc serve` plus
`ioc worker` processes on loopback that can be killed and replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.databases import create_database, drop_database, with_database
from bench.processes import IOC, first_200, free_port, ioc, serve_args, spawn, stop_all

# A SIGTERMed worker finishes its messages first; past this it is killed.
STOP_TIMEOUT_S = 30.0
API_KEY_NAME = "soak intake"
STAFF_PASSWORD = "Soak-test-password-2026"


class SetupError(RuntimeError):
    """The platform could not be prepared; the message says which step and why."""


@dataclass(frozen=True)
class Backend:
    database_url: str
    broker_url: str
    # The PostgreSQL database created for this run (dropped at the end), if any.
    created_database: str | None = None

    @property
    def label(self) -> str:
        database = "sqlite" if self.database_url.startswith("sqlite") else "postgresql"
        broker = "embedded" if self.broker_url.startswith("embedded") else "redis"
        return f"{database}+{broker}"


def prepare_backend(database_url: str, broker_url: str, var_dir: Path) -> Backend:
    """A fresh database (on the given PostgreSQL server, or a SQLite file for `sqlite`) and an
    empty broker (Redis db flushed, or the embedded queue file)."""
    if database_url in ("sqlite", "embedded"):
        database, created = f"sqlite:///{var_dir / 'ioc.sqlite3'}", None
    else:
        try:
            created = create_database(database_url, "ioc_soak")
        except (TimeoutError, OSError) as exc:
            raise SetupError(f"PostgreSQL at {database_url} unreachable: {exc}") from exc
        database = with_database(database_url, created)
    if broker_url == "embedded":
        broker = f"embedded:{var_dir / 'queue.sqlite3'}"
    else:
        import redis

        try:
            redis.Redis.from_url(broker_url, socket_timeout=5).flushdb()
        except redis.RedisError as exc:
            drop_backend(Backend(database, broker_url, created), database_url)
            raise SetupError(f"Redis at {broker_url} unreachable: {exc}") from exc
        broker = broker_url
    return Backend(database, broker, created)


def drop_backend(backend: Backend, server_url: str) -> None:
    if backend.created_database:
        drop_database(server_url, backend.created_database)


@dataclass(frozen=True)
class Seeded:
    api_key: str
    staff: tuple[str, ...]


def seed(env: dict[str, str], staff_count: int) -> Seeded:
    """The demo city without reports (wards, departments, services, routing rules, SLA
    targets), an API key that may submit reports and staff accounts that may work incidents."""
    ioc(env, "demo", "--seed-only", "--reports", "0")
    created = ioc(env, "apikeys", "create", API_KEY_NAME, "--permission", "field_reports.submit")
    key = created.strip().splitlines()[-1].strip()
    staff = tuple(f"soak.staff{n}" for n in range(1, staff_count + 1))
    for n, username in enumerate(staff, 1):
        ioc(
            env,
            "users",
            "create",
            username,
            "--role",
            "admin",
            "--full-name",
            f"Soak staff {n}",
            "--email",
            f"{username}@example.vn",
            "--password-stdin",
            stdin=f"{STAFF_PASSWORD}\n",
        )
    return Seeded(key, staff)


@dataclass
class Processes:
    """`ioc serve` and the workers, each logging to its own file under `logs`."""

    env: dict[str, str]
    logs: Path
    worker_threads: int
    server: subprocess.Popen[bytes] | None = None
    base: str = ""
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # Workers told to stop, with when: one that outlives STOP_TIMEOUT_S is killed.
    stopping: list[tuple[subprocess.Popen[bytes], float]] = field(default_factory=list)
    started_workers: int = 0
    kills: int = 0
    terms: int = 0

    def start_server(self) -> str:
        port = free_port()
        log = self.logs / "serve.log"
        self.server = spawn(serve_args(port), self.env, log)
        self.base = f"http://127.0.0.1:{port}"
        first_200(self.base, self.server, log)
        return self.base

    def start_worker(self) -> None:
        self.started_workers += 1
        args = [IOC, "worker", "--threads", str(self.worker_threads)]
        self.workers.append(spawn(args, self.env, self.logs / f"worker{self.started_workers}.log"))

    def replace_oldest(self, hard: bool) -> None:
        """SIGKILL (hard) or SIGTERM the oldest worker and start its replacement at once."""
        self.reap()
        old = self.workers.pop(0)
        if hard:
            old.send_signal(signal.SIGKILL)
            self.kills += 1
        else:
            old.send_signal(signal.SIGTERM)
            self.terms += 1
        self.stopping.append((old, time.monotonic()))
        self.start_worker()

    def reap(self) -> None:
        """Forget workers that exited; kill one that ignored SIGTERM too long."""
        now = time.monotonic()
        for process, since in list(self.stopping):
            if process.poll() is not None:
                self.stopping.remove((process, since))
            elif now - since > STOP_TIMEOUT_S:
                process.kill()

    def dead_workers(self) -> int:
        """Workers that exited without being told to: a crash the soak must report."""
        return sum(1 for p in self.workers if p.poll() is not None)

    def stop_all(self) -> None:
        stopping = [process for process, _ in self.stopping]
        everyone = [*self.workers, *stopping, *([self.server] if self.server else [])]
        stop_all(everyone, STOP_TIMEOUT_S)


def process_env(backend: Backend, var_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    """The environment of every `ioc` process of the run: the settings file lifts the intake's
    per-client rate limit, which would otherwise refuse the load after ten reports."""
    config = var_dir / "soak.toml"
    config.write_text(
        "[plugin.field_reports]\nrate_limit = 1000000\nrate_window_s = 1\n", encoding="utf-8"
    )
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    return {
        **inherited,
        "IOC_VAR_DIR": str(var_dir),
        "IOC_DATABASE_URL": backend.database_url,
        "IOC_BROKER_URL": backend.broker_url,
        "IOC_CONFIG": str(config),
        **extra,
    }
