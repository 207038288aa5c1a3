"""The benchmark runner: a fresh database per backend, migrated, seeded and loaded with the
generator, then every registered benchmark, then one results table.

A benchmark is a module `bench/bench_<name>.py` with `async def run(ctx: Context) ->
list[Measure]`; modules run in name order. A measure carries its raw baseline (same run, same
machine) when it has one, and its target as text with PASS/FAIL (None: for information).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import importlib
import json
import os
import pkgutil
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from bench.databases import create_database, drop_database, with_database
from bench.generate import GenerateResult, describe, generate
from bench.processes import CommandFailed, ioc

BENCH_DIR = Path(__file__).parent
QUICK_INCIDENTS = 20_000
FULL_INCIDENTS = 1_000_000
SEED_TIMEOUT_S = 600.0
# The PostgreSQL runs' broker, as in production: Redis, on a db no test (15) or soak (14) uses;
# flushed when a run starts.
REDIS_URL = os.environ.get("IOC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")


@dataclass(frozen=True)
class Measure:
    name: str
    backend: str
    value: float
    unit: str
    baseline: float | None = None
    target: str = ""
    passed: bool | None = None

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "-"}[self.passed]


@dataclass
class Context:
    """What a benchmark gets: the loaded database and how long to run."""

    backend: str
    database_url: str
    broker_url: str
    # The folder the platform's processes use (IOC_VAR_DIR): secret key, embedded queue.
    var_dir: Path
    incidents: int
    quick: bool
    seed: int
    generated: GenerateResult

    @property
    def env(self) -> dict[str, str]:
        """The environment for `ioc serve`, `ioc worker` and other platform processes."""
        return os.environ | {
            "IOC_DATABASE_URL": self.database_url,
            "IOC_BROKER_URL": self.broker_url,
            "IOC_VAR_DIR": str(self.var_dir),
        }

    def seconds(self, quick: float, full: float) -> float:
        """How long a timed loop runs in this mode."""
        return quick if self.quick else full


Benchmark = Callable[[Context], Awaitable[list[Measure]]]


def names() -> list[str]:
    """The benchmarks beside this module: `bench_<name>.py`, by name."""
    modules = sorted(info.name for info in pkgutil.iter_modules([str(BENCH_DIR)]))
    return [module.removeprefix("bench_") for module in modules if module.startswith("bench_")]


def registered(only: Collection[str] | None = None) -> list[tuple[str, Benchmark]]:
    """The benchmarks to run, by name: all of them, or those in `only`."""
    found = []
    for name in names():
        if only is None or name in only:
            module: ModuleType = importlib.import_module(f"bench.bench_{name}")
            found.append((name, module.run))
    return found


class SetupError(RuntimeError):
    """A backend could not be prepared; the message says which step and why."""


@dataclass
class Backend:
    name: str
    database_url: str
    broker_url: str
    var_dir: Path
    drop: Callable[[], None] = field(default=lambda: None)


def fresh_backend(name: str, server_url: str, var_dir: Path) -> Backend:
    """A new empty database: a SQLite file in `var_dir` with the embedded broker, or a database
    created on the PostgreSQL server (dropped by `drop`) with the Redis broker."""
    broker = f"embedded:{var_dir / 'queue.sqlite3'}"
    if name == "sqlite":
        return Backend(name, f"sqlite:///{var_dir / 'ioc.sqlite3'}", broker, var_dir)
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).flushdb()
    except redis.RedisError as exc:
        raise SetupError(f"Redis at {REDIS_URL} unreachable: {exc}") from exc
    broker = REDIS_URL
    try:
        database = create_database(server_url, "ioc_bench")
    except (OSError, TimeoutError) as exc:
        raise SetupError(f"PostgreSQL at {server_url} unreachable: {exc}") from exc
    return Backend(
        name,
        with_database(server_url, database),
        broker,
        var_dir,
        lambda: drop_database(server_url, database),
    )


def seed(backend: Backend) -> None:
    """Migrate, enable field_reports and seed the demo city without reports."""
    env = os.environ | {
        "IOC_DATABASE_URL": backend.database_url,
        "IOC_BROKER_URL": backend.broker_url,
        "IOC_VAR_DIR": str(backend.var_dir),
    }
    try:
        ioc(env, "demo", "--seed-only", "--reports", "0", timeout=SEED_TIMEOUT_S)
    except CommandFailed as exc:
        raise SetupError(str(exc)) from exc


@dataclass
class RunResult:
    measures: list[Measure]
    errors: list[str]


def run_backend(
    name: str,
    server_url: str,
    incidents: int,
    quick: bool,
    seed_value: int,
    progress: bool,
    only: Collection[str] | None = None,
) -> RunResult:
    measures: list[Measure] = []
    errors: list[str] = []
    var_dir = Path(tempfile.mkdtemp(prefix=f"ioc-bench-{name}-"))
    try:
        backend = fresh_backend(name, server_url, var_dir)
    except SetupError as exc:
        shutil.rmtree(var_dir, ignore_errors=True)
        return RunResult([], [f"{name}: {exc}"])
    try:
        started = time.perf_counter()
        seed(backend)
        _say(f"{name}: migrated and seeded in {time.perf_counter() - started:.1f} s")
        generated = asyncio.run(
            generate(backend.database_url, incidents, seed_value, progress, raw_baseline=True)
        )
        for line in describe(generated):
            _say(f"{name}: {line}")
        ctx = Context(
            backend=name,
            database_url=backend.database_url,
            broker_url=backend.broker_url,
            var_dir=var_dir,
            incidents=incidents,
            quick=quick,
            seed=seed_value,
            generated=generated,
        )
        for bench_name, bench in registered(only):
            started = time.perf_counter()
            try:
                measures += asyncio.run(bench(ctx))
            except Exception as exc:  # one broken benchmark must not hide the others
                traceback.print_exc(file=sys.stderr)
                errors.append(f"{name}: {bench_name}: {type(exc).__name__}: {exc}")
            _say(f"{name}: {bench_name} done in {time.perf_counter() - started:.1f} s")
    except (SetupError, subprocess.TimeoutExpired, OSError) as exc:
        errors.append(f"{name}: {exc}")
    finally:
        backend.drop()
        shutil.rmtree(var_dir, ignore_errors=True)
    return RunResult(measures, errors)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# The results table

HEADER = ("Measure", "Backend", "Value", "Unit", "Raw baseline", "Ratio", "Target", "Result")


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def rows(measures: list[Measure]) -> Iterator[tuple[str, ...]]:
    for m in measures:
        ratio = m.ratio
        yield (
            m.name,
            m.backend,
            _number(m.value),
            m.unit,
            _number(m.baseline),
            f"{ratio:.2f}x" if ratio is not None else "-",
            m.target or "-",
            m.verdict,
        )


def text_table(measures: list[Measure]) -> str:
    table = [HEADER, *rows(measures)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(measures: list[Measure]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in rows(measures)]
    return "\n".join(lines)


def machine() -> str:
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )


def write_results(
    output: Path, measures: list[Measure], errors: list[str], incidents: int, quick: bool
) -> None:
    """bench/results.md (the table the README shows) and bench/results.json."""
    output.mkdir(parents=True, exist_ok=True)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = "quick" if quick else "full"
    heading = f"{incidents:,} incidents ({mode} run), {when}, {machine()}."
    text = [heading, "", markdown_table(measures), ""]
    text += [f"- error: {e}" for e in errors]
    (output / "results.md").write_text("\n".join(text).rstrip() + "\n", encoding="utf-8")
    document = {
        "incidents": incidents,
        "mode": mode,
        "when": when,
        "machine": machine(),
        "measures": [
            dataclasses.asdict(m) | {"ratio": m.ratio, "result": m.verdict} for m in measures
        ],
        "errors": errors,
    }
    (output / "results.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
