"""Spatial indexes of incidents and areas, one set per engine.

PostgreSQL: GiST on `incident.location` (bounding-box and area queries), GiST on the expression
`location::geography` (radius and nearest queries in metres: only an index on that exact
expression serves them), GiST on `area.geometry` (which ward holds a point).

SQLite has no spatial index of its own: an R*Tree virtual table holds each incident's point,
kept in step with `incident.lon`/`lat` by triggers; rows without coordinates are left out.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from ioc_core.geo.migrations import create_gist_index, drop_index, sqlite_only

ID = "2026-11-29T22:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Spatial indexes: GiST on PostgreSQL, an R*Tree kept by triggers on SQLite"

SQLITE_FORWARDS = (
    # R*Tree stores 32-bit floats rounded outwards, so it only ever proposes candidates; the
    # exact test reads incident.lon/lat (64-bit).
    "CREATE VIRTUAL TABLE IF NOT EXISTS incident_rtree "
    "USING rtree(id, min_lon, max_lon, min_lat, max_lat)",
    # Rows that existed before this migration.
    "INSERT INTO incident_rtree (id, min_lon, max_lon, min_lat, max_lat) "
    "SELECT id, lon, lon, lat, lat FROM incident WHERE lon IS NOT NULL AND lat IS NOT NULL",
    "CREATE TRIGGER IF NOT EXISTS incident_rtree_insert AFTER INSERT ON incident "
    "WHEN NEW.lon IS NOT NULL AND NEW.lat IS NOT NULL BEGIN "
    "INSERT INTO incident_rtree (id, min_lon, max_lon, min_lat, max_lat) "
    "VALUES (NEW.id, NEW.lon, NEW.lon, NEW.lat, NEW.lat); END",
    # Delete then re-insert: covers moved points and coordinates set to or from NULL alike.
    "CREATE TRIGGER IF NOT EXISTS incident_rtree_update AFTER UPDATE OF lon, lat ON incident "
    "BEGIN DELETE FROM incident_rtree WHERE id = OLD.id; "
    "INSERT INTO incident_rtree (id, min_lon, max_lon, min_lat, max_lat) "
    "SELECT NEW.id, NEW.lon, NEW.lon, NEW.lat, NEW.lat "
    "WHERE NEW.lon IS NOT NULL AND NEW.lat IS NOT NULL; END",
    "CREATE TRIGGER IF NOT EXISTS incident_rtree_delete AFTER DELETE ON incident "
    "BEGIN DELETE FROM incident_rtree WHERE id = OLD.id; END",
)
SQLITE_BACKWARDS = (
    "DROP TRIGGER IF EXISTS incident_rtree_delete",
    "DROP TRIGGER IF EXISTS incident_rtree_update",
    "DROP TRIGGER IF EXISTS incident_rtree_insert",
    "DROP TABLE IF EXISTS incident_rtree",
)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="incidents", description=DESCRIPTION)
    manager.add_raw(create_gist_index("incident", "location"))
    manager.add_raw(create_gist_index("incident", "location", geography=True))
    manager.add_raw(create_gist_index("area", "geometry"))
    for sql in SQLITE_FORWARDS:
        manager.add_raw(sqlite_only(sql))

    manager.add_raw_backwards(drop_index("area", "geometry"))
    manager.add_raw_backwards(drop_index("incident", "location", geography=True))
    manager.add_raw_backwards(drop_index("incident", "location"))
    for sql in SQLITE_BACKWARDS:
        manager.add_raw_backwards(sqlite_only(sql))
    return manager
