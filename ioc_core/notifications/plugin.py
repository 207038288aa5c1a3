"""Built-in plugin `notifications`: the bell with its unread count, e-mail through SMTP when
IOC_SMTP_URL is set, and the `notification_channels` hook for other ways to reach people.

Other plugins call `ioc_core.notifications.service.notify` in the transaction of a change and
word their kinds through the `notification_kinds` hook; see `service` and `sender`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ioc_core import __version__
from ioc_core.auth.plugin import STAFF_ROLES
from ioc_core.auth.principal import Principal
from ioc_core.hookspecs import hookimpl
from ioc_core.notifications import routes, sender, service, wording
from ioc_core.notifications.commands import notifications_group
from ioc_core.notifications.smtp import email_channel
from ioc_core.plugins.spec import MenuItem, Permission, PluginSpec
from ioc_core.settings import Settings

log = logging.getLogger(__name__)

SPEC = PluginSpec(
    name="notifications",
    title_vi="Thông báo",
    title_en="Notifications",
    version=__version__,
    core_versions=f"=={__version__}",
    permissions=(
        Permission(
            "notifications.view", "Xem thông báo của mình", "See own notifications", STAFF_ROLES
        ),
    ),
    menu_items=(
        MenuItem(
            "Thông báo",
            "Notifications",
            routes.LIST,
            "notifications.view",
            placement="account",
        ),
    ),
    piccolo_app="ioc_core.notifications.piccolo_app",
    builtin=True,
)


@hookimpl
def route_handlers() -> list[Any]:
    return list(routes.ROUTES)


@hookimpl
def tasks() -> list[Any]:
    return [sender.send_messages, sender.send_periodically]


@hookimpl
def cli_commands() -> list[Any]:
    return [notifications_group]


@hookimpl
def menu_counts(principal: Principal) -> dict[str, Callable[[], Awaitable[int]]]:
    if principal.kind != "user":
        return {}
    return {routes.LIST: lambda: service.unread_count(principal.id)}


@hookimpl
def notification_kinds() -> dict[str, service.Wording]:
    return dict(wording.KINDS)


@hookimpl
def notification_channels(settings: Settings) -> dict[str, Any]:
    channel = email_channel(settings)
    return {service.EMAIL: channel} if channel is not None else {}


@hookimpl
def startup() -> None:
    """Every web process starts a sender chain; chains beyond the first end at once, so the
    cluster sends once per period wherever its workers run."""
    try:
        sender.start_sender()
    except Exception as exc:  # a broker that is down at start-up must not stop the web process
        log.warning("notification sender not started (broker unreachable?): %s", exc)
