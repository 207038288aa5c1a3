"""The web process: how long `ioc serve` takes from its start to the first 200 on /healthz, and
its resident memory once up (the memory after the intake's load is measured by bench_intake,
on the server that took it). The start is the median of three (one in the quick mode), against
a bare `python -c` that imports Litestar and uvicorn and serves a trivial app the same way."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from bench.bench_intake import MAX_RSS_MB, platform_env, rss_mb
from bench.harness import Context, Measure
from bench.processes import first_200, free_port, serve_args, spawn, stop

STARTS = 3
MAX_START_S = 3.0
# The least a Python web process costs: the same libraries, one trivial route, same server.
BARE_SERVER = """
import sys
import uvicorn
from litestar import Litestar, get

@get("/healthz")
async def healthz() -> str:
    return "ok"

uvicorn.run(Litestar([healthz]), host="127.0.0.1", port=int(sys.argv[1]), log_level="info")
"""


def _bare_args(port: int) -> list[str]:
    return [sys.executable, "-c", BARE_SERVER, str(port)]


def _start(
    command: Callable[[int], list[str]], env: dict[str, str], ctx: Context, name: str
) -> tuple[float, float]:
    """Seconds from spawning `command(port)` to its first 200 on /healthz, and its RSS (MB)
    then."""
    port = free_port()
    log = ctx.var_dir / f"startup-{name}.log"
    started = time.perf_counter()
    process = spawn(command(port), env, log)
    try:
        answered = first_200(f"http://127.0.0.1:{port}", process, log)
        return answered - started, rss_mb(process.pid)
    finally:
        stop(process)


async def run(ctx: Context) -> list[Measure]:
    env = platform_env(ctx)
    starts = 1 if ctx.quick else STARTS
    platform = [_start(serve_args, env, ctx, "serve") for _ in range(starts)]
    bare = [_start(_bare_args, ctx.env, ctx, "bare") for _ in range(starts)]
    start_s = statistics.median(s for s, _ in platform)
    bare_s = statistics.median(s for s, _ in bare)
    rss = statistics.median(r for _, r in platform)
    bare_rss = statistics.median(r for _, r in bare)
    return [
        Measure(
            "web: start to first 200",
            ctx.backend,
            start_s,
            "s",
            baseline=bare_s,
            target=f"≤ {MAX_START_S:g} s",
            passed=start_s <= MAX_START_S,
        ),
        Measure(
            "web: RSS after start",
            ctx.backend,
            rss,
            "MB",
            baseline=bare_rss,
            target=f"≤ {MAX_RSS_MB} MB",
            passed=rss <= MAX_RSS_MB,
        ),
    ]
