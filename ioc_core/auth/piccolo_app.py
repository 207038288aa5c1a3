"""Piccolo app of the built-in `auth` plugin."""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppConfig

from ioc_core.auth.tables import (
    ApiKey,
    Department,
    LoginFailure,
    PermissionSeed,
    Role,
    RolePermission,
    Session,
    User,
    UserDepartment,
    UserRole,
)

APP_CONFIG = AppConfig(
    app_name="auth",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        Department,
        Role,
        RolePermission,
        User,
        UserRole,
        UserDepartment,
        Session,
        ApiKey,
        LoginFailure,
        PermissionSeed,
    ],
    migration_dependencies=["ioc_core.piccolo_app"],
)
