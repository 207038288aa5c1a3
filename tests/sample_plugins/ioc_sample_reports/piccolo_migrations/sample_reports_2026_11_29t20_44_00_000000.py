from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from ioc_core.geo.migrations import create_gist_index, drop_index

ID = "2026-11-29T20:44:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "GiST indexes on the report location (PostgreSQL only)"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="sample_reports", description=DESCRIPTION)
    manager.add_raw(create_gist_index("sample_report", "location"))
    manager.add_raw(create_gist_index("sample_report", "location", geography=True))
    manager.add_raw_backwards(drop_index("sample_report", "location", geography=True))
    manager.add_raw_backwards(drop_index("sample_report", "location"))
    return manager
