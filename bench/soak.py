"""Soak test: intake and staff work for a bounded time while workers are killed and replaced,
then a check that nothing was lost and nothing doubled.

    python -m bench.soak --minutes 10
    python -m bench.soak --seconds 20 --database-url sqlite      # the embedded default

It makes a fresh database (on the PostgreSQL server given, dropped at the end unless --keep)
and flushes the Redis db given, seeds the demo city without reports, then starts `ioc serve`
and `--workers` `ioc worker` processes on loopback. Intake clients post Open311 requests,
staff sign in and work reports through the portal's forms (follow, triage, assign, start,
public note, comment, resolve), and every `--restart-every` seconds one worker is killed
(SIGKILL and SIGTERM in turn) and a new one started. At the deadline the load stops and the
workers drain the outbox (bounded); then the database is checked against every answer the
clients got. Exit status: 0 when every check passes, 1 when one fails, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench import soak_load
from bench.soak_checks import Check, periodic_alive, verify, wait_drained
from bench.soak_platform import (
    STAFF_PASSWORD,
    Backend,
    Processes,
    SetupError,
    drop_backend,
    prepare_backend,
    process_env,
    seed,
)
from ioc_core.runtime import build_runtime
from ioc_core.settings import Settings

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_BROKER = "redis://127.0.0.1:6379/14"
# What a killed worker's messages wait before another worker takes them (the broker setting
# IOC_BROKER_HEARTBEAT_TIMEOUT_S); short, so the drain after the load stays short.
DEFAULT_HEARTBEAT_S = 5.0
# The drain waits this long beyond the heartbeat timeout, and beyond the outbox sweeper's
# delay for an event whose dispatch failed (30 s old, swept every 15 s).
DRAIN_MARGIN_S = 60.0
# The embedded broker's lease on a claimed message: a killed worker's messages wait this long.
EMBEDDED_LEASE_S = 30.0
OK, FAILED, USAGE = 0, 1, 2
DEFAULT_MINUTES = 5.0


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description="Drive intake and staff work while workers restart; check the counts.",
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--minutes", type=float, help=f"how long the load runs (default {DEFAULT_MINUTES:g})"
    )
    length.add_argument("--seconds", type=float, help="how long the load runs, in seconds")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE,
        help="PostgreSQL server to create the run's database on, or `sqlite` for the "
        f"embedded default (default {DEFAULT_DATABASE})",
    )
    parser.add_argument(
        "--broker-url",
        help=f"Redis db to flush and use, or `embedded` (default {DEFAULT_BROKER}; "
        "`embedded` with --database-url sqlite)",
    )
    parser.add_argument("--clients", type=int, default=8, help="intake clients (default 8)")
    parser.add_argument("--staff", type=int, default=2, help="staff clients (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="ioc worker processes (default 2)")
    parser.add_argument("--worker-threads", type=int, default=2, help="threads each (default 2)")
    parser.add_argument(
        "--restart-every", type=float, default=10.0, help="seconds between restarts (default 10)"
    )
    parser.add_argument(
        "--heartbeat-timeout",
        type=float,
        default=DEFAULT_HEARTBEAT_S,
        help=f"seconds before a killed worker's messages are re-queued (default "
        f"{DEFAULT_HEARTBEAT_S:g}; Redis only)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database and the var folder (logs)"
    )
    args = parser.parse_args(argv)
    minutes = args.minutes if args.minutes is not None else DEFAULT_MINUTES
    seconds = args.seconds if args.seconds is not None else minutes * 60
    if not 0 < seconds <= 24 * 3600:
        parser.error("the run lasts more than 0 seconds and at most 24 hours")
    args.duration = seconds
    for name in ("clients", "staff", "workers", "worker_threads"):
        if not 1 <= getattr(args, name) <= 64:
            parser.error(f"--{name.replace('_', '-')} must be from 1 to 64")
    if args.restart_every <= 0 or args.heartbeat_timeout < 2:
        parser.error("--restart-every must be positive and --heartbeat-timeout at least 2")
    sqlite = args.database_url in ("sqlite", "embedded")
    if not sqlite and not args.database_url.startswith(("postgresql://", "postgres://")):
        parser.error("--database-url must be postgresql://user@host:port/db or sqlite")
    if args.broker_url is None:
        args.broker_url = "embedded" if sqlite else DEFAULT_BROKER
    if args.broker_url != "embedded" and not args.broker_url.startswith("redis://"):
        parser.error("--broker-url must be redis://host:port/db or embedded")
    return args


async def _load(
    args: argparse.Namespace, processes: Processes, api_key: str, staff: Sequence[str]
) -> tuple[soak_load.Ledger, float, int]:
    """Run the clients and the restarts until the deadline; (ledger, seconds, restarts)."""
    base = processes.base
    rng = random.Random(2026)
    services = await soak_load.catalogue(base)
    areas = await soak_load.ward_shapes(base, staff[0], STAFF_PASSWORD)
    spots = soak_load.places(areas, 500, rng)
    ledger = soak_load.Ledger()
    filed: asyncio.Queue[str] = asyncio.Queue()
    started = time.monotonic()
    deadline = started + args.duration
    clients = [
        soak_load.intake_client(n, base, api_key, services, spots, ledger, deadline, filed)
        for n in range(1, args.clients + 1)
    ]
    clients += [
        soak_load.staff_client(name, STAFF_PASSWORD, base, ledger, deadline, filed)
        for name in staff
    ]
    restarts = 0

    async def restart() -> None:
        nonlocal restarts
        while (left := deadline - time.monotonic()) > args.restart_every:
            await asyncio.sleep(args.restart_every)
            # SIGKILL first: the harder case, so even a short run has one.
            processes.replace_oldest(hard=restarts % 2 == 0)
            restarts += 1
        await asyncio.sleep(max(0.0, left))

    await asyncio.gather(*clients, restart())
    return ledger, time.monotonic() - started, restarts


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:.1f}/s" if seconds > 0 else "-"


def _p95(values: list[float]) -> str:
    if len(values) < 2:
        return "-"
    return f"{statistics.quantiles(values, n=20)[-1] * 1000:.0f} ms"


def _tracebacks(logs: Path) -> str:
    """Tracebacks the processes logged, per log: a retried handler failure shows here."""
    found = {
        log.stem: log.read_text(errors="replace").count("Traceback")
        for log in sorted(logs.glob("*.log"))
    }
    return ", ".join(f"{name} {n}" for name, n in found.items() if n) or "none"


def summary(
    backend: Backend,
    ledger: soak_load.Ledger,
    seconds: float,
    restarts: int,
    processes: Processes,
    drained: tuple[bool, float],
    checks: Sequence[Check],
) -> str:
    intake = sum(n for (label, _), n in ledger.answers.items() if label == "intake")
    actions = sum(n for (label, _), n in ledger.answers.items() if label == "staff action")
    reads = sum(n for (label, _), n in ledger.answers.items() if label == "staff read")
    rows = [
        ("backend", backend.label),
        ("load", f"{seconds:.0f} s"),
        (
            "intake requests",
            f"{intake} ({len(ledger.filed)} filed, {_rate(len(ledger.filed), seconds)}, "
            f"p95 {_p95(ledger.latencies.get('intake', []))})",
        ),
        (
            "staff actions",
            f"{actions} ({len(ledger.actions)} done, {_rate(len(ledger.actions), seconds)}, "
            f"p95 {_p95(ledger.latencies.get('staff action', []))}); {reads} page reads",
        ),
        (
            "worker restarts",
            f"{restarts} ({processes.kills} SIGKILL, {processes.terms} SIGTERM); "
            f"{processes.started_workers} workers started",
        ),
        (
            "answers",
            ", ".join(
                f"{label} {status}: {n}" for (label, status), n in sorted(ledger.answers.items())
            ),
        ),
        ("drain", f"{'done' if drained[0] else 'NOT done'} in {drained[1]:.1f} s"),
        ("log tracebacks", _tracebacks(processes.logs)),
    ]
    width = max(len(name) for name, _ in rows)
    lines = ["", "soak summary", "-" * 60]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    lines += ["-" * 60]
    check_width = max(len(c.name) for c in checks)
    lines += [
        f"{'PASS' if c.passed else 'FAIL'}  {c.name:<{check_width}}  {c.detail}" for c in checks
    ]
    if ledger.samples:
        lines += ["", "unexpected answers (first ones):", *(f"  {s}" for s in ledger.samples)]
    passed = all(c.passed for c in checks)
    lines += ["-" * 60, f"result: {'PASS' if passed else 'FAIL'}"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    var_dir = Path(tempfile.mkdtemp(prefix="ioc-soak-"))
    logs = var_dir / "logs"
    logs.mkdir()
    backend: Backend | None = None
    processes: Processes | None = None
    try:
        backend = prepare_backend(args.database_url, args.broker_url, var_dir)
        extra = {
            "IOC_PLUGIN_STATE_TTL": "1",
            "IOC_BROKER_HEARTBEAT_TIMEOUT_S": f"{args.heartbeat_timeout:g}",
        }
        env = process_env(backend, var_dir, extra)
        print(f"soak: {backend.label}, {args.duration:.0f} s, var folder {var_dir}", flush=True)
        seeded = seed(env, args.staff)
        processes = Processes(env, logs, args.worker_threads)
        processes.start_server()
        for _ in range(args.workers):
            processes.start_worker()
        print(f"soak: serving on {processes.base}; {args.workers} workers; load starts", flush=True)
        ledger, seconds, restarts = asyncio.run(
            _load(args, processes, seeded.api_key, seeded.staff)
        )
        print("soak: load stopped; waiting for the workers to drain the outbox", flush=True)
        runtime = build_runtime(Settings.load(env))
        redis = backend.broker_url.startswith("redis")
        heartbeat = args.heartbeat_timeout if redis else EMBEDDED_LEASE_S

        async def finish() -> tuple[tuple[bool, float], list[Check]]:
            drained = await wait_drained(runtime, DRAIN_MARGIN_S + heartbeat, processes.reap)
            checks = await verify(runtime, ledger, seeded.staff)
            return drained, [*checks, await periodic_alive(1.25 * heartbeat)]

        drained, checks = asyncio.run(finish())
        runtime.broker.close()
        dead = processes.dead_workers()
        checks.insert(0, Check("outbox drained in time", drained[0], f"{drained[1]:.1f} s"))
        checks.append(
            Check("workers stayed up", dead == 0, f"{dead} workers exited without being told")
        )
        print(summary(backend, ledger, seconds, restarts, processes, drained, checks), flush=True)
        return OK if all(c.passed for c in checks) else FAILED
    except (SetupError, RuntimeError, httpx.HTTPError) as exc:
        print(f"soak: stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return FAILED
    finally:
        if processes is not None:
            processes.stop_all()
        if args.keep:
            database = backend.database_url if backend else "-"
            print(f"soak: kept {var_dir} (logs in {logs}) and database {database}")
        else:
            if backend is not None:
                drop_backend(backend, args.database_url)
            shutil.rmtree(var_dir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
