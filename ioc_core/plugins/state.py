"""Which plugins are enabled, as the database says, read by every web and worker process."""

from __future__ import annotations

import time

from ioc_core.db.tables import PluginState
from ioc_core.plugins.registry import PluginRegistry


async def stored_states() -> dict[str, PluginState]:
    return {row.name: row for row in await PluginState.objects()}


class PluginStates:
    """Enabled plugin names, re-read from the database at most once per `ttl` seconds, so a
    change made by any process is seen by this one within `ttl` and without a restart."""

    def __init__(self, registry: PluginRegistry, ttl: float) -> None:
        self.registry = registry
        self.ttl = ttl
        self._enabled: frozenset[str] = frozenset()
        self._read_at = float("-inf")

    async def enabled(self) -> frozenset[str]:
        if time.monotonic() - self._read_at >= self.ttl:
            rows = await PluginState.select(PluginState.name).where(PluginState.enabled.eq(True))
            builtins = {n for n, p in self.registry.plugins.items() if p.spec.builtin}
            self._enabled = frozenset({r["name"] for r in rows} | builtins)
            self._read_at = time.monotonic()
        return self._enabled

    async def is_enabled(self, name: str) -> bool:
        return name in await self.enabled()

    def forget(self) -> None:
        """Re-read on next use: this process just changed the state itself."""
        self._read_at = float("-inf")
