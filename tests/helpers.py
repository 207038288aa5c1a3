"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from typing import NoReturn, TypeVar

import pytest

T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() == "true"


def run(awaitable: Awaitable[T]) -> T:
    """Await a coroutine or a Piccolo query from synchronous test code."""

    async def wait() -> T:
        return await awaitable

    return asyncio.run(wait())


def service_missing(what: str, exc: BaseException) -> NoReturn:
    """Skip on a developer's machine; fail in CI, where every service must be there."""
    message = f"{what} unreachable: {exc}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing service fails the run)")
    pytest.skip(message)
