"""Plugin `field_reports` ("Phản ánh hiện trường"): citizens report problems through the web
portal or a mobile app speaking Open311 GeoReport v2; each report is an incident of the core."""

from __future__ import annotations

from typing import Any

from field_reports import (
    catalog_io,
    demo,
    moderation,
    notices,
    open311,
    portal,
    services_pages,
)
from ioc_core import __version__
from ioc_core.hookspecs import hookimpl
from ioc_core.plugins.spec import MenuItem, Permission, PluginSpec

SPEC = PluginSpec(
    name="field_reports",
    title_vi="Phản ánh hiện trường",
    title_en="Field reports",
    version="0.1.0",
    core_versions=f"=={__version__}",
    requires=("incidents", "sla", "notifications"),
    default_settings={
        # Phan Thiết and its surroundings: west, south, east, north.
        "bounds": [107.95, 10.8, 108.35, 11.15],
        # Public intake: reports per client (address, or API key) per window.
        "rate_limit": 10,
        "rate_window_s": 600,
        "max_photos": 5,
        "max_photo_bytes": 8_000_000,
        # How often a citizen may reopen a report they say is not fixed.
        "max_reopens": 2,
    },
    permissions=(
        Permission(
            "field_reports.configure",
            "Cấu hình lĩnh vực phản ánh và trường thông tin",
            "Configure report services and their fields",
        ),
        Permission(
            "field_reports.moderate",
            "Kiểm duyệt phản ánh",
            "Moderate reports",
            ("leader", "dispatcher"),
        ),
        Permission(
            "field_reports.submit",
            "Gửi phản ánh qua Open311 (khóa API của ứng dụng)",
            "Submit reports through Open311 (an app's API key)",
        ),
    ),
    menu_items=(
        MenuItem("Gửi phản ánh", "Report a problem", "/report", placement="public"),
        MenuItem("Tra cứu phản ánh", "Track a report", "/track", placement="public"),
        MenuItem("Bản đồ phản ánh", "Reports map", "/reports/map", placement="public"),
        MenuItem(
            "Lĩnh vực phản ánh",
            "Report services",
            "/field-reports/services",
            "field_reports.configure",
        ),
    ),
    piccolo_app="field_reports.piccolo_app",
)


@hookimpl
def route_handlers() -> list[Any]:
    return [*portal.ROUTES, *open311.ROUTES, *services_pages.ROUTES, *moderation.ROUTES]


@hookimpl
def incident_panels() -> list[Any]:
    return [moderation.report_panel]


@hookimpl
def event_handlers() -> dict[str, list[Any]]:
    return notices.HANDLERS


@hookimpl
def notification_kinds() -> dict[str, Any]:
    return notices.WORDING


@hookimpl
def cli_commands() -> list[Any]:
    return [demo.demo_command, catalog_io.catalog_group]
