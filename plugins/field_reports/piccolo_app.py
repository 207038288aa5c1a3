"""Piccolo app of the `field_reports` plugin."""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppConfig

from field_reports.tables import IntakeAttempt, Report, Service, ServiceField, ServiceGroup

APP_CONFIG = AppConfig(
    app_name="field_reports",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[ServiceGroup, Service, ServiceField, Report, IntakeAttempt],
    migration_dependencies=["ioc_core.incidents.piccolo_app"],
)
