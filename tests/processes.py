"""Run `ioc` commands and servers as real processes on loopback, with bounded waits."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

START_TIMEOUT_S = 30.0
# The console script installed beside this interpreter, so a PATH without it still works.
_BESIDE = Path(sys.executable).parent / "ioc"
IOC = str(_BESIDE) if _BESIDE.exists() else "ioc"


def ioc(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([IOC, *args], env=env, capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answering(base: str, process: subprocess.Popen[str], timeout: float = START_TIMEOUT_S) -> None:
    """Wait, bounded, until the server `process` answers /healthz at `base`."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"ioc exited: {process.stdout.read()}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"ioc did not answer within {timeout} s")
        time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    """An `ioc serve` process; yields its base URL once /healthz answers."""
    port = free_port()
    process = subprocess.Popen(
        [IOC, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        answering(base, process)
        yield base
    finally:
        stop(process)
