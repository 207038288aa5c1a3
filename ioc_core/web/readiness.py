"""Readiness: every part a process depends on answers within a short time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

CHECK_TIMEOUT_S = 3.0
Check = Callable[[], Awaitable[Any]]


class Readiness:
    def __init__(self, checks: Mapping[str, Check]) -> None:
        self.checks = dict(checks)

    def names(self) -> list[str]:
        return sorted(self.checks)

    async def failing(self) -> list[dict[str, str]]:
        """The parts that do not answer, each with the error seen; empty when all are ready."""
        results = await asyncio.gather(
            *(asyncio.wait_for(check(), CHECK_TIMEOUT_S) for check in self.checks.values()),
            return_exceptions=True,
        )
        return [
            {"part": name, "error": _describe(result)}
            for name, result in zip(self.checks, results, strict=True)
            if isinstance(result, BaseException)
        ]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {CHECK_TIMEOUT_S:g} s"
    return f"{type(exc).__name__}: {exc}"[:300]
