"""Built-in plugin `incidents`: the GIS incident model every subsystem files into."""

from __future__ import annotations

import logging
from typing import Any

from ioc_core import __version__
from ioc_core.auth.plugin import STAFF_ROLES
from ioc_core.geo.commands import areas
from ioc_core.hookspecs import hookimpl
from ioc_core.incidents import kpi_page, kpi_snapshots, operations_map, outbox, routes
from ioc_core.incidents.export_command import export_command
from ioc_core.incidents.outbox_commands import outbox_group
from ioc_core.plugins.spec import MenuItem, Permission, PluginSpec

log = logging.getLogger(__name__)

SPEC = PluginSpec(
    name="incidents",
    title_vi="Sự vụ",
    title_en="Incidents",
    version=__version__,
    core_versions=f"=={__version__}",
    permissions=(
        Permission("incidents.view", "Xem sự vụ", "View incidents", STAFF_ROLES),
        Permission(
            "incidents.work",
            "Xử lý sự vụ (trạng thái, ghi chú)",
            "Work incidents (status, comments)",
            ("admin", "leader", "dispatcher", "officer"),
        ),
        Permission(
            "incidents.assign", "Phân công sự vụ", "Assign incidents", ("leader", "dispatcher")
        ),
        Permission("incidents.export", "Xuất dữ liệu sự vụ", "Export incidents", ("leader",)),
        Permission("incidents.kpis", "Xem chỉ số điều hành", "View the KPIs", ("leader",)),
    ),
    menu_items=(
        MenuItem("Bản đồ", "Map", "/map", "incidents.view"),
        MenuItem("Sự vụ", "Incidents", "/incidents", "incidents.view"),
        MenuItem("Chỉ số", "KPIs", "/kpis", "incidents.kpis"),
    ),
    piccolo_app="ioc_core.incidents.piccolo_app",
    builtin=True,
)


@hookimpl
def route_handlers() -> list[Any]:
    return [*routes.ROUTES, *operations_map.ROUTES, *kpi_page.ROUTES]


@hookimpl
def tasks() -> list[Any]:
    return [outbox.deliver, outbox.sweep_periodically, kpi_snapshots.refresh_kpis]


@hookimpl
def cli_commands() -> list[Any]:
    return [outbox_group, areas, export_command]


@hookimpl
def startup() -> None:
    """Every web process starts a sweeper chain; chains beyond the first end at once, so the
    cluster sweeps once per period wherever its workers run."""
    try:
        outbox.start_sweeper()
    except Exception as exc:  # a broker that is down at start-up must not stop the web process
        log.warning("outbox sweeper not started (broker unreachable?): %s", exc)
