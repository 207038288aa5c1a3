"""Piccolo app of the built-in `notifications` plugin."""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppConfig

from ioc_core.notifications.tables import Notification, OutboundMessage

APP_CONFIG = AppConfig(
    app_name="notifications",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Notification, OutboundMessage],
    migration_dependencies=["ioc_core.auth.piccolo_app"],
)
