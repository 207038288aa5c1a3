"""One row per (handler, event) in `handled_event`: what makes an event handler run once.

The outbox delivers at least once; `ioc_core.incidents.outbox.deliver` inserts the row with
ON CONFLICT DO NOTHING in the handler's own transaction, and this index is the conflict.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-29T22:11:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Unique (handler, event) on handled_event: each handler runs once per event"


async def create_index() -> None:
    engine = engine_finder()
    assert engine is not None
    # Portable: the same statement on SQLite and PostgreSQL.
    await engine.run_ddl(
        "CREATE UNIQUE INDEX IF NOT EXISTS handled_event_once ON handled_event (handler, event)"
    )


async def drop_index() -> None:
    engine = engine_finder()
    assert engine is not None
    await engine.run_ddl("DROP INDEX IF EXISTS handled_event_once")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="incidents", description=DESCRIPTION)
    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
