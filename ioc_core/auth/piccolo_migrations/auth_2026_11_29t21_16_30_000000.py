"""The five staff roles every city starts with; administrators edit them and add more."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-29T21:16:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "Default roles: admin, leader, dispatcher, officer, viewer"

ROLES = (
    ("admin", "Quản trị hệ thống", "Administrator", True),
    ("leader", "Lãnh đạo", "Leader", False),
    ("dispatcher", "Điều phối viên", "Dispatcher", False),
    ("officer", "Cán bộ xử lý", "Officer", False),
    ("viewer", "Người xem", "Viewer", False),
)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="auth", description=DESCRIPTION)

    async def insert_roles() -> None:
        engine = engine_finder()
        assert engine is not None
        for name, title_vi, title_en, everything in ROLES:
            await engine.run_ddl(
                "INSERT INTO role (name, title_vi, title_en, all_permissions) "
                f"VALUES ('{name}', '{title_vi}', '{title_en}', {str(everything).upper()})"
            )

    manager.add_raw(insert_roles)
    return manager
