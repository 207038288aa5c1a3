"""PostGIS on PostgreSQL; nothing on SQLite, where lat/lon columns and R*Tree tables serve."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from ioc_core.geo.migrations import create_postgis

ID = "2026-11-29T20:43:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "PostGIS extension (PostgreSQL only)"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    manager.add_raw(create_postgis())
    return manager
