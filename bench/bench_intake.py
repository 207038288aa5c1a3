"""Intake: Open311 POSTs through the whole platform (`ioc serve` as a real process, with its
workers) against a bare Litestar app doing the one INSERT of the same row, both served by
uvicorn on this machine in this run, loaded from a separate process (`bench.load_client`) at
32 concurrent connections for a bounded time. Also the load client's own ceiling against a
trivial server, so a slow client cannot pass for a slow server."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.bare_intake import TABLE as BARE_TABLE
from bench.harness import Context, Measure
from bench.processes import (
    COMMAND_TIMEOUT_S,
    IOC,
    START_TIMEOUT_S,
    first_200,
    free_port,
    ioc,
    serve_args,
    spawned,
)

CONCURRENCY = 32
PATH = "/open311/v2/requests.json"
# Keeping the whole platform may cost at most half the bare endpoint's throughput...
MIN_RATIO = 0.5
# ...and PostgreSQL must take this many reports a second, whatever the machine.
MIN_PER_S = 300
# The client must outrun what it measures by this much, or the numbers are the client's.
CLIENT_HEADROOM = 3.0
MAX_RSS_MB = 200
BODIES = 512
# Around Phan Thiết's centre, inside the intake's bounds.
WEST, SOUTH, EAST, NORTH = 108.05, 10.90, 108.20, 11.00
PHRASES = ("đèn đường hỏng", "ổ gà", "ngập nước", "rác thải", "cây đổ", "vỉa hè nứt", "cống tắc")


def rss_mb(pid: int) -> float:
    """The resident memory of a process, from /proc (VmRSS, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def platform_env(ctx: Context) -> dict[str, str]:
    """The run's environment with the intake's per-client rate limit lifted through the
    plugin's settings: the benchmark sends thousands of reports a second with one key."""
    config = ctx.var_dir / "bench-intake.toml"
    config.write_text(
        "[plugin.field_reports]\nrate_limit = 100000000\nrate_window_s = 1\n", encoding="utf-8"
    )
    return ctx.env | {"IOC_CONFIG": str(config)}


@dataclass(frozen=True)
class Load:
    ok: int
    errors: dict[str, int]
    throughput: float
    p50_ms: float
    p99_ms: float


def load(url: str, bodies: Path | None, seconds: float) -> Load:
    """Run the load client as its own process; its JSON answer."""
    args = [sys.executable, "-m", "bench.load_client", "--url", url]
    args += ["--concurrency", str(CONCURRENCY), "--seconds", str(seconds)]
    if bodies is not None:
        args += ["--bodies", str(bodies)]
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=seconds + COMMAND_TIMEOUT_S, check=True
    )
    data = json.loads(done.stdout)
    return Load(data["ok"], data["errors"], data["throughput"], data["p50_ms"], data["p99_ms"])


def write_bodies(path: Path, api_key: str, services: list[str], seed: int) -> None:
    rng = random.Random(seed)
    lines = []
    for _ in range(BODIES):
        words = ", ".join(rng.choice(PHRASES) for _ in range(rng.randint(1, 5)))
        form = {
            "api_key": api_key,
            "service_code": rng.choice(services),
            "lat": f"{rng.uniform(SOUTH, NORTH):.6f}",
            "long": f"{rng.uniform(WEST, EAST):.6f}",
            "description": words,
            "address_string": f"{rng.randint(1, 300)} Trần Hưng Đạo, Phan Thiết",
        }
        lines.append(urlencode(form))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# Public services a report needs nothing more for than the common fields.
SERVICES_SQL = (
    "SELECT c.code FROM fr_service s JOIN category c ON c.id = s.category "
    "WHERE s.public = true AND c.active = true AND NOT EXISTS "
    "(SELECT 1 FROM fr_field f WHERE f.service = s.id AND f.required = true) ORDER BY c.code"
)


async def _query(ctx: Context, sql: str) -> list[tuple[Any, ...]]:
    if ctx.backend == "sqlite":
        conn = sqlite3.connect(ctx.database_url.removeprefix("sqlite:///"), timeout=30)
        try:
            return list(conn.execute(sql))
        finally:
            conn.close()
    import asyncpg

    pg = await asyncpg.connect(ctx.database_url, timeout=10)
    try:
        return [tuple(r) for r in await pg.fetch(sql)]
    finally:
        await pg.close()


async def count(ctx: Context, table: str) -> int:
    return int((await _query(ctx, f'SELECT count(*) FROM "{table}"'))[0][0])


@dataclass(frozen=True)
class Side:
    load: Load
    stored: int
    rss_mb: float | None = None


