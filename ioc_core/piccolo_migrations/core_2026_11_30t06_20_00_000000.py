"""`config_version`: the token that tells each process its cached configuration is out of date
(`ioc_core.db.config_cache`); the apps' migrations add the triggers on their tables."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from ioc_core.db.config_cache import PG_FUNCTION, TABLE, version_statements

ID = "2026-11-30T06:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Configuration version token for per-process caches"


async def create_version() -> None:
    engine = engine_finder()
    assert engine is not None
    for statement in version_statements(engine.engine_type == "postgres"):
        await engine.run_ddl(statement)


async def drop_version() -> None:
    engine = engine_finder()
    assert engine is not None
    if engine.engine_type == "postgres":
        await engine.run_ddl(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
    await engine.run_ddl(f"DROP TABLE IF EXISTS {TABLE}")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    manager.add_raw(create_version)
    manager.add_raw_backwards(drop_version)
    return manager
