"""A closed-loop HTTP/1.1 load generator, run as its own process so the server under test does
not share its interpreter:

    python -m bench.load_client --url http://127.0.0.1:8000/open311/v2/requests.json \\
        --bodies bodies.txt --concurrency 32 --seconds 20

Each of the `--concurrency` keep-alive connections sends one request, reads the whole answer,
then sends the next, until the time is up; the bodies (one form-encoded body a line) are sent
in turn. Prints one JSON object: count, statuses, errors by status (or by transport error),
throughput, p50 and p99 in milliseconds.

Raw sockets, not an HTTP library: the client must be much faster than what it measures.
`--trivial` instead serves a fixed 201 answer on `--port`, the fastest server there can be, to
measure the client's own ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

CONNECT_TIMEOUT_S = 10.0
# One answer slower than this counts as an error (and its connection is dropped).
ANSWER_TIMEOUT_S = 30.0
TRIVIAL_ANSWER = (
    b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n[]"
)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)


def requests_for(url: str, bodies: Sequence[bytes], headers: Sequence[str]) -> list[bytes]:
    """The raw bytes of each request: a POST per body, or a GET when there is none."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    extra = "".join(f"{h}\r\n" for h in headers)
    if not bodies:
        return [f"GET {target} HTTP/1.1\r\nhost: {parts.netloc}\r\n{extra}\r\n".encode()]
    return [
        (
            f"POST {target} HTTP/1.1\r\nhost: {parts.netloc}\r\n"
            "content-type: application/x-www-form-urlencoded\r\n"
            f"content-length: {len(body)}\r\n{extra}\r\n"
        ).encode()
        + body
        for body in bodies
    ]


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one answer, read whole, and whether the server keeps the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    chunked = False
    keep = True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep


async def _connection(
    host: str, port: int, requests: list[bytes], offset: int, until: float, tally: Tally
) -> None:
    turn = offset
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    while time.perf_counter() < until:
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), CONNECT_TIMEOUT_S
                )
            assert reader is not None
            started = time.perf_counter()
            writer.write(requests[turn % len(requests)])
            turn += 1
            status, keep = await asyncio.wait_for(_answer(reader), ANSWER_TIMEOUT_S)
            tally.latencies.append(time.perf_counter() - started)
            tally.statuses[str(status)] += 1
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            tally.statuses[type(exc).__name__] += 1
            keep = False
            # A refused or reset connection: do not spin on it.
            await asyncio.sleep(0.05)
        if not keep and writer is not None:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


def percentile(sorted_values: Sequence[float], share: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


async def load(
    url: str,
    bodies: Sequence[bytes],
    concurrency: int,
    seconds: float,
    expect: int,
    headers: Sequence[str] = (),
) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = requests_for(url, bodies, headers)
    tally = Tally()
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(_connection(host, port, requests, n, until, tally) for n in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    latencies = sorted(tally.latencies)
    ok = tally.statuses.get(str(expect), 0)
    return {
        "count": sum(tally.statuses.values()),
        "ok": ok,
        "errors": {k: v for k, v in tally.statuses.items() if k != str(expect)},
        "seconds": round(elapsed, 3),
        "throughput": ok / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


class _Trivial(asyncio.Protocol):
    """Answers each request's head with the same 201, ignoring its body's content."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(TRIVIAL_ANSWER)


async def serve_trivial(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Trivial, "127.0.0.1", port)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"trivial server on http://127.0.0.1:{port}/", flush=True)
    async with server:
        await stop.wait()


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load_client", description=__doc__)
    parser.add_argument("--url", help="where to send the requests")
    parser.add_argument("--bodies", type=Path, help="form-encoded bodies, one a line (POST)")
    parser.add_argument("--header", action="append", default=[], help="'name: value', repeatable")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--expect", type=int, default=201, help="the status that counts as ok")
    parser.add_argument("--trivial", action="store_true", help="serve a fixed 201 instead")
    parser.add_argument("--port", type=int, default=0, help="the trivial server's port")
    args = parser.parse_args(argv)
    if args.trivial:
        if not 0 < args.port < 65536:
            parser.error("--trivial needs --port")
    elif not args.url:
        parser.error("--url is required")
    if args.concurrency < 1 or args.seconds <= 0:
        parser.error("--concurrency must be at least 1 and --seconds positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.trivial:
        asyncio.run(serve_trivial(args.port))
        return 0
    bodies = []
    if args.bodies:
        bodies = [line.encode() for line in args.bodies.read_text("utf-8").splitlines() if line]
    result = asyncio.run(
        load(args.url, bodies, args.concurrency, args.seconds, args.expect, args.header)
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
