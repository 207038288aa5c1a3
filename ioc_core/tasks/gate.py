"""Workers run a plugin's message only while the plugin is enabled."""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.message import generate_unique_id
from dramatiq.middleware import Middleware, SkipMessage

from ioc_core.plugins.state import PluginStates

log = logging.getLogger(__name__)
# A disabled plugin's messages wait, re-queued with this delay, rather than being dropped.
PARK_DELAY_MS = 30_000


class PluginGate(Middleware):
    def __init__(self, states: PluginStates, park_delay_ms: int = PARK_DELAY_MS) -> None:
        self.states = states
        self.park_delay_ms = park_delay_ms

    def before_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.Message[Any]
    ) -> None:
        plugin = message.actor_name.split(".", 1)[0]
        loop = get_event_loop_thread()
        if loop is None:
            raise RuntimeError("PluginGate needs dramatiq's AsyncIO middleware before it")
        if loop.run_coroutine(self.states.is_enabled(plugin)):
            return
        log.info("plugin %s is disabled: message %s parked", plugin, message.message_id)
        # A fresh id: the original is acknowledged after this, and a broker may key messages by id.
        parked = message.copy(message_id=generate_unique_id())
        broker.enqueue(parked, delay=self.park_delay_ms)
        raise SkipMessage(f"plugin {plugin} is disabled")


def states_of(broker: dramatiq.Broker) -> PluginStates:
    """The plugin states (and, through them, the registry) of the runtime that built `broker`:
    how a task finds the plugins whose hooks it calls."""
    for middleware in broker.middleware:
        if isinstance(middleware, PluginGate):
            return middleware.states
    raise RuntimeError("the broker has no PluginGate: build it with ioc_core.runtime.build_runtime")
