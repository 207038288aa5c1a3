"""Private PostgreSQL and Redis servers that a test may stop, restart and kill: the machine's
shared ones serve other tests and must never be touched."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.processes import free_port


def _pg_bin() -> Path:
    """IOC_TEST_PG_BIN, else Debian's PostgreSQL 15 (the one with PostGIS here), else the
    newest installed."""
    if os.environ.get("IOC_TEST_PG_BIN"):
        return Path(os.environ["IOC_TEST_PG_BIN"])
    preferred = Path("/usr/lib/postgresql/15/bin")
    if preferred.exists():
        return preferred
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else preferred


PG_BIN = _pg_bin()
# PostgreSQL refuses to run as root; as root (in CI, say) it runs as this user.
PG_OS_USER = "postgres"
START_TIMEOUT_S = 30


class ServiceMissing(RuntimeError):
    """The server's programs (or the user to run them) are not on this machine."""


class PrivatePostgres:
    """A throw-away cluster in `root`, on a free loopback port, trust authentication."""

    def __init__(self, root: Path) -> None:
        for program in ("initdb", "pg_ctl"):
            if not (PG_BIN / program).exists():
                raise ServiceMissing(f"{PG_BIN / program} not found (set IOC_TEST_PG_BIN)")
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.owner = pwd.getpwnam(PG_OS_USER)
            except KeyError:
                raise ServiceMissing(f"running as root and there is no {PG_OS_USER} user") from None
            os.chown(root, self.owner.pw_uid, self.owner.pw_gid)

    def _command(self, *args: str | Path) -> list[str]:
        command = [str(a) for a in args]
        if self.owner is not None:
            command = ["runuser", "-u", PG_OS_USER, "--", *command]
        return command

    def _run(self, *args: str | Path) -> None:
        command = self._command(*args)
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=START_TIMEOUT_S + 10, cwd=self.root
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")

    def init(self) -> None:
        self._run(
            PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        # In the configuration, not on pg_ctl's command line: a later `start` reads it too.
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                "listen_addresses = '127.0.0.1'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        self.start()

    def _ctl(self, action: str) -> None:
        self._run(
            PG_BIN / "pg_ctl", "-D", self.data, "-l", self.root / "log", "-m", "fast",
            "-s", "-w", "-t", str(START_TIMEOUT_S), action,
        )  # fmt: skip

    def stop(self) -> None:
        self._ctl("stop")

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart")

    def ensure_running(self) -> None:
        status = subprocess.run(
            self._command(PG_BIN / "pg_ctl", "-D", self.data, "status"),
            capture_output=True,
            timeout=10,
        )
        if status.returncode != 0:
            self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        path = self.root / "log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # not running
            self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-s", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A redis-server on a free loopback port that keeps nothing on disk, as deployed."""

    def __init__(self, root: Path) -> None:
        self.program = shutil.which("redis-server")
        if self.program is None:
            raise ServiceMissing("redis-server not found on PATH")
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it, empty, on the same port as before; wait until it answers."""
        assert self.process is None, "already running"
        assert self.program is not None
        log = open(self.root / "redis.log", "ab")  # noqa: SIM115 - the server writes it
        self.process = subprocess.Popen(
            [self.program, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.root)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start: {self.log()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Kill it: what it held in memory is gone."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def flush(self) -> None:
        redis.Redis.from_url(self.url, socket_timeout=5).flushall()

    def log(self) -> str:
        path = self.root / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""
