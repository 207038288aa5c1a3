"""What one process builds from its settings: plugins, database engine, broker, plugin states.

The web app, the worker and the command line all start from here, so they agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType

import dramatiq
from piccolo.engine.base import Engine

from ioc_core import i18n
from ioc_core.auth.permissions import collect_permissions
from ioc_core.db.engine import bind, engine_for
from ioc_core.plugins.registry import PluginRegistry, load_plugins
from ioc_core.plugins.state import PluginStates
from ioc_core.settings import Settings
from ioc_core.tasks.broker import make_broker
from ioc_core.tasks.gate import PARK_DELAY_MS, PluginGate


@dataclass
class Runtime:
    settings: Settings
    registry: PluginRegistry
    engine: Engine
    broker: dramatiq.Broker
    states: PluginStates


def build_runtime(
    settings: Settings,
    extra_plugins: Iterable[ModuleType] = (),
    park_delay_ms: int = PARK_DELAY_MS,
) -> Runtime:
    registry = load_plugins(settings, extra_plugins)
    # Plugins' messages, for pages, e-mails from workers and the command line alike.
    i18n.add_catalogs(registry.folders("locale"))
    collect_permissions(registry)
    engine = engine_for(settings)
    bind(engine, registry.piccolo_apps())
    states = PluginStates(registry, settings.plugin_state_ttl)
    broker = make_broker(settings, [PluginGate(states, park_delay_ms)])
    for plugin, answers in registry.per_plugin("tasks").items():
        for task in (t for answer in answers for t in answer):
            task.bind(broker, plugin)
    return Runtime(settings, registry, engine, broker, states)
