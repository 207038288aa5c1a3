"""The Jinja2 environment: core templates, then each plugin's `templates/` folder."""

from __future__ import annotations

from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from ioc_core import i18n
from ioc_core.incidents.workflow import is_overdue
from ioc_core.plugins.registry import PluginRegistry

CORE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def make_environment(registry: PluginRegistry) -> Environment:
    folders = [
        CORE_TEMPLATES,
        *(f for f in registry.folders("templates") if f != CORE_TEMPLATES),
    ]
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(f)) for f in folders]),
        autoescape=select_autoescape(("html", "xml")),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["localtime"] = i18n.local_time
    # Due times show on every incident list and page, marked when overdue.
    env.globals["is_overdue"] = is_overdue
    return env
