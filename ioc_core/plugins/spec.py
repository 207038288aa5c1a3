"""A plugin's declaration as data: what it is, what it needs, what it offers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
PLACEMENTS = ("menu", "account", "public")


@dataclass(frozen=True)
class MenuItem:
    label_vi: str
    label_en: str
    path: str
    permission: str | None = None
    # "menu": the main navigation; "account": beside the user's name (a bell, say); "public":
    # for visitors who are not signed in (a citizen portal's pages).
    placement: str = "menu"

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise ValueError(f"menu item {self.path}: placement must be one of {PLACEMENTS}")


@dataclass(frozen=True)
class Permission:
    """`<plugin>.<action>`; `default_roles` get it when the plugin is first enabled."""

    name: str
    label_vi: str
    label_en: str
    default_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class PluginSpec:
    """A plugin module's `SPEC`; the module itself carries the hook implementations."""

    name: str
    title_vi: str
    title_en: str
    version: str
    core_versions: str = ">=0.1,<1"
    requires: tuple[str, ...] = ()
    default_settings: Mapping[str, Any] = field(default_factory=dict)
    required_settings: tuple[str, ...] = ()
    permissions: tuple[Permission, ...] = ()
    menu_items: tuple[MenuItem, ...] = ()
    # Module path of its piccolo_app.py (holding APP_CONFIG), as Piccolo itself expects.
    piccolo_app: str | None = None
    # Built-in plugins are the core's own features: always enabled, never disabled.
    builtin: bool = False

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise ValueError(f"plugin name {self.name!r} must match {NAME_RE.pattern}")
        for required in self.requires:
            if not NAME_RE.match(required):
                raise ValueError(f"{self.name}: required plugin name {required!r} is invalid")
