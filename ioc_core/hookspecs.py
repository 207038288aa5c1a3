"""Every hook a plugin may implement. Implementations may accept any subset of the arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import click
    from litestar import Litestar
    from litestar.types import ControllerRouterHandler

    from ioc_core.auth.principal import Principal
    from ioc_core.plugins.spec import Permission
    from ioc_core.settings import Settings
    from ioc_core.tasks.task import Task

PROJECT = "ioc"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def route_handlers(settings: Settings) -> list[ControllerRouterHandler]:
    """Route handlers, controllers or routers this plugin serves; answered 404 while disabled."""


@hookspec
def tasks() -> list[Task]:
    """Background tasks of this plugin; actor and queue names get the plugin's name as prefix."""


@hookspec
def event_handlers() -> dict[str, list[Callable[[dict], Awaitable[None]]]]:
    """Handlers of domain events by topic, e.g. 'incident.created'; each runs once per event."""


@hookspec
def cli_commands() -> list[click.Command]:
    """Commands added to the `ioc` command line."""


@hookspec
def permissions(settings: Settings) -> list[Permission]:
    """Permissions computed at start-up, beside those the plugin's SPEC declares."""


@hookspec
def startup(app: Litestar, settings: Settings) -> None:
    """Called once when a web process starts, for every installed plugin, enabled or not."""


@hookspec
def on_enable(settings: Settings, actor: str) -> None:
    """Called for this plugin alone after it was enabled and its migrations ran."""


@hookspec
def on_disable(settings: Settings, actor: str) -> None:
    """Called for this plugin alone after it was disabled; it must not drop data."""


@hookspec
def readiness_checks(settings: Settings) -> dict[str, Any]:
    """Named async callables that raise when a part this plugin depends on is unreachable."""


@hookspec
def incident_panels() -> list[Callable[..., Awaitable[str | None]]]:
    """Panels this plugin adds to a staff incident page: async (request, incident, errors) →
    HTML, or None when the panel has nothing to show."""


@hookspec
def menu_counts(principal: Principal) -> dict[str, Callable[[], Awaitable[int]]]:
    """Counts shown beside this plugin's menu items for `principal`, by the items' paths."""


@hookspec
def notification_kinds() -> dict[str, Callable[[dict], tuple[str, str]]]:
    """How to word each kind of notification this plugin sends: params → (title, body), in the
    current language."""


@hookspec
def notification_channels(settings: Settings) -> dict[str, Callable[..., Awaitable[None]]]:
    """Ways to reach people beyond the in-app bell, by name ('email', 'sms'): each an async
    callable (address, subject, body) that raises when the message was not accepted."""
