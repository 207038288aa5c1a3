"""Enable, disable and rollout phases: state changes recorded in the database and audited.

Disabling never drops a table or a row; only an explicit purge (not here) would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from piccolo.engine import engine_finder

from ioc_core.auth.permissions import seed_default_grants
from ioc_core.db.audit import audit
from ioc_core.db.migrate import migrate, prepare_sqlite
from ioc_core.db.tables import PluginState, RolloutPhase
from ioc_core.plugins.registry import PluginError, PluginRegistry
from ioc_core.plugins.state import stored_states


@dataclass(frozen=True)
class Phase:
    name: str
    title: str
    plugins: tuple[str, ...]
    source: str
    applied_at: dt.datetime | None = None
    applied_by: str | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def enabled_names(registry: PluginRegistry) -> set[str]:
    stored = await stored_states()
    return {n for n, p in registry.plugins.items() if p.spec.builtin or _is_on(stored, n)}


def _is_on(stored: Mapping[str, PluginState], name: str) -> bool:
    return name in stored and stored[name].enabled


def _installed(registry: PluginRegistry, name: str) -> None:
    broken = next((b for b in registry.broken if b.name == name), None)
    if broken is not None:
        raise PluginError(f"plugin {name} cannot be used: {broken.reason}")
    registry.spec(name)


async def migrate_enabled(registry: PluginRegistry) -> dict[str, list[str]]:
    """Bring the core and every enabled plugin up to date; the IDs applied, per app."""
    if registry.settings.is_sqlite:
        prepare_sqlite(registry.settings.sqlite_path)
    # The core's tables first: they say which plugins are enabled.
    core_app = registry.spec("core").piccolo_app
    applied = await migrate([core_app])
    enabled = await enabled_names(registry)
    apps = [
        p.spec.piccolo_app
        for n, p in registry.plugins.items()
        if n in enabled and p.spec.piccolo_app not in (None, core_app)
    ]
    applied |= await migrate(apps)
    await seed_default_grants(
        [p for p in registry.permissions.values() if _owner(p.name) in enabled]
    )
    return applied


def _owner(permission: str) -> str:
    return permission.split(".", 1)[0]


async def plan_enable(registry: PluginRegistry, name: str) -> list[str]:
    """What enabling `name` enables: its missing requirements first, then itself."""
    _installed(registry, name)
    enabled = await enabled_names(registry)
    return [n for n in registry.requirements_closure(name) if n not in enabled]


async def enable(
    registry: PluginRegistry, name: str, actor: str, phase: str | None = None
) -> list[str]:
    """Enable `name` and what it requires, migrating each first; return what was enabled."""
    todo = await plan_enable(registry, name)
    for plugin in todo:
        spec = registry.spec(plugin)
        if spec.piccolo_app:
            await migrate([spec.piccolo_app])
        try:
            registry.call_for(plugin, "on_enable", settings=registry.settings, actor=actor)
        except Exception as exc:
            raise PluginError(f"plugin {plugin} failed to start: {exc}") from exc
        await _record(plugin, enabled=True, actor=actor, phase=phase, action="plugin.enable")
        await seed_default_grants(
            [p for p in registry.permissions.values() if _owner(p.name) == plugin]
        )
    return todo


async def plan_disable(registry: PluginRegistry, name: str) -> tuple[bool, list[str]]:
    """Whether `name` is enabled now, and the enabled plugins that keep it from being disabled."""
    spec = registry.spec(name)
    if spec.builtin:
        raise PluginError(f"{name} is part of the core and cannot be disabled")
    enabled = await enabled_names(registry)
    return name in enabled, [n for n in registry.dependents(name) if n in enabled]


async def disable(registry: PluginRegistry, name: str, actor: str) -> bool:
    """Disable `name`, keeping its data; False when it was not enabled."""
    is_enabled, blocking = await plan_disable(registry, name)
    if not is_enabled:
        return False
    if blocking:
        raise PluginError(
            f"cannot disable {name}: {', '.join(blocking)} require it; disable those first"
        )
    await _record(name, enabled=False, actor=actor, phase=None, action="plugin.disable")
    registry.call_for(name, "on_disable", settings=registry.settings, actor=actor)
    return True


async def _record(name: str, *, enabled: bool, actor: str, phase: str | None, action: str) -> None:
    engine = engine_finder()
    assert engine is not None
    async with engine.transaction():
        existing = await PluginState.objects().get(PluginState.name == name)
        before = _state_dict(existing)
        row = existing or PluginState(name=name)
        row.enabled = enabled
        row.phase = phase if enabled else row.phase
        row.changed_at = _now()
        row.changed_by = actor
        await row.save()
        await audit(actor, action, name, before, _state_dict(row))


def _state_dict(row: PluginState | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"enabled": row.enabled, "phase": row.phase}


async def phases(registry: PluginRegistry) -> dict[str, Phase]:
    """Phases defined in the database, then those in settings (settings win on a name clash)."""
    found = {
        row.name: Phase(
            row.name, row.title, tuple(row.plugins), "database", row.applied_at, row.applied_by
        )
        for row in await RolloutPhase.objects().output(load_json=True)
    }
    for name, plugins in registry.settings.phases.items():
        row = found.get(name)
        found[name] = Phase(
            name,
            name,
            plugins,
            "settings",
            row.applied_at if row else None,
            row.applied_by if row else None,
        )
    return found


async def define_phase(
    registry: PluginRegistry, name: str, plugins: list[str], actor: str, title: str = ""
) -> None:
    if name in registry.settings.phases:
        raise PluginError(f"phase {name} is defined in the settings file; change it there")
    for plugin in plugins:
        _installed(registry, plugin)
    existing = await RolloutPhase.objects().output(load_json=True).get(RolloutPhase.name == name)
    before = {"plugins": list(existing.plugins)} if existing else None
    row = existing or RolloutPhase(name=name)
    row.title = title or row.title or name
    row.plugins = list(plugins)
    engine = engine_finder()
    assert engine is not None
    async with engine.transaction():
        await row.save()
        await audit(actor, "phase.define", name, before, {"plugins": list(plugins)})


async def apply_phase(registry: PluginRegistry, name: str, actor: str) -> list[str]:
    """Enable every plugin of the phase, dependencies first; return what was newly enabled."""
    known = await phases(registry)
    if name not in known:
        raise PluginError(f"no phase named {name!r} (known: {', '.join(sorted(known)) or 'none'})")
    phase = known[name]
    # Check everything before changing anything, so a phase is never half applied for a typo.
    for plugin in phase.plugins:
        _installed(registry, plugin)
    enabled: list[str] = []
    for plugin in phase.plugins:
        enabled += await enable(registry, plugin, actor, phase=name)
    row = await RolloutPhase.objects().get(RolloutPhase.name == name) or RolloutPhase(
        name=name, title=phase.title, plugins=list(phase.plugins)
    )
    row.applied_at = _now()
    row.applied_by = actor
    await row.save()
    await audit(actor, "phase.apply", name, None, {"enabled": enabled})
    return enabled
