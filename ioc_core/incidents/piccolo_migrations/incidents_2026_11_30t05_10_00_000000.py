"""`incident_cell`: incidents counted per map grid cell, kept by triggers (see
`ioc_core.geo.cells`), and filled from the incidents that already exist.

On 1,000,000 incidents the map's city view (zoom 12) took 5.6 s and a district view (zoom 14)
1.7 s on PostGIS, counting every point in view; from this table both read a few hundred rows.

The recount is written out here (`_rebuild`): `cells.rebuild_statements` now also fills the
table of migration 2026-11-30T06:10, which does not exist yet when this one runs.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from ioc_core.geo.cells import floor_cell

ID = "2026-11-30T05:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Incident counts per map grid cell, kept by triggers"

TABLE = (
    "CREATE TABLE IF NOT EXISTS incident_cell ("
    "gx BIGINT NOT NULL, gy BIGINT NOT NULL, n BIGINT NOT NULL, "
    "sum_lon DOUBLE PRECISION NOT NULL, sum_lat DOUBLE PRECISION NOT NULL, "
    "PRIMARY KEY (gx, gy))"
)


def _rebuild(postgres: bool) -> tuple[str, ...]:
    """Count the incidents that exist before the triggers."""
    gx, gy = floor_cell("lon", postgres), floor_cell("lat", postgres)
    return (
        "DELETE FROM incident_cell",
        "INSERT INTO incident_cell (gx, gy, n, sum_lon, sum_lat) "
        f"SELECT {gx}, {gy}, COUNT(*), SUM(lon), SUM(lat) FROM incident "
        f"WHERE lon IS NOT NULL AND lat IS NOT NULL GROUP BY {gx}, {gy}",
    )


def _add(row: str, postgres: bool) -> str:
    """Count the point of `row` (NEW) into its cell."""
    gx, gy = floor_cell(f"{row}.lon", postgres), floor_cell(f"{row}.lat", postgres)
    return (
        "INSERT INTO incident_cell (gx, gy, n, sum_lon, sum_lat) "
        f"SELECT {gx}, {gy}, 1, {row}.lon, {row}.lat "
        f"WHERE {row}.lon IS NOT NULL AND {row}.lat IS NOT NULL "
        "ON CONFLICT (gx, gy) DO UPDATE SET n = incident_cell.n + 1, "
        "sum_lon = incident_cell.sum_lon + excluded.sum_lon, "
        "sum_lat = incident_cell.sum_lat + excluded.sum_lat"
    )


def _remove(row: str, postgres: bool) -> str:
    """Take the point of `row` (OLD) out of its cell."""
    gx, gy = floor_cell(f"{row}.lon", postgres), floor_cell(f"{row}.lat", postgres)
    return (
        f"UPDATE incident_cell SET n = n - 1, sum_lon = sum_lon - {row}.lon, "
        f"sum_lat = sum_lat - {row}.lat "
        f"WHERE {row}.lon IS NOT NULL AND {row}.lat IS NOT NULL AND gx = {gx} AND gy = {gy}"
    )


MOVED = "OLD.lon IS DISTINCT FROM NEW.lon OR OLD.lat IS DISTINCT FROM NEW.lat"

POSTGRES_FORWARDS = (
    TABLE,
    "CREATE OR REPLACE FUNCTION incident_cell_count() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {_remove('OLD', True)}; END IF; "
    f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {_add('NEW', True)}; END IF; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER incident_cell_insert_delete AFTER INSERT OR DELETE ON incident "
    "FOR EACH ROW EXECUTE FUNCTION incident_cell_count()",
    "CREATE TRIGGER incident_cell_update AFTER UPDATE OF lon, lat ON incident "
    f"FOR EACH ROW WHEN ({MOVED}) EXECUTE FUNCTION incident_cell_count()",
    *_rebuild(True),
)
POSTGRES_BACKWARDS = (
    "DROP TRIGGER IF EXISTS incident_cell_update ON incident",
    "DROP TRIGGER IF EXISTS incident_cell_insert_delete ON incident",
    "DROP FUNCTION IF EXISTS incident_cell_count()",
    "DROP TABLE IF EXISTS incident_cell",
)
SQLITE_MOVED = "OLD.lon IS NOT NEW.lon OR OLD.lat IS NOT NEW.lat"
SQLITE_FORWARDS = (
    TABLE,
    "CREATE TRIGGER IF NOT EXISTS incident_cell_insert AFTER INSERT ON incident "
    f"BEGIN {_add('NEW', False)}; END",
    "CREATE TRIGGER IF NOT EXISTS incident_cell_update AFTER UPDATE OF lon, lat ON incident "
    f"WHEN {SQLITE_MOVED} BEGIN {_remove('OLD', False)}; {_add('NEW', False)}; END",
    "CREATE TRIGGER IF NOT EXISTS incident_cell_delete AFTER DELETE ON incident "
    f"BEGIN {_remove('OLD', False)}; END",
    *_rebuild(False),
)
SQLITE_BACKWARDS = (
    "DROP TRIGGER IF EXISTS incident_cell_delete",
    "DROP TRIGGER IF EXISTS incident_cell_update",
    "DROP TRIGGER IF EXISTS incident_cell_insert",
    "DROP TABLE IF EXISTS incident_cell",
)


async def _run(postgres: tuple[str, ...], sqlite: tuple[str, ...]) -> None:
    engine = engine_finder()
    assert engine is not None
    for statement in postgres if engine.engine_type == "postgres" else sqlite:
        await engine.run_ddl(statement)


async def create_cells() -> None:
    await _run(POSTGRES_FORWARDS, SQLITE_FORWARDS)


async def drop_cells() -> None:
    await _run(POSTGRES_BACKWARDS, SQLITE_BACKWARDS)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="incidents", description=DESCRIPTION)
    manager.add_raw(create_cells)
    manager.add_raw_backwards(drop_cells)
    return manager