async def _measured(
    ctx: Context, base: str, bodies: Path, table: str, seconds: float
) -> tuple[Load, int]:
    """A short warm-up, then the timed load: the timed load (with the warm-up's errors too),
    and the rows stored beyond one per warm-up success."""
    before = await count(ctx, table)
    warm = load(f"{base}{PATH}", bodies, min(1.0, seconds / 4))
    timed = load(f"{base}{PATH}", bodies, seconds)
    stored = await count(ctx, table) - before
    errors = Counter(warm.errors) + Counter(timed.errors)
    return replace(timed, errors=dict(errors)), stored - warm.ok


async def full_stack(ctx: Context, env: dict[str, str], bodies: Path, seconds: float) -> Side:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = ctx.var_dir / "intake-serve.log"
    with ExitStack() as running:
        server = running.enter_context(spawned(serve_args(port), env, log))
        if not ctx.broker_url.startswith("embedded"):
            # The embedded broker's workers run inside `ioc serve`; Redis needs its own.
            running.enter_context(spawned([IOC, "worker"], env, ctx.var_dir / "intake-worker.log"))
        first_200(base, server, log, "/healthz")
        timed, stored = await _measured(ctx, base, bodies, "incident", seconds)
        return Side(timed, stored, rss_mb(server.pid))


async def bare(ctx: Context, bodies: Path, seconds: float) -> Side:
    port = free_port()
    args = [sys.executable, "-m", "bench.bare_intake", "--database-url", ctx.database_url]
    log = ctx.var_dir / "intake-bare.log"
    with spawned([*args, "--port", str(port)], ctx.env, log) as server:
        base = f"http://127.0.0.1:{port}"
        first_200(base, server, log, "/healthz")
        timed, stored = await _measured(ctx, base, bodies, BARE_TABLE, seconds)
        return Side(timed, stored)


def client_ceiling(ctx: Context, seconds: float) -> float:
    port = free_port()
    args = [sys.executable, "-m", "bench.load_client", "--trivial", "--port", str(port)]
    log = ctx.var_dir / "intake-trivial.log"
    with spawned(args, ctx.env, log) as server:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "trivial server" not in log.read_text(errors="replace"):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the trivial server did not start: {log.read_text()}")
            time.sleep(0.02)
        return load(f"http://127.0.0.1:{port}/", None, seconds).throughput


async def run(ctx: Context) -> list[Measure]:
    env = platform_env(ctx)
    created = ioc(env, "apikeys", "create", "bench intake", "--permission", "field_reports.submit")
    api_key = created.strip().splitlines()[-1].strip()
    services = [str(r[0]) for r in await _query(ctx, SERVICES_SQL)]
    if not services:
        raise RuntimeError("no public service without required fields to report to")
    bodies = ctx.var_dir / "intake-bodies.txt"
    write_bodies(bodies, api_key, services, ctx.seed)
    seconds = ctx.seconds(3, 25)

    ceiling = client_ceiling(ctx, ctx.seconds(1, 5))
    full = await full_stack(ctx, env, bodies, seconds)
    raw = await bare(ctx, bodies, seconds)

    f, b = full.load, raw.load
    ratio = f.throughput / b.throughput if b.throughput else 0.0
    on_postgres = ctx.backend == "postgres"
    target = f"≥ {MIN_RATIO}x bare" + (f", ≥ {MIN_PER_S}/s" if on_postgres else "")
    passed = ratio >= MIN_RATIO and (f.throughput >= MIN_PER_S or not on_postgres)
    fastest = max(f.throughput, b.throughput)
    # Every answer 201, and exactly one incident (bare: one row) stored per 201.
    intact = not f.errors and not b.errors and full.stored == f.ok and raw.stored == b.ok
    problems = "" if intact else f" (full stack: {f.errors}, bare: {b.errors})"
    return [
        Measure(
            "intake: Open311 POST, 32 concurrent",
            ctx.backend,
            f.throughput,
            "req/s",
            baseline=b.throughput,
            target=target,
            passed=passed,
        ),
        Measure("intake: p50 latency", ctx.backend, f.p50_ms, "ms", baseline=b.p50_ms),
        Measure("intake: p99 latency", ctx.backend, f.p99_ms, "ms", baseline=b.p99_ms),
        Measure(
            "intake: incidents stored",
            ctx.backend,
            full.stored,
            "rows",
            baseline=raw.stored,
            target=f"one per 201, no error{problems}",
            passed=intact,
        ),
        Measure(
            "intake: load client ceiling",
            ctx.backend,
            ceiling,
            "req/s",
            target=f"≥ {CLIENT_HEADROOM:g}x the fastest side",
            passed=ceiling >= CLIENT_HEADROOM * fastest,
        ),
        Measure(
            "web: RSS after intake load",
            ctx.backend,
            full.rss_mb or 0.0,
            "MB",
            target=f"≤ {MAX_RSS_MB} MB",
            passed=(full.rss_mb or 0.0) <= MAX_RSS_MB,
        ),
    ]
