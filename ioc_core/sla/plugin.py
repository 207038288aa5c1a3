"""Built-in plugin `sla`: routing rules, SLA targets in working time, escalation up the
department hierarchy (department → city leadership → province) and the leaders' queues."""

from __future__ import annotations

import logging
from typing import Any

from ioc_core import __version__
from ioc_core.auth.principal import Principal
from ioc_core.hookspecs import hookimpl
from ioc_core.plugins.spec import MenuItem, Permission, PluginSpec
from ioc_core.sla import config_pages, incident_pages, notices, queues, sweep
from ioc_core.sla.commands import sla_group

log = logging.getLogger(__name__)

SPEC = PluginSpec(
    name="sla",
    title_vi="Điều phối, thời hạn và chuyển cấp",
    title_en="Routing, SLA and escalation",
    version=__version__,
    core_versions=f"=={__version__}",
    requires=("incidents", "notifications"),
    permissions=(
        Permission(
            "sla.configure",
            "Cấu hình điều phối, thời hạn và lịch làm việc",
            "Configure routing, SLA targets and the working calendar",
        ),
        Permission(
            "sla.escalate",
            "Chuyển sự vụ lên cấp trên",
            "Escalate incidents",
            ("leader", "dispatcher", "officer"),
        ),
        Permission(
            "sla.decide",
            "Quyết định sự vụ được chuyển lên",
            "Decide escalated incidents",
            ("leader",),
        ),
    ),
    menu_items=(
        MenuItem("Chuyển lên tôi", "Escalated to me", "/sla/queues/escalated", "sla.decide"),
        MenuItem("Quá hạn", "Overdue", "/sla/queues/overdue", "sla.decide"),
        MenuItem("Chờ kinh phí", "Waiting on budget", "/sla/queues/budget", "sla.decide"),
        MenuItem("Điều phối và thời hạn", "Routing and SLA", "/sla/settings", "sla.configure"),
    ),
    piccolo_app="ioc_core.sla.piccolo_app",
    builtin=True,
)


@hookimpl
def route_handlers() -> list[Any]:
    return [*config_pages.ROUTES, *incident_pages.ROUTES, *queues.ROUTES]


@hookimpl
def incident_panels() -> list[Any]:
    return [incident_pages.sla_panel]


@hookimpl
def event_handlers() -> dict[str, list[Any]]:
    return notices.HANDLERS


@hookimpl
def notification_kinds() -> dict[str, Any]:
    return notices.WORDING


@hookimpl
def menu_counts(principal: Principal) -> dict[str, Any]:
    return queues.counts(principal)


@hookimpl
def tasks() -> list[Any]:
    return [sweep.sweep_periodically]


@hookimpl
def cli_commands() -> list[Any]:
    return [sla_group]


@hookimpl
def startup() -> None:
    """Every web process starts a sweep chain; chains beyond the first end at once."""
    try:
        sweep.start_sweeper()
    except Exception as exc:  # a broker that is down at start-up must not stop the web process
        log.warning("SLA sweep not started (broker unreachable?): %s", exc)
