"""An index on `incident.closed_at`: the KPIs select the incidents finished in a period.

`ioc_core.incidents.kpis` reads the incidents resolved in the last days; without the index a
city's whole history is scanned for each figure.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Index on incident.closed_at for the KPIs of a period"


async def create_index() -> None:
    engine = engine_finder()
    assert engine is not None
    # Portable: the same statement on SQLite and PostgreSQL.
    await engine.run_ddl("CREATE INDEX IF NOT EXISTS incident_closed_at ON incident (closed_at)")


async def drop_index() -> None:
    engine = engine_finder()
    assert engine is not None
    await engine.run_ddl("DROP INDEX IF EXISTS incident_closed_at")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="incidents", description=DESCRIPTION)
    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
