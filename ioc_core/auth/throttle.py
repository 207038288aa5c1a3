"""Slow down password guessing: a user name or an address with too many recent failures waits."""

from __future__ import annotations

import datetime as dt

from ioc_core.auth.errors import TooManyAttempts
from ioc_core.auth.tables import LoginFailure

WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def check(username: str, address: str) -> None:
    """Raise TooManyAttempts while this user name or address is locked out."""
    since = _now() - WINDOW
    for column, value, limit in (
        (LoginFailure.username, username.lower(), MAX_FAILURES_PER_USER),
        (LoginFailure.address, address, MAX_FAILURES_PER_ADDRESS),
    ):
        recent = (
            await LoginFailure.select(LoginFailure.at)
            .where(column == value, LoginFailure.at >= since)
            .order_by(LoginFailure.at, ascending=False)
            .limit(limit)
        )
        if len(recent) >= limit:
            # Locked until the oldest of the last `limit` failures leaves the window.
            retry_after = recent[-1]["at"] + WINDOW - _now()
            raise TooManyAttempts(int(retry_after.total_seconds()) + 1)


async def record_failure(username: str, address: str) -> None:
    await LoginFailure.insert(LoginFailure(username=username.lower(), address=address, at=_now()))
    # Old rows are no longer needed to decide anything.
    await LoginFailure.delete().where(LoginFailure.at < _now() - 2 * WINDOW)


async def clear(username: str) -> None:
    await LoginFailure.delete().where(LoginFailure.username == username.lower())
