"""Piccolo app of the built-in `incidents` plugin."""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppConfig

from ioc_core.incidents.tables import (
    Area,
    Attachment,
    Category,
    HandledEvent,
    Incident,
    IncidentEvent,
    IncidentFollower,
    KpiSnapshot,
    OutboxEvent,
    TicketCounter,
)

APP_CONFIG = AppConfig(
    app_name="incidents",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        Area,
        Category,
        TicketCounter,
        Incident,
        IncidentEvent,
        IncidentFollower,
        Attachment,
        OutboxEvent,
        HandledEvent,
        KpiSnapshot,
    ],
    migration_dependencies=["ioc_core.auth.piccolo_app"],
)
