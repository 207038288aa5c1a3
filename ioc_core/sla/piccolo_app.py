"""Piccolo app of the built-in `sla` plugin."""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppConfig

from ioc_core.sla.tables import CalendarDay, Escalation, OfficeHours, RoutingRule, SlaTarget

APP_CONFIG = AppConfig(
    app_name="sla",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[RoutingRule, SlaTarget, CalendarDay, OfficeHours, Escalation],
    migration_dependencies=["ioc_core.incidents.piccolo_app"],
)
