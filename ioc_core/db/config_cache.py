"""Read-mostly configuration (services, categories, routing rules, SLA targets, the work
calendar) kept in each process and read again only after it changed.

Filing one report read about ten rows of configuration that change a few times a month; at a
few hundred reports a second those reads were a quarter of the intake's time (bench/). Every
configuration table carries triggers (`watch_statements`, run by each app's migration) that give
the one row of `config_version` a new random token in the writing transaction. A `ConfigCache`
remembers the token its value was read at and compares it with the stored one at every use (or
once for a whole `pinned` block): one row by primary key instead of the configuration's
queries, and a change made by any process, or a test writing the tables directly, is seen by the
next use everywhere. A random token, not a counter: a change rolled back after a transaction
cached what it wrote cannot come back under the same number as the next committed change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Generic, TypeVar

from piccolo.engine import engine_finder
from piccolo.querystring import QueryString

T = TypeVar("T")

TABLE = "config_version"
_READ = QueryString(f"SELECT token FROM {TABLE} WHERE id = 1")
# The function PostgreSQL's statement triggers call (created by the core's migration).
PG_FUNCTION = "ioc_config_changed"
# The version `pinned` read for the code running inside it.
_pinned: ContextVar[int | None] = ContextVar("config_version_pinned", default=None)


def version_statements(postgres: bool) -> list[str]:
    """The version row, and on PostgreSQL the function every watching trigger calls. The first
    token is random too: a process that moves to another database (tests do) must not take
    that database's configuration for the one it cached."""
    token = "floor(random() * 9.0e18)::bigint" if postgres else "random()"
    statements = [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY, token BIGINT NOT NULL)",
        f"INSERT INTO {TABLE} (id, token) VALUES (1, {token})",
    ]
    if postgres:
        statements.append(
            f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN UPDATE {TABLE} SET token = {token} WHERE id = 1; RETURN NULL; END $$"
        )
    return statements


def watch_statements(table: str, postgres: bool) -> list[str]:
    """Triggers giving the configuration a new version whenever `table` changes. Migrations run
    this: once released, what it writes must stay as it is (a change needs a new migration)."""
    if postgres:
        return [
            f"CREATE TRIGGER {table}_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()"
        ]
    # SQLite has row triggers only: a statement writing many rows draws a token per row.
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_config_{event.lower()} AFTER {event} ON {table} "
        f"BEGIN UPDATE {TABLE} SET token = random() WHERE id = 1; END"
        for event in ("INSERT", "UPDATE", "DELETE")
    ]


def unwatch_statements(table: str, postgres: bool) -> list[str]:
    if postgres:
        return [f"DROP TRIGGER IF EXISTS {table}_config_version ON {table}"]
    return [
        f"DROP TRIGGER IF EXISTS {table}_config_{event}" for event in ("insert", "update", "delete")
    ]


async def current_version() -> int:
    """The stored configuration's version token, inside the caller's transaction if any."""
    engine = engine_finder()
    assert engine is not None, "ioc_core.db.engine.bind() must run first"
    rows = await engine.run_querystring(_READ)
    return int(rows[0]["token"])


@asynccontextmanager
async def pinned() -> AsyncIterator[None]:
    """Inside this block every cache is compared with one version read at its start: for code
    that reads configuration several times and changes none of it (filing an incident read
    it six times, each a round trip). Nested blocks keep the outermost version."""
    if _pinned.get() is not None:
        yield
        return
    reset = _pinned.set(await current_version())
    try:
        yield
    finally:
        _pinned.reset(reset)


class ConfigCache(Generic[T]):
    """One value made from configuration tables, loaded again when their version changed."""

    def __init__(self, load: Callable[[], Awaitable[T]]) -> None:
        self._load = load
        self._version: int | None = None
        self._value: T | None = None

    async def get(self) -> T:
        version = _pinned.get()
        if version is None:
            version = await current_version()
        if self._version != version or self._value is None:
            # Labelled with the version read before loading: a change landing meanwhile makes
            # the next use load again rather than keep an older value under the newer label.
            self._value = await self._load()
            self._version = version
        return self._value


async def watch(tables: tuple[str, ...]) -> None:
    """A migration's step: the triggers of `watch_statements` on each of `tables`."""
    await _run_each(tables, watch_statements)


async def unwatch(tables: tuple[str, ...]) -> None:
    await _run_each(tables, unwatch_statements)


async def _run_each(tables: tuple[str, ...], statements: Callable[[str, bool], list[str]]) -> None:
    engine = engine_finder()
    assert engine is not None
    for table in tables:
        for statement in statements(table, engine.engine_type == "postgres"):
            await engine.run_ddl(statement)
