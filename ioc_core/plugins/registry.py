"""Discovery and loading of plugins into one pluggy manager per app instance."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from ioc_core import __version__, hookspecs
from ioc_core.plugins.spec import Permission, PluginSpec
from ioc_core.settings import Settings

ENTRY_POINT_GROUP = "ioc.plugins"
# The core's own features, registered on the same hooks as any plugin.
BUILTIN_PLUGINS = (
    "ioc_core.piccolo_app",
    "ioc_core.auth.plugin",
    "ioc_core.incidents.plugin",
    "ioc_core.notifications.plugin",
    "ioc_core.sla.plugin",
    "ioc_core.web.health",
    "ioc_core.web.portal",
    "ioc_core.admin.plugin",
)

log = logging.getLogger(__name__)


class PluginError(Exception):
    """A plugin action that cannot be done; the message tells the person why."""


@dataclass(frozen=True)
class LoadedPlugin:
    spec: PluginSpec
    module: ModuleType
    origin: str


@dataclass(frozen=True)
class BrokenPlugin:
    name: str
    origin: str
    reason: str


@dataclass(frozen=True)
class Candidate:
    name: str
    origin: str
    load: Any


class PluginRegistry:
    """The installed plugins of one app instance, in dependency order, and their hooks."""

    def __init__(
        self,
        settings: Settings,
        plugins: Mapping[str, LoadedPlugin],
        broken: Iterable[BrokenPlugin],
        manager: pluggy.PluginManager,
    ) -> None:
        self.settings = settings
        self.plugins = dict(plugins)
        self.broken = list(broken)
        self.manager = manager
        # Filled by ioc_core.auth.permissions.collect_permissions at start-up.
        self.permissions: dict[str, Permission] = {}

    @property
    def hook(self) -> Any:
        return self.manager.hook

    def spec(self, name: str) -> PluginSpec:
        try:
            return self.plugins[name].spec
        except KeyError:
            known = ", ".join(sorted(self.plugins)) or "none"
            raise PluginError(
                f"no plugin named {name!r} is installed (installed: {known})"
            ) from None

    def call_for(self, name: str, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call one plugin's own implementation of a hook, not everyone's."""
        others = [p.module for n, p in self.plugins.items() if n != name]
        return self.manager.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)

    def per_plugin(self, hook_name: str, **kwargs: Any) -> dict[str, list[Any]]:
        """Each plugin's answer to a hook, keyed by plugin name, for plugins that implement it."""
        return {
            name: self.call_for(name, hook_name, **kwargs)
            for name in self.plugins
            if hook_name in self.hooks_of(name)
        }

    def hooks_of(self, name: str) -> list[str]:
        module = self.plugins[name].module
        return sorted(h.name for h in self.manager.get_hookcallers(module) or ())

    def folders(self, name: str) -> list[Path]:
        """`name` folders beside each plugin module (templates, static, locale) that exist."""
        found = []
        for plugin in self.plugins.values():
            module_file = getattr(plugin.module, "__file__", None)
            if module_file:
                folder = Path(module_file).resolve().parent / name
                if folder.is_dir() and folder not in found:
                    found.append(folder)
        return found

    def plugin_settings(self, name: str) -> dict[str, Any]:
        return {
            **self.spec(name).default_settings,
            **self.settings.plugin_settings.get(name, {}),
        }

    def requirements_closure(self, name: str) -> list[str]:
        """`name` and everything it requires, transitively, dependencies first."""
        needed: list[str] = []

        def visit(n: str) -> None:
            for dep in self.spec(n).requires:
                visit(dep)
            if n not in needed:
                needed.append(n)

        visit(name)
        return needed

    def dependents(self, name: str) -> list[str]:
        """Plugins that require `name`, directly or not."""
        return [n for n in self.plugins if n != name and name in self.requirements_closure(n)]

    def refuse(self, name: str, reason: str) -> None:
        """Take a loaded plugin, and what requires it, out of this instance, reported as broken."""
        for refused in [*self.dependents(name), name]:
            plugin = self.plugins.pop(refused)
            self.manager.unregister(plugin.module)
            cause = reason if refused == name else f"requires {name}, which was refused"
            self.broken.append(BrokenPlugin(refused, plugin.origin, cause))
            log.warning("plugin %s refused: %s", refused, cause)

    def piccolo_apps(self) -> list[str]:
        """Module paths of the plugins' Piccolo apps, dependencies first."""
        return [p.spec.piccolo_app for p in self.plugins.values() if p.spec.piccolo_app]


