"""Transactions that write: they take SQLite's write lock at the start, not half-way through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine, TransactionType


def write_transaction() -> Any:
    """A transaction for read-then-write work. On SQLite a deferred transaction that reads and
    then writes fails when another process wrote in between; BEGIN IMMEDIATE waits instead.
    On PostgreSQL, lock the rows read (`lock_rows()`) where the read decides the write."""
    engine = engine_finder()
    assert engine is not None, "ioc_core.db.engine.bind() must run first"
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


class EndsAndGivesBack:
    """For Piccolo transaction classes: COMMIT, or ROLLBACK after an error, then give the
    connection back with `_give_back` whatever happened, so no failure keeps it from its
    pool."""

    # Piccolo's transaction classes provide these.
    engine: Any
    context: Any
    _parent: Any
    _committed: bool
    _rolled_back: bool
    commit: Callable[[], Awaitable[None]]
    rollback: Callable[[], Awaitable[None]]

    async def __aexit__(
        self,
        exception_type: type[BaseException] | None,
        exception: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception:
                # The caller may have rolled back already.
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        finally:
            self.engine.current_transaction.reset(self.context)
            await self._give_back()
        return exception is None

    async def _give_back(self) -> None:
        raise NotImplementedError
