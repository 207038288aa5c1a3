"""Indexes for the bell and the sender: the unread of a user (counted on every page), a user's
notifications newest first, and the messages still to send."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-29T23:31:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Indexes: unread notifications of a user, a user's newest, messages to send"

# Partial indexes: the same statements on SQLite and PostgreSQL, and they stay small because
# read notifications and sent messages leave them.
INDEXES = {
    "notification_unread": 'notification ("user") WHERE read_at IS NULL',
    "notification_of_user": 'notification ("user", id)',
    "outbound_message_pending": (
        "outbound_message (claimed_until) WHERE sent_at IS NULL AND failed_at IS NULL"
    ),
}


async def create_indexes() -> None:
    engine = engine_finder()
    assert engine is not None
    for name, target in INDEXES.items():
        await engine.run_ddl(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


async def drop_indexes() -> None:
    engine = engine_finder()
    assert engine is not None
    for name in INDEXES:
        await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)
    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
