"""Bulk writers for the generator: binary COPY on PostgreSQL, executemany on SQLite.

Both drop the secondary indexes of the tables they fill (on PostgreSQL also the unique
constraints no foreign key relies on, on SQLite the triggers that keep the R*Tree) for the load,
and recreate them afterwards from the very definitions the database held, so the schema ends as
the migrations made it. They also keep what the platform counts on:
id sequences, the ticket counters, the R*Tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import struct
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from piccolo.engine import engine_finder

from ioc_core.db.engine import bind, engine_for
from ioc_core.geo import cells
from ioc_core.plugins.registry import load_plugins
from ioc_core.settings import Settings

LOADED = ("incident", "incident_event", "escalation", "fr_report")
SRID = 4326
# EWKB of a point with an SRID: little-endian, type 1 with the SRID flag, SRID, x, y.
EWKB_POINT = struct.Struct("<BIIdd")
RAW_PREFIX = "bench_raw_"
# Connections that build the indexes and analyze the tables at the end of a PostgreSQL load, at
# once: the server runs one statement per connection and the generator waits meanwhile.
FINISH_CONNECTIONS = max(2, min(4, os.cpu_count() or 2))
MAINTENANCE_MEMORY = "256MB"


@dataclass
class Table:
    """Rows of one table as columns: numpy arrays or lists. Timestamps are epoch seconds (NaN
    for null), ids 0 stand for null in `nullable_ids`, the geometry column holds (x, y)."""

    name: str
    columns: dict[str, Any]
    timestamps: Sequence[str] = ()
    json: Sequence[str] = ()
    geometry: str | None = None
    nullable_ids: Sequence[str] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.columns["id"])


def _ids(values: np.ndarray, nullable: bool) -> list[int | None]:
    out: list[int | None] = np.asarray(values, dtype=np.int64).tolist()
    return [v or None for v in out] if nullable else out


def _plain(table: Table, name: str) -> list[Any]:
    value = table.columns[name]
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "iu":
            return _ids(value, name in table.nullable_ids)
        return value.tolist()
    return list(value)


class Loader:
    """What the generator needs of a database: a few reads, then bulk writes."""

    async def fetch(self, sql: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def has_table(self, name: str) -> bool:
        raise NotImplementedError

    async def begin(self, raw_baseline: bool) -> None:
        raise NotImplementedError

    async def write(self, table: Table) -> None:
        raise NotImplementedError

    async def write_raw(self, table: Table) -> None:
        raise NotImplementedError

    async def finish(self, counters: dict[int, int]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class PostgresLoader(Loader):
    def __init__(self, conn: Any, url: str) -> None:
        self.conn = conn
        self.url = url
        # What the load goes without: table, the statement dropping it, the one making it.
        self.rebuilt: list[tuple[str, str, str]] = []
        self.raw: list[str] = []
        self.tables: list[str] = []

    @classmethod
    async def connect(cls, url: str) -> PostgresLoader:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=30)
        # Points go to COPY as EWKB, which PostGIS's binary input reads as it is.
        await conn.set_type_codec(
            "geometry", encoder=bytes, decoder=bytes, schema="public", format="binary"
        )
        return cls(conn, url)

    async def fetch(self, sql: str) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.conn.fetch(sql)]

    async def has_table(self, name: str) -> bool:
        return bool(await self.conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name))

    async def begin(self, raw_baseline: bool) -> None:
        self.tables = [t for t in LOADED if await self.has_table(t)]
        # Secondary indexes, and unique constraints no foreign key relies on: checked row by
        # row in random order (a token), they cost more during the load than built once after
        # it, as pg_restore does. Primary keys, and what foreign keys point at, stay.
        indexes = await self.conn.fetch(
            "SELECT i.indexname AS name, i.tablename, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = 'public' AND i.tablename = ANY($1::text[]) AND NOT EXISTS ("
            "SELECT 1 FROM pg_constraint c "
            "WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)",
            self.tables,
        )
        uniques = await self.conn.fetch(
            "SELECT c.conname AS name, c.conrelid::regclass::text AS tablename, "
            "pg_get_constraintdef(c.oid) AS definition FROM pg_constraint c "
            "WHERE c.contype = 'u' AND c.conrelid = ANY($1::text[]::regclass[]) AND NOT EXISTS ("
            "SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)",
            self.tables,
        )
        self.rebuilt = [
            (r["tablename"], f'DROP INDEX "{r["name"]}"', r["indexdef"]) for r in indexes
        ] + [
            (
                r["tablename"],
                f'ALTER TABLE "{r["tablename"]}" DROP CONSTRAINT "{r["name"]}"',
                f'ALTER TABLE "{r["tablename"]}" ADD CONSTRAINT "{r["name"]}" {r["definition"]}',
            )
            for r in uniques
        ]
        for _, drop, _ in self.rebuilt:
            await self.conn.execute(drop)
        # The generator writes consistent keys: skip the per-row foreign key triggers.
        await self.conn.execute("SET session_replication_role = replica")
        await self.conn.execute(f"SET maintenance_work_mem = '{MAINTENANCE_MEMORY}'")
        if raw_baseline:
            for table in self.tables:
                raw = RAW_PREFIX + table
                await self.conn.execute(f'CREATE TABLE "{raw}" (LIKE "{table}")')
                self.raw.append(raw)

    def _records(self, table: Table) -> tuple[list[str], list[tuple[Any, ...]]]:
        names = list(table.columns)
        columns: list[list[Any]] = []
        for name in names:
            if name in table.timestamps:
                # Naive datetimes: asyncpg sends them as UTC to a timestamptz column.
                value = np.asarray(table.columns[name], dtype=np.float64)
                columns.append(value.astype("datetime64[s]").tolist())
            elif name == table.geometry:
                x, y = table.columns[name]
                columns.append(
                    [
                        EWKB_POINT.pack(1, 0x20000001, SRID, a, b)
                        for a, b in zip(x.tolist(), y.tolist(), strict=True)
                    ]
                )
            else:
                columns.append(_plain(table, name))
        return names, list(zip(*columns, strict=True))

    async def write(self, table: Table) -> None:
        names, records = self._records(table)
        await self.conn.copy_records_to_table(table.name, records=records, columns=names)

    async def write_raw(self, table: Table) -> None:
        names, records = self._records(table)
        await self.conn.copy_records_to_table(
            RAW_PREFIX + table.name, records=records, columns=names
        )

    async def finish(self, counters: dict[int, int]) -> None:
        await self.conn.execute("SET session_replication_role = DEFAULT")
        for raw in self.raw:
            await self.conn.execute(f'DROP TABLE "{raw}"')
        # Largest tables first, so the last statements to start are short ones.
        sizes = {
            r["name"]: r["size"]
            for r in await self.conn.fetch(
                "SELECT t AS name, pg_relation_size(t::regclass) AS size FROM unnest($1::text[]) t",
                self.tables,
            )
        }
        by_size = sorted(self.rebuilt, key=lambda rebuilt: -sizes[rebuilt[0]])
        await self._at_once([make for _, _, make in by_size])
        # The triggers were off (replica role): recount the map's cells.
        if await self.has_table("incident_cell"):
            for statement in cells.rebuild_statements(postgres=True):
                await self.conn.execute(statement)
        for table in self.tables:
            await self.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f'(SELECT coalesce(max(id), 0) + 1 FROM "{table}"), false)'
            )
        for year, last in counters.items():
            updated = await self.conn.execute(
                "UPDATE ticket_counter SET last = greatest(last, $2) WHERE year = $1", year, last
            )
            if updated == "UPDATE 0":
                await self.conn.execute(
                    "INSERT INTO ticket_counter (year, last) VALUES ($1, $2)", year, last
                )
        await self._at_once([f'ANALYZE "{table}"' for table in self.tables])

    async def _at_once(self, statements: Sequence[str]) -> None:
        """Run independent statements on FINISH_CONNECTIONS connections, each taking the next
        one left when it is done."""
        import asyncpg

        waiting = list(reversed(statements))
        extra = [
            await asyncpg.connect(self.url, timeout=30)
            for _ in range(min(FINISH_CONNECTIONS, len(statements)) - 1)
        ]

        async def work(conn: Any) -> None:
            while waiting:
                await conn.execute(waiting.pop())

        try:
            for conn in extra:
                await conn.execute(f"SET maintenance_work_mem = '{MAINTENANCE_MEMORY}'")
            # Every connection runs to its end before a failure is raised: none is closed
            # while its statement runs.
            results = await asyncio.gather(
                *(work(conn) for conn in [self.conn, *extra]), return_exceptions=True
            )
        finally:
            for conn in extra:
                await conn.close()
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def close(self) -> None:
        await self.conn.close()


class SqliteLoader(Loader):
    def __init__(self, path: str, keep_triggers: bool = False) -> None:
        self.conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.keep_triggers = keep_triggers
        self.indexes: list[str] = []
        self.triggers: list[str] = []
        self.journal = "wal"
        self.rtree_from = 0
        self.tables: list[str] = []

    async def fetch(self, sql: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute(sql).fetchall()]

    async def has_table(self, name: str) -> bool:
        found = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return found is not None

    async def begin(self, raw_baseline: bool) -> None:
        self.tables = [t for t in LOADED if await self.has_table(t)]
        # The platform's idle connections (the generator asked its routing and calendar) would
        # keep SQLite from changing the journal mode.
        engine = engine_finder()
        assert engine is not None
        await engine.close_connection_pool()
        self.journal = self.conn.execute("PRAGMA journal_mode").fetchone()[0]
        # For the load only: no journal, no fsync, a large page cache.
        self.conn.execute("PRAGMA journal_mode = OFF")
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("PRAGMA cache_size = -262144")
        self.conn.execute("PRAGMA temp_store = MEMORY")
        marks = ",".join("?" * len(self.tables))
        self.indexes = [
            r[0]
            for r in self.conn.execute(
                f"SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({marks}) ORDER BY rowid",
                self.tables,
            )
        ]
        index_names = [
            r[0]
            for r in self.conn.execute(
                f"SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({marks}) ORDER BY rowid",
                self.tables,
            )
        ]
        for name in index_names:
            self.conn.execute(f'DROP INDEX "{name}"')
        self.rtree_from = self.conn.execute("SELECT coalesce(max(id), 0) FROM incident").fetchone()[
            0
        ]
        if not self.keep_triggers:
            rows = self.conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = "
                "'incident' ORDER BY rowid"
            ).fetchall()
            self.triggers = [r["sql"] for r in rows]
            for row in rows:
                self.conn.execute(f'DROP TRIGGER "{row["name"]}"')
        if raw_baseline:
            for table in self.tables:
                self.conn.execute(
                    f'CREATE TABLE "{RAW_PREFIX}{table}" AS SELECT * FROM "{table}" WHERE 0'
                )

    def _rows(self, table: Table) -> tuple[list[str], list[tuple[Any, ...]]]:
        names = list(table.columns)
        columns: list[list[Any]] = []
        for name in names:
            if name in table.timestamps:
                columns.append(_sqlite_times(np.asarray(table.columns[name], dtype=np.float64)))
            elif name == table.geometry:
                x, y = table.columns[name]
                wkt = shapely.to_wkt(shapely.points(x, y), rounding_precision=-1)
                columns.append([f"SRID={SRID};{w}" for w in wkt.tolist()])
            else:
                columns.append(_plain(table, name))
        return names, list(zip(*columns, strict=True))

    def _insert(self, name: str, names: list[str], rows: list[tuple[Any, ...]]) -> None:
        quoted = ", ".join(f'"{n}"' for n in names)
        marks = ", ".join("?" * len(names))
        self.conn.execute("BEGIN")
        self.conn.executemany(f'INSERT INTO "{name}" ({quoted}) VALUES ({marks})', rows)
        self.conn.execute("COMMIT")

    async def write(self, table: Table) -> None:
        self._insert(table.name, *self._rows(table))

    async def write_raw(self, table: Table) -> None:
        self._insert(RAW_PREFIX + table.name, *self._rows(table))

    async def finish(self, counters: dict[int, int]) -> None:
        conn = self.conn
        conn.execute("BEGIN")
        for table in self.tables:
            conn.execute(f'DROP TABLE IF EXISTS "{RAW_PREFIX}{table}"')
        if self.triggers:
            # The migration's own statement for rows that exist before its triggers.
            conn.execute(
                "INSERT INTO incident_rtree (id, min_lon, max_lon, min_lat, max_lat) "
                "SELECT id, lon, lon, lat, lat FROM incident "
                "WHERE lon IS NOT NULL AND lat IS NOT NULL AND id > ?",
                (self.rtree_from,),
            )
            for sql in self.triggers:
                conn.execute(sql)
        if self.triggers and await self.has_table("incident_cell"):
            # The map's cells were not counted while their triggers were dropped.
            for statement in cells.rebuild_statements(postgres=False):
                conn.execute(statement)
        for sql in self.indexes:
            conn.execute(sql)
        for year, last in counters.items():
            updated = conn.execute(
                "UPDATE ticket_counter SET last = max(last, ?) WHERE year = ?", (last, year)
            ).rowcount
            if not updated:
                conn.execute("INSERT INTO ticket_counter (year, last) VALUES (?, ?)", (year, last))
        conn.execute("COMMIT")
        conn.execute(f"PRAGMA journal_mode = {self.journal}")

    async def close(self) -> None:
        self.conn.close()


def _sqlite_times(seconds: np.ndarray) -> list[str | None]:
    """As Piccolo stores a UTC datetime in SQLite: `str(datetime)`, whole seconds here."""
    out: list[str | None] = [None] * len(seconds)
    ok = ~np.isnan(seconds)
    text = np.datetime_as_string(seconds[ok].astype("datetime64[s]"), unit="s").tolist()
    for i, t in zip(np.flatnonzero(ok).tolist(), text, strict=True):
        out[i] = t.replace("T", " ") + "+00:00"
    return out


@contextlib.asynccontextmanager
async def open_loader(database_url: str, keep_triggers: bool = False) -> AsyncIterator[Loader]:
    """A loader on `database_url`, with the platform's tables bound to the same database (the
    generator asks the platform's own routing and calendar code)."""
    with tempfile.TemporaryDirectory(prefix="ioc-bench-") as var:
        settings = Settings.load(
            {
                "IOC_DATABASE_URL": database_url,
                "IOC_VAR_DIR": var,
                "IOC_SECRET_KEY": "bench-generator-only-" + "x" * 32,
            }
        )
        engine = engine_for(settings)
        bind(engine, load_plugins(settings).piccolo_apps())
        loader: Loader
        if settings.is_sqlite:
            loader = SqliteLoader(str(settings.sqlite_path), keep_triggers)
        else:
            loader = await PostgresLoader.connect(database_url)
            await engine.start_connection_pool(min_size=1, max_size=2)
        try:
            yield loader
        finally:
            await loader.close()
            if not settings.is_sqlite:
                await engine.close_connection_pool()