def load_plugins(settings: Settings, extra: Iterable[ModuleType] = ()) -> PluginRegistry:
    """Discover built-in and entry-point plugins; report and skip any that cannot load."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    broken: list[BrokenPlugin] = []
    loaded: dict[str, LoadedPlugin] = {}

    candidates = [Candidate(m, "built-in", m) for m in BUILTIN_PLUGINS]
    allowed = settings.plugins
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        dist = ep.dist.name if ep.dist else "unknown distribution"
        candidates.append(Candidate(ep.name, f"{dist} (entry point)", ep.load))
    candidates += [Candidate(m.__name__, "registered in code", m) for m in extra]

    for candidate in candidates:
        try:
            module = _import(candidate)
            spec = _checked_spec(module, candidate, settings)
        except Exception as exc:  # a broken plugin is reported, never takes the app down
            broken.append(BrokenPlugin(candidate.name, candidate.origin, _reason(exc)))
            continue
        if spec.name in loaded:
            broken.append(
                BrokenPlugin(spec.name, candidate.origin, "another plugin has the same name")
            )
            continue
        loaded[spec.name] = LoadedPlugin(spec, module, candidate.origin)

    if allowed is not None:
        broken += [
            BrokenPlugin(n, "IOC_PLUGINS", "listed in IOC_PLUGINS but not installed")
            for n in allowed
            if n not in loaded and n not in {b.name for b in broken}
        ]

    registered: dict[str, LoadedPlugin] = {}
    for name, plugin in _dependency_order(loaded, broken).items():
        # Topological order: a requirement refused below is already known here.
        missing = [r for r in plugin.spec.requires if r not in registered]
        if missing:
            broken.append(BrokenPlugin(name, plugin.origin, f"requires {', '.join(missing)}"))
            continue
        try:
            manager.register(plugin.module, name=name)
            _check_hook_names(manager, plugin.module)
        except Exception as exc:
            if manager.is_registered(plugin.module):
                manager.unregister(plugin.module)
            broken.append(BrokenPlugin(name, plugin.origin, _reason(exc)))
            continue
        registered[name] = plugin
    for b in broken:
        log.warning("plugin %s (%s) skipped: %s", b.name, b.origin, b.reason)
    return PluginRegistry(settings, registered, broken, manager)


def _import(candidate: Candidate) -> ModuleType:
    if isinstance(candidate.load, ModuleType):
        return candidate.load
    if isinstance(candidate.load, str):
        return importlib.import_module(candidate.load)
    module = candidate.load()
    if not isinstance(module, ModuleType):
        raise PluginError("the entry point must name a module, not an object inside one")
    return module


def _checked_spec(module: ModuleType, candidate: Candidate, settings: Settings) -> PluginSpec:
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, PluginSpec):
        raise PluginError(f"module {module.__name__} has no SPEC = PluginSpec(...)")
    if candidate.origin != "built-in" and spec.builtin:
        raise PluginError("only the core's own plugins may be built-in")
    if "(entry point)" in candidate.origin and spec.name != candidate.name:
        raise PluginError(f"entry point is named {candidate.name!r} but SPEC.name is {spec.name!r}")
    try:
        supported = SpecifierSet(spec.core_versions)
    except InvalidSpecifier:
        raise PluginError(f"core_versions {spec.core_versions!r} is not a version range") from None
    if Version(__version__) not in supported:
        raise PluginError(f"needs core {spec.core_versions}, this core is {__version__}")
    given = settings.plugin_settings.get(spec.name, {})
    missing = [key for key in spec.required_settings if key not in given]
    if missing:
        raise PluginError(
            f"needs settings {', '.join(missing)}: set them under [plugin.{spec.name}] "
            "in the file named by IOC_CONFIG"
        )
    return spec


def _check_hook_names(manager: pluggy.PluginManager, module: ModuleType) -> None:
    for caller in manager.get_hookcallers(module) or ():
        if not caller.has_spec():
            raise PluginError(f"implements {caller.name!r}, which is not an ioc hook")


def _dependency_order(
    loaded: Mapping[str, LoadedPlugin], broken: list[BrokenPlugin]
) -> dict[str, LoadedPlugin]:
    """Loaded plugins whose requirements are all loaded, in topological order."""
    available = dict(loaded)
    changed = True
    while changed:
        changed = False
        for name, plugin in list(available.items()):
            missing = [r for r in plugin.spec.requires if r not in available]
            if missing:
                broken.append(
                    BrokenPlugin(name, plugin.origin, f"requires {', '.join(missing)}, not loaded")
                )
                del available[name]
                changed = True
    # Built-ins first so the core's tables exist before any plugin's migrations.
    graph = {n: set(p.spec.requires) for n, p in available.items()}
    sorter = TopologicalSorter(graph)
    try:
        order = list(sorter.static_order())
    except CycleError as exc:
        cycle = list(exc.args[1])
        for name in set(cycle):
            broken.append(
                BrokenPlugin(
                    name, available[name].origin, f"requirement cycle: {' -> '.join(cycle)}"
                )
            )
            del available[name]
        return _dependency_order(available, broken)
    order.sort(key=lambda n: not available[n].spec.builtin)
    return {n: available[n] for n in order}


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, PluginError) else str(exc)
