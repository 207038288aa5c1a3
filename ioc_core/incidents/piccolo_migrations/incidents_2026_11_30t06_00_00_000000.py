"""`kpi_snapshot`: the leadership KPIs per reader scope and period, computed beforehand.

On 1,000,000 incidents the KPIs of 365 days took 1.7 s on PostgreSQL and 4.8 s on SQLite to
compute (the medians sort every duration of the period); the page now reads them from here
(`ioc_core.incidents.kpi_snapshots`). Raw SQL, because Piccolo runs a migration's raw steps
before its table operations and the unique (scope, days) index needs the table; the column
types are those Piccolo gives `tables.KpiSnapshot` on each engine (SQLite converts values by
declared type: TIMESTAMPTZ).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "KPI snapshots per reader scope and period"

COLUMNS = (
    '"scope" VARCHAR(200) NOT NULL, "days" INTEGER NOT NULL, "figures" TEXT NOT NULL, '
    '"computed_at" TIMESTAMPTZ NOT NULL, "refresh_claimed_at" TIMESTAMPTZ DEFAULT null'
)
# One snapshot per (scope, period): what the refresh's upsert conflicts on.
INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS kpi_snapshot_scope_days ON kpi_snapshot (scope, days)"
POSTGRES_FORWARDS = (
    f'CREATE TABLE IF NOT EXISTS "kpi_snapshot" ("id" SERIAL PRIMARY KEY NOT NULL, {COLUMNS})',
    INDEX,
)
SQLITE_FORWARDS = (
    f'CREATE TABLE IF NOT EXISTS "kpi_snapshot" ("id" INTEGER PRIMARY KEY NOT NULL, {COLUMNS})',
    INDEX,
)
BACKWARDS = ("DROP INDEX IF EXISTS kpi_snapshot_scope_days", "DROP TABLE IF EXISTS kpi_snapshot")


async def create_snapshots() -> None:
    engine = engine_finder()
    assert engine is not None
    postgres = engine.engine_type == "postgres"
    for statement in POSTGRES_FORWARDS if postgres else SQLITE_FORWARDS:
        await engine.run_ddl(statement)


async def drop_snapshots() -> None:
    engine = engine_finder()
    assert engine is not None
    for statement in BACKWARDS:
        await engine.run_ddl(statement)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="incidents", description=DESCRIPTION)
    manager.add_raw(create_snapshots)
    manager.add_raw_backwards(drop_snapshots)
    return manager
