"""The Litestar app factory: every installed plugin's routes, guarded by its enabled state."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import dramatiq
from litestar import Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from piccolo.engine.postgres import PostgresEngine

from ioc_core import __version__
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings
from ioc_core.web.access import PrincipalMiddleware, access_guard, error_page, not_signed_in
from ioc_core.web.forms import ReadableInput
from ioc_core.web.ids import ids_in_range
from ioc_core.web.outage import OUTAGE_HANDLERS
from ioc_core.web.readiness import Readiness
from ioc_core.web.security_headers import security_headers
from ioc_core.web.templating import make_environment

log = logging.getLogger(__name__)
# Every handler a plugin serves says who may call it: one of these keys in its `opt`.
ACCESS_KEYS = ("public", "permission")


def create_app(
    settings: Settings | None = None,
    *,
    extra_plugins: Iterable[ModuleType] = (),
    run_workers: bool = False,
    runtime: Runtime | None = None,
) -> Litestar:
    """A web app for `settings`; with `run_workers`, it also runs task workers in-process."""
    runtime = runtime or build_runtime(settings or Settings.load(), extra_plugins)
    app = _build(runtime, run_workers)
    problems = _access_problems(app, runtime.registry.permissions)
    if problems:
        # A plugin that does not say who may call a route, or names a permission nobody
        # declares, is refused: never served open, never guarded by a typo.
        for plugin, reasons in problems.items():
            runtime.registry.refuse(plugin, "; ".join(reasons))
        app = _build(runtime, run_workers)
    return app


def _build(runtime: Runtime, run_workers: bool) -> Litestar:
    registry, settings = runtime.registry, runtime.settings
    routers = []
    for plugin, answers in registry.per_plugin("route_handlers", settings=settings).items():
        handlers = [h for answer in answers for h in answer]
        # A disabled plugin's routes answer 404 to everyone, before anyone is asked to sign in.
        guards = [access_guard, ids_in_range]
        if not registry.spec(plugin).builtin:
            guards.insert(0, _enabled_guard(plugin))
        routers.append(
            Router(path="/", route_handlers=handlers, guards=guards, opt={"plugin": plugin})
        )
    checks = {
        name: check
        for answers in registry.per_plugin("readiness_checks", settings=settings).values()
        for answer in answers
        for name, check in answer.items()
    }
    return Litestar(
        route_handlers=routers,
        openapi_config=OpenAPIConfig(title="IOC platform", version=__version__, path="/schema"),
        middleware=[PrincipalMiddleware(), ReadableInput()],
        before_send=[security_headers(settings)],
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="ioc_csrf",
            cookie_secure=settings.https,
            cookie_httponly=True,
            cookie_samesite="lax",
        ),
        exception_handlers={
            NotAuthorizedException: not_signed_in,
            HTTPException: error_page,
            **OUTAGE_HANDLERS,
        },
        state=State(
            {
                "runtime": runtime,
                "readiness": Readiness(checks),
                "jinja": make_environment(registry),
            }
        ),
        lifespan=[_lifespan(runtime, run_workers)],
    )


def _enabled_guard(plugin: str) -> Any:
    async def plugin_enabled(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        if not await connection.app.state.runtime.states.is_enabled(plugin):
            raise NotFoundException()

    return plugin_enabled


def _access_problems(app: Litestar, declared: Mapping[str, Any]) -> dict[str, list[str]]:
    undeclared: dict[str, list[str]] = {}
    unknown: dict[str, list[str]] = {}
    for route in app.routes:
        for handler in route.route_handlers:
            plugin = handler.opt.get("plugin")
            methods = getattr(handler, "http_methods", set())
            if plugin is None or methods == {"OPTIONS"}:
                continue  # Litestar's own routes: the OpenAPI schema and CORS preflight
            where = f"{'/'.join(sorted(methods))} {route.path}"
            if not any(key in handler.opt for key in ACCESS_KEYS):
                undeclared.setdefault(plugin, []).append(where)
            elif "permission" in handler.opt and handler.opt["permission"] not in declared:
                unknown.setdefault(plugin, []).append(f"{where} ({handler.opt['permission']})")
    problems: dict[str, list[str]] = {}
    for plugin, routes in undeclared.items():
        problems.setdefault(plugin, []).append(
            f"routes without 'public' or 'permission' in opt: {', '.join(routes)}"
        )
    for plugin, routes in unknown.items():
        problems.setdefault(plugin, []).append(
            f"routes naming a permission no plugin declares: {', '.join(routes)}"
        )
    return problems


def _lifespan(runtime: Runtime, run_workers: bool) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = runtime.engine
        if isinstance(engine, PostgresEngine):
            try:
                await engine.start_connection_pool()
            except Exception as exc:
                # Stay up and say so on /readyz rather than crash-loop while the database is away.
                log.error("database unreachable at start-up, no connection pool: %s", exc)
        runtime.registry.hook.startup(app=app, settings=runtime.settings)
        worker = (
            dramatiq.Worker(runtime.broker, worker_threads=runtime.settings.embedded_workers)
            if run_workers
            else None
        )
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            runtime.broker.close()
            if isinstance(engine, PostgresEngine) and engine.pool is not None:
                await engine.close_connection_pool()

    return lifespan
