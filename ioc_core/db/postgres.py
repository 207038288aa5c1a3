"""Piccolo's PostgreSQL engine, with transactions that always give their connection back.

Piccolo's transaction keeps its pooled connection when BEGIN fails (asyncpg's protocol loses
track of a connection the server terminated while it sat in the pool) and when the ROLLBACK
after an error fails (the connection is gone): the pool slot is never freed. One database
restart under load leaked most of a pool of ten here; the next would leave every request
waiting for a connection forever, and `Pool.close()` at shutdown waits for them too. These
transactions hand the connection back, or terminate it, whatever happened.
"""

from __future__ import annotations

import logging

from piccolo.engine import postgres

from ioc_core.db.transactions import EndsAndGivesBack

log = logging.getLogger(__name__)

# A condition that lets the one statement it is part of, run on its own (autocommit), commit
# without waiting for the write-ahead log to reach the disk. On this kind of machine a flush was
# the largest part of what a small write cost, and a filing made three of them. For writes whose
# loss in a server crash does no harm, or is covered by a later synchronous commit (the WAL is
# flushed in order). Never inside a transaction: it would apply to the whole transaction.
NO_FLUSH = "set_config('synchronous_commit', 'off', true) = 'off'"


class PostgresTransaction(EndsAndGivesBack, postgres.PostgresTransaction):
    async def __aenter__(self) -> PostgresTransaction:
        if self._parent is not None:
            return self._parent
        self.connection = await self.get_connection()
        try:
            self.transaction = self.connection.transaction()
            await self.begin()
        except BaseException:
            await self._give_back()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def _give_back(self) -> None:
        try:
            if self.engine.pool:
                await self.engine.pool.release(self.connection)
            else:
                await self.connection.close()
        except Exception as exc:  # a broken connection: closing it frees its pool slot
            log.warning("database connection dropped (%s: %s)", type(exc).__name__, exc)
            self.connection.terminate()


class PostgresEngine(postgres.PostgresEngine):
    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return PostgresTransaction(engine=self, allow_nested=allow_nested)
