"""Piccolo's SQLite engine with its connections kept open for reuse.

Piccolo's engine opens a connection (and with it an aiosqlite thread) for every statement run
outside a transaction and for every transaction, and closes it afterwards. A new SQLite
connection parses the whole schema (tables, indexes, triggers, the R*Tree) before its first
statement: filing one report cost 24 ms of CPU that way, most of it in those parses (bench/,
py-spy). This engine keeps up to IDLE_PER_LOOP idle connections per event loop and hands them
out again; a connection is only ever used by one statement or transaction at a time, as before.

Per event loop, because aiosqlite answers each call on the loop that awaits it and tests run
many short loops; the idle connections of a loop that is gone are closed when it is collected.
Their threads are daemon threads, so an idle connection never keeps a process from exiting.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

import aiosqlite
from piccolo.engine import sqlite
from piccolo.table import Table

from ioc_core.db.transactions import EndsAndGivesBack

log = logging.getLogger(__name__)

IDLE_PER_LOOP = 8
# Closing an idle connection takes its thread a moment; this bounds a stuck one.
STOP_TIMEOUT_S = 5.0


class SQLiteTransaction(EndsAndGivesBack, sqlite.SQLiteTransaction):
    """Gives its connection back to the engine after COMMIT or ROLLBACK instead of closing it."""

    engine: SQLiteEngine

    async def _give_back(self) -> None:
        await self.engine.give_back(self.connection)


class SQLiteEngine(sqlite.SQLiteEngine):
    def __init__(self, path: str, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self._idle: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, list[aiosqlite.Connection]
        ] = weakref.WeakKeyDictionary()

    def transaction(
        self,
        transaction_type: sqlite.TransactionType = sqlite.TransactionType.deferred,
        allow_nested: bool = True,
    ) -> SQLiteTransaction:
        return SQLiteTransaction(
            engine=self, transaction_type=transaction_type, allow_nested=allow_nested
        )

    async def start_connection_pool(self, **_: Any) -> None:
        """Connections are kept as they are given back: there is nothing to start."""

    async def close_connection_pool(self) -> None:
        """Close this event loop's idle connections: SQLite changes its journal mode, say, only
        when no other connection is open."""
        idle = self._idle.pop(asyncio.get_running_loop(), [])
        while idle:
            await idle.pop().close()

    async def get_connection(self) -> aiosqlite.Connection:
        """An idle connection of this event loop, or a new one."""
        loop = asyncio.get_running_loop()
        idle = self._idle.get(loop)
        if idle:
            return idle.pop()
        connection = aiosqlite.connect(**self.connection_kwargs)
        # aiosqlite's worker thread is not a daemon: an idle pooled connection would keep the
        # interpreter from exiting. Set before the thread starts (on first await).
        connection._thread.daemon = True
        await connection
        connection.row_factory = sqlite.dict_factory
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def give_back(self, connection: aiosqlite.Connection) -> None:
        """Keep a connection for reuse; close it when it is still in a transaction (a failed
        ROLLBACK) or when enough are idle."""
        loop = asyncio.get_running_loop()
        idle = self._idle.get(loop)
        if idle is None:
            idle = self._idle[loop] = []
            weakref.finalize(loop, _stop_all, idle)
        try:
            reusable = not connection.in_transaction
        except ValueError:  # closed already
            return
        if reusable and len(idle) < IDLE_PER_LOOP:
            idle.append(connection)
            return
        try:
            await connection.close()
        except Exception as exc:  # a broken connection: nothing left to give back
            log.warning("SQLite connection dropped (%s: %s)", type(exc).__name__, exc)

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: type[Table] | None = None,
    ) -> list[dict[str, Any]]:
        """A statement outside a transaction (autocommit), on a reused connection."""
        connection = await self.get_connection()
        try:
            async with connection.execute(query, args or []) as cursor:
                return await cursor.fetchall()
        finally:
            await self.give_back(connection)

    async def _run_in_existing_connection(
        self,
        connection: aiosqlite.Connection,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: type[Table] | None = None,
    ) -> list[dict[str, Any]]:
        """A statement in the open transaction: its connection has foreign keys on already."""
        async with connection.execute(query, args or []) as cursor:
            return await cursor.fetchall()


def _stop_all(idle: list[aiosqlite.Connection]) -> None:
    """The loop of these connections is gone: stop their threads, which close them, and wait
    for that (a connection collected before its thread closed it warns of a leak)."""
    for connection in idle:
        connection.stop()
    for connection in idle:
        connection._thread.join(STOP_TIMEOUT_S)
    idle.clear()
