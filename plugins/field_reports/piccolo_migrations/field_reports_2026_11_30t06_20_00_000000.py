"""Triggers that give the configuration a new version when these tables change, so every
process's cached copy of them is read again (`ioc_core.db.config_cache`)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from ioc_core.db.config_cache import unwatch, watch

ID = "2026-11-30T06:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Configuration version triggers"
TABLES = ("fr_service", "fr_field")


async def watch_tables() -> None:
    await watch(TABLES)


async def unwatch_tables() -> None:
    await unwatch(TABLES)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="field_reports", description=DESCRIPTION)
    manager.add_raw(watch_tables)
    manager.add_raw_backwards(unwatch_tables)
    return manager
