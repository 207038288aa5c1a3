"""Plugins and rollout phases: what is installed, enabled, broken; enable, disable, apply."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Response

from ioc_core.i18n import gettext
from ioc_core.plugins import lifecycle
from ioc_core.plugins.registry import PluginError
from ioc_core.plugins.state import stored_states
from ioc_core.web.forms import acting, done, refusal
from ioc_core.web.pages import page

PERMISSION = {"permission": "admin.plugins"}
BACK = "/admin/plugins"


def _runtime(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.runtime


@get("/admin/plugins", opt=PERMISSION, include_in_schema=False)
async def plugins_list(request: Request[Any, Any, Any]) -> Response[str]:
    registry = _runtime(request).registry
    stored = await stored_states()
    plugins = [
        {
            "spec": plugin.spec,
            "origin": plugin.origin,
            "state": stored.get(name),
            "enabled": plugin.spec.builtin or (name in stored and stored[name].enabled),
            "dependents": registry.dependents(name),
        }
        for name, plugin in registry.plugins.items()
    ]
    context = {
        "plugins": plugins,
        "broken": registry.broken,
        "phases": list((await lifecycle.phases(registry)).values()),
    }
    return await page(request, "admin/plugins.html", context)


@get("/admin/plugins/{name:str}/{action:str}", opt=PERMISSION, include_in_schema=False)
async def plugin_confirm(
    request: Request[Any, Any, Any], name: FromPath[str], action: FromPath[str]
) -> Response[str]:
    """What the change will do, before it is done."""
    registry = _runtime(request).registry
    if name not in registry.plugins:
        message = gettext("No module named %(name)s.") % {"name": name}
        return await refusal(request, message, 404, BACK)
    spec = registry.spec(name)
    try:
        if action == "enable":
            plan, blocking = await lifecycle.plan_enable(registry, name), []
        elif action == "disable":
            is_enabled, blocking = await lifecycle.plan_disable(registry, name)
            plan = [name] if is_enabled else []
        else:
            raise PluginError(gettext("Unknown action."))
    except PluginError as exc:
        return await refusal(request, str(exc), 409, BACK)
    context = {"spec": spec, "action": action, "plan": plan, "blocking": blocking}
    return await page(request, "admin/plugin_confirm.html", context)


@post("/admin/plugins/{name:str}/{action:str}", opt=PERMISSION, include_in_schema=False)
async def plugin_change(
    request: Request[Any, Any, Any], name: FromPath[str], action: FromPath[str]
) -> Response[Any]:
    runtime = _runtime(request)
    actor = acting(request).actor
    try:
        if action == "enable":
            changed = await lifecycle.enable(runtime.registry, name, actor)
            message = gettext("Enabled: %(names)s.") % {"names": ", ".join(changed) or name}
        elif action == "disable":
            await lifecycle.disable(runtime.registry, name, actor)
            message = gettext("Disabled %(name)s; its data is kept.") % {"name": name}
        else:
            raise PluginError(gettext("Unknown action."))
    except PluginError as exc:
        return await refusal(request, str(exc), 409, BACK)
    runtime.states.forget()
    return await done(request, message, BACK)


@get("/admin/phases/{name:str}/apply", opt=PERMISSION, include_in_schema=False)
async def phase_confirm(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[str]:
    registry = _runtime(request).registry
    phases = await lifecycle.phases(registry)
    if name not in phases:
        message = gettext("No phase named %(name)s.") % {"name": name}
        return await refusal(request, message, 404, BACK)
    plan: list[str] = []
    try:
        for plugin in phases[name].plugins:
            plan += [p for p in await lifecycle.plan_enable(registry, plugin) if p not in plan]
    except PluginError as exc:
        return await refusal(request, str(exc), 409, BACK)
    return await page(request, "admin/phase_confirm.html", {"phase": phases[name], "plan": plan})


@post("/admin/phases/{name:str}/apply", opt=PERMISSION, include_in_schema=False)
async def phase_apply(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[Any]:
    runtime = _runtime(request)
    try:
        enabled = await lifecycle.apply_phase(runtime.registry, name, acting(request).actor)
    except PluginError as exc:
        return await refusal(request, str(exc), 409, BACK)
    runtime.states.forget()
    message = gettext("Phase %(name)s applied; enabled: %(names)s.") % {
        "name": name,
        "names": ", ".join(enabled) or "-",
    }
    return await done(request, message, BACK)


ROUTES = [plugins_list, plugin_confirm, plugin_change, phase_confirm, phase_apply]
