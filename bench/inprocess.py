"""The platform inside the benchmark's process, and a bare driver connection to the same
database for the raw baselines."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine

from bench.harness import Context
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings

CONNECT_TIMEOUT_S = 10.0


def settings_of(ctx: Context) -> Settings:
    return Settings.load(ctx.env)


@asynccontextmanager
async def platform(ctx: Context) -> AsyncIterator[Runtime]:
    """The runtime a web process builds, with its connection pool on PostgreSQL (as `ioc
    serve` has), so platform calls pay what they pay in production and no connection set-up."""
    runtime = build_runtime(settings_of(ctx))
    engine = runtime.engine
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool()
    try:
        yield runtime
    finally:
        if isinstance(engine, PostgresEngine) and engine.pool is not None:
            await engine.close_connection_pool()
        runtime.broker.close()


class Raw:
    """One bare connection: asyncpg on PostgreSQL, the sqlite3 module on SQLite. `fetch` runs
    a statement with `$n` (PostgreSQL) or `?` (SQLite) placeholders and returns tuples."""

    def __init__(self, pg: asyncpg.Connection | None, lite: sqlite3.Connection | None) -> None:
        self.pg = pg
        self.lite = lite

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if self.pg is not None:
            return [tuple(r) for r in await self.pg.fetch(sql, *args)]
        assert self.lite is not None
        return self.lite.execute(sql, args).fetchall()

    async def execute(self, sql: str, *args: Any) -> None:
        if self.pg is not None:
            await self.pg.execute(sql, *args)
        else:
            assert self.lite is not None
            self.lite.execute(sql, args)


@asynccontextmanager
async def raw(ctx: Context) -> AsyncIterator[Raw]:
    settings = settings_of(ctx)
    if settings.is_sqlite:
        lite = sqlite3.connect(settings.sqlite_path, timeout=30)
        try:
            yield Raw(None, lite)
        finally:
            lite.close()
        return
    pg = await asyncio.wait_for(asyncpg.connect(ctx.database_url), CONNECT_TIMEOUT_S)
    try:
        yield Raw(pg, None)
    finally:
        await pg.close()
