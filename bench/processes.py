"""Platform processes for the benchmarks and the soak: `ioc` commands run to their end, and
servers or workers (`ioc serve`, `ioc worker`, a bare baseline server) started with a log file,
waited on until they answer, and stopped, all with bounded waits."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

# The console script beside this interpreter, so a PATH without it still works.
_BESIDE = Path(sys.executable).parent / "ioc"
IOC = str(_BESIDE) if _BESIDE.exists() else "ioc"
COMMAND_TIMEOUT_S = 180.0
START_TIMEOUT_S = 60.0
# A SIGTERMed process finishes what it holds (a worker its messages); past this it is killed.
STOP_TIMEOUT_S = 20.0
# How often a starting server is asked: the start-up benchmark times the first answer.
POLL_S = 0.01


class CommandFailed(RuntimeError):
    """An `ioc` command exited with an error; the message has its last error line."""


class NotAnswering(RuntimeError):
    """A server exited, or did not answer in time, while it was starting."""


def ioc(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = COMMAND_TIMEOUT_S
) -> str:
    """Run one `ioc` command; its standard output."""
    done = subprocess.run(
        [IOC, *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:]
        raise CommandFailed(f"ioc {' '.join(args)} failed ({done.returncode}): {' '.join(detail)}")
    return done.stdout


def serve_args(port: int) -> list[str]:
    """`ioc serve` on loopback at `port`."""
    return [IOC, "serve", "--host", "127.0.0.1", "--port", str(port)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(args: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `args` with its output appended to `log`."""
    with open(log, "ab") as out:
        # The child has its own copy of the file: this one can close at once.
        return subprocess.Popen(list(args), env=env, stdout=out, stderr=subprocess.STDOUT)


def first_200(
    base: str,
    process: subprocess.Popen[bytes],
    log: Path,
    path: str = "/healthz",
    timeout: float = START_TIMEOUT_S,
) -> float:
    """Wait until `path` answers 200; when it did, by time.perf_counter()."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as client:
        while True:
            if process.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-5:]
                raise NotAnswering(
                    f"{' '.join(map(str, process.args))} exited ({process.returncode}): "
                    + " | ".join(tail)
                )
            try:
                if client.get(f"{base}{path}").status_code == 200:
                    return time.perf_counter()
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise NotAnswering(f"{process.args} did not answer within {timeout:g} s")
            time.sleep(POLL_S)


def stop_all(processes: Iterable[subprocess.Popen[bytes]], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM every process still running, then wait for all of them together; kill those
    still running after `timeout`."""
    everyone = list(processes)
    for process in everyone:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in everyone:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stop(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> None:
    stop_all([process], timeout)


@contextmanager
def spawned(
    args: Sequence[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`spawn`, stopped when the block ends."""
    process = spawn(args, env, log)
    try:
        yield process
    finally:
        stop(process)
