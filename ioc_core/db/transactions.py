"""Transactions that write: they take SQLite's write lock at the start, not half-way through."""

from __future__ import annotations

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
