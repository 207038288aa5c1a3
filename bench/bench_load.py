"""The generator's bulk load: rows per second into the platform's schema (constraints kept,
secondary indexes and the R*Tree rebuilt) against the same rows written bare into plain
tables with no index, trigger or constraint, in the same run."""

from __future__ import annotations

from bench.harness import Context, Measure

# Keeping the platform's schema whole may cost at most half the bare write speed.
MIN_RATIO = 0.5
# A million incidents with their histories in five minutes on PostgreSQL, end to end.
MIN_INCIDENTS_PER_S = 1_000_000 / 300


async def run(ctx: Context) -> list[Measure]:
    g = ctx.generated
    ratio = g.load_rate / g.raw_rate if g.raw_rate else None
    # The bare baseline's writes happen inside the same run: not part of the generator's time.
    per_s = g.incidents / (g.total_s - g.raw_write_s)
    on_postgres = ctx.backend == "postgres"
    return [
        Measure(
            "load: rows written",
            ctx.backend,
            g.load_rate,
            "rows/s",
            baseline=g.raw_rate,
            target=f"≥ {MIN_RATIO}x bare",
            passed=ratio >= MIN_RATIO if ratio is not None else None,
        ),
        Measure(
            "load: incidents end to end",
            ctx.backend,
            per_s,
            "incidents/s",
            target=f"≥ {MIN_INCIDENTS_PER_S:,.0f}/s (1 M in 5 min)" if on_postgres else "",
            passed=per_s >= MIN_INCIDENTS_PER_S if on_postgres else None,
        ),
    ]
