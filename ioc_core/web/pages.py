"""One way to answer with HTML: the full page, or for an HTMX request only its `content` block.

Every page template extends `base.html` and fills `{% block content %}`; the same template
serves a normal visit and an HTMX swap of `#content`.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Template
from litestar import Request
from litestar.response import Response
from litestar.template.base import csrf_token
from markupsafe import Markup

from ioc_core import i18n
from ioc_core.auth.principal import Principal
from ioc_core.auth.sessions import take_flashes
from ioc_core.plugins.registry import PluginRegistry

SESSION_COOKIE = "ioc_session"
CONTENT_BLOCK = "content"


def principal_of(request: Request[Any, Any, Any]) -> Principal | None:
    return request.scope.get("user")  # type: ignore[return-value]


def is_fragment_request(request: Request[Any, Any, Any]) -> bool:
    """HTMX asked for a swap of the content, not a whole page (boosted links want the page)."""
    headers = request.headers
    return headers.get("hx-request") == "true" and headers.get("hx-boosted") != "true"


def base_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What every page's layout needs, without the database: for error pages too."""
    return {
        "request": request,
        "principal": principal_of(request),
        "language": i18n.current_language.get(),
        "languages": i18n.LANGUAGES,
        "csrf_token": csrf_token({"request": request}),
        "menu": [],
        "flashes": [],
    }


def render(
    request: Request[Any, Any, Any], template_name: str, context: dict[str, Any], status_code: int
) -> Response[str]:
    template = request.app.state.jinja.get_template(template_name)
    if is_fragment_request(request) and CONTENT_BLOCK in template.blocks:
        body = _render_block(template, CONTENT_BLOCK, context)
    else:
        body = template.render(context)
    return Response(body, status_code=status_code, media_type="text/html")


def _render_block(template: Template, block: str, context: dict[str, Any]) -> str:
    """One block of a child template, with the imports and macros of its top level.

    A child template's top level (its `{% from ... import %}` and `{% macro %}`) runs before
    `{% extends %}` hands over to the layout, so running it up to the layout's first output
    defines those names without rendering the layout."""
    ctx = template.new_context(context)
    top_level = template.root_render_func(ctx)
    next(top_level, None)
    top_level.close()
    return "".join(template.blocks[block](ctx))


def render_partial(
    request: Request[Any, Any, Any], template_name: str, context: dict[str, Any]
) -> Markup:
    """A piece of a page (a panel a plugin adds), with what every template may use."""
    template = request.app.state.jinja.get_template(template_name)
    return Markup(template.render({**base_context(request), **context}))


async def page(
    request: Request[Any, Any, Any],
    template_name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response[str]:
    """A page with the navigation the principal may use and the flashes waiting for them."""
    runtime = request.app.state.runtime
    principal = principal_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    full_context = base_context(request)
    enabled = await runtime.states.enabled()
    full_context["menu"] = await _menu(runtime.registry, enabled, principal)
    if token and principal:
        full_context["flashes"] = await take_flashes(token)
    full_context.update(context or {})
    return render(request, template_name, full_context, status_code)


async def _menu(
    registry: PluginRegistry, enabled: frozenset[str], principal: Principal | None
) -> list[dict[str, Any]]:
    """The items `principal` may use, each with its count when its plugin gives one; for a
    visitor who is not signed in, the public ones (a citizen portal's, say)."""
    english = i18n.current_language.get() == "en"
    counters: dict[str, Any] = {}
    if principal is not None:
        for name, answers in registry.per_plugin("menu_counts", principal=principal).items():
            if name in enabled:
                for answer in answers:
                    counters.update(answer or {})
    items = []
    for name, plugin in registry.plugins.items():
        if name not in enabled:
            continue
        for item in plugin.spec.menu_items:
            if (item.placement == "public") != (principal is None):
                continue
            if item.permission is not None and not (principal and principal.can(item.permission)):
                continue
            counter = counters.get(item.path)
            items.append(
                {
                    "label": item.label_en if english else item.label_vi,
                    "path": item.path,
                    "placement": item.placement,
                    "count": await counter() if counter else None,
                }
            )
    return items
