"""`python -m bench`: the benchmarks on a fresh database per backend, as one results table.

    python -m bench --quick                       about 20,000 incidents, seconds per benchmark
    python -m bench --backend postgres            1,000,000 incidents on PostgreSQL only
    python -m bench --database-url postgresql://user@host:5432/postgres --incidents 200000
    python -m bench --only map,kpis               some of the benchmarks

Prints the table (measure, backend, value, raw baseline, ratio, target, PASS/FAIL) and writes
it to `<output>/results.md` and `results.json` (default: this folder). Exit status: 0 when
every benchmark ran (a missed target is a result, not an error), 1 when one could not run,
2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.generate import DEFAULT_SEED
from bench.harness import (
    BENCH_DIR,
    FULL_INCIDENTS,
    QUICK_INCIDENTS,
    names,
    run_backend,
    text_table,
    write_results,
)

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Benchmarks as ratios to raw baselines."
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a small run: {QUICK_INCIDENTS:,} incidents, a few seconds per benchmark",
    )
    parser.add_argument("--backend", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SERVER,
        help="the PostgreSQL server to create the run's database on (dropped at the end; "
        f"default {DEFAULT_SERVER})",
    )
    parser.add_argument(
        "--incidents", type=int, help=f"incidents to load (default {FULL_INCIDENTS:,})"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--output", type=Path, default=BENCH_DIR, help="where results.md and results.json go"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        help=f"the benchmarks to run, comma-separated, of: {', '.join(names())}",
    )
    args = parser.parse_args(argv)
    unknown = set(args.only or ()) - set(names())
    if unknown:
        parser.error(
            f"no benchmark named {', '.join(sorted(unknown))}; there are {', '.join(names())}"
        )
    if args.incidents is not None and args.incidents < 1:
        parser.error("--incidents must be at least 1")
    if not args.database_url.startswith(("postgresql://", "postgres://")):
        parser.error("--database-url must be a postgresql:// server URL")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    incidents = args.incidents or (QUICK_INCIDENTS if args.quick else FULL_INCIDENTS)
    backends = ("postgres", "sqlite") if args.backend == "both" else (args.backend,)
    measures, errors = [], []
    for backend in backends:
        result = run_backend(
            backend,
            args.database_url,
            incidents,
            args.quick,
            args.seed,
            not args.no_progress,
            args.only,
        )
        measures += result.measures
        errors += result.errors
    print(text_table(measures))
    for error in errors:
        print(f"error: {error}")
    write_results(args.output, measures, errors, incidents, args.quick)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
