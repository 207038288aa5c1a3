"""Run Piccolo migrations forward from code, app by app, dependencies first."""

from __future__ import annotations

import contextlib
import io
import sqlite3
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.tables import Migration
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

from ioc_core.db.engine import app_config
from ioc_core.db.transactions import write_transaction

# Any fixed number: PostgreSQL advisory locks are keyed by an integer.
EXCLUSIVE_LOCK_KEY = 43_110_002


def prepare_sqlite(path: Path) -> None:
    """Create the file's folder and switch the file to WAL, so readers go on while one writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


async def migrate(app_modules: Iterable[str]) -> dict[str, list[str]]:
    """Apply every migration not yet run of each app; return the IDs applied, per app name."""
    runner = BaseMigrationManager()
    await Migration.create_table(if_not_exists=True)
    applied: dict[str, list[str]] = {}
    for module in app_modules:
        config = app_config(module)
        already = set(await Migration.get_migrations_which_ran(app_name=config.app_name))
        migrations = runner.get_migration_modules(config.resolved_migrations_folder_path)
        applied[config.app_name] = []
        for migration_id in sorted(set(migrations) - already):
            # One transaction: a migration is applied and recorded together, or not at all.
            # It is exclusive, so of several processes starting at once one migrates and the
            # others, once it commits, see the migration recorded and skip it.
            async with exclusive_transaction():
                ran = await Migration.get_migrations_which_ran(app_name=config.app_name)
                if migration_id in ran:
                    continue
                manager = await migrations[migration_id].forwards()
                with contextlib.redirect_stdout(io.StringIO()):
                    await manager.run()
                await Migration.insert(Migration(name=migration_id, app_name=config.app_name))
            applied[config.app_name].append(migration_id)
    return applied


@contextlib.asynccontextmanager
async def exclusive_transaction() -> AsyncIterator[None]:
    """A transaction no other process runs at the same time: for migrations and seeding,
    which check what was done and then do the rest."""
    engine = engine_finder()
    assert engine is not None, "ioc_core.db.engine.bind() must run first"
    # On SQLite the write lock taken at BEGIN IMMEDIATE already excludes the others.
    async with write_transaction():
        if not isinstance(engine, SQLiteEngine):
            await engine.run_ddl(f"SELECT pg_advisory_xact_lock({EXCLUSIVE_LOCK_KEY})")
        yield
