"""Piccolo's configuration module (`PICCOLO_CONF=ioc_core.piccolo_conf`).

`ioc_core.db.engine.connect` sets DB and APP_REGISTRY for the running process. Piccolo's own
command line (used to write new migrations) imports this module fresh, so both are then built
from the environment's settings on first use.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    from ioc_core.db.engine import engine_for
    from ioc_core.plugins.registry import load_plugins
    from ioc_core.settings import Settings

    if name == "DB":
        value: Any = engine_for(Settings.load())
    elif name == "APP_REGISTRY":
        from piccolo.conf.apps import AppRegistry

        value = AppRegistry(apps=load_plugins(Settings.load()).piccolo_apps())
    else:
        raise AttributeError(name)
    globals()[name] = value
    return value
