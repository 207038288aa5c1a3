"""Timing for the query benchmarks: a platform call and its raw baseline sampled in turns, so
the load other processes put on the machine falls on both alike."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Call = Callable[[], Awaitable[Any]]


@dataclass
class Samples:
    """Durations in seconds."""

    values: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        """Nearest rank: the smallest sample with at least q % of them at or below it."""
        if not self.values:
            raise ValueError("no samples")
        ordered = sorted(self.values)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]

    def ms(self, q: float) -> float:
        return self.percentile(q) * 1000


async def timed(call: Call) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await call()
    return time.perf_counter() - started, result


async def alternate(
    calls: Sequence[Call], runs: int, budget_s: float | None = None
) -> list[Samples]:
    """Each call `runs` times, taking turns (A B A B …); one warm-up round first. Past
    `budget_s` (warm-up included), no further round starts once two are done."""
    started = time.perf_counter()
    for call in calls:
        await call()
    samples = [Samples() for _ in calls]
    for n in range(runs):
        if budget_s is not None and n >= 2 and time.perf_counter() - started > budget_s:
            break
        for call, sample in zip(calls, samples, strict=True):
            elapsed, _ = await timed(call)
            sample.values.append(elapsed)
    return samples
