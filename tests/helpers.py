"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


def run(awaitable: Awaitable[T]) -> T:
    """Await a coroutine or a Piccolo query from synchronous test code."""

    async def wait() -> T:
        return await awaitable

    return asyncio.run(wait())
