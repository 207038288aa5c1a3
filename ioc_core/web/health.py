"""Built-in plugin `health`: liveness and readiness probes for load balancers and operators."""

from __future__ import annotations

import asyncio
from typing import Any

import dramatiq
from litestar import Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Response
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from piccolo.engine import engine_finder

from ioc_core import __version__
from ioc_core.hookspecs import hookimpl
from ioc_core.plugins.spec import PluginSpec
from ioc_core.tasks.broker import ping
from ioc_core.web.readiness import Check

SPEC = PluginSpec(
    name="health",
    title_vi="Kiểm tra tình trạng",
    title_en="Health checks",
    version=__version__,
    core_versions=f"=={__version__}",
    builtin=True,
)


@get("/healthz", opt={"public": True}, tags=["health"], sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is alive and serving requests."""
    return {"status": "ok"}


@get(
    "/readyz",
    opt={"public": True},
    tags=["health"],
    responses={
        HTTP_503_SERVICE_UNAVAILABLE: ResponseSpec(
            data_container=dict[str, Any], description="The parts that do not answer, and why"
        )
    },
)
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Every part this process needs answers: the database, the broker and plugins' own checks."""
    readiness = request.app.state.readiness
    failing = await readiness.failing()
    if failing:
        return Response(
            {"status": "unavailable", "failing": failing},
            status_code=HTTP_503_SERVICE_UNAVAILABLE,
        )
    return Response({"status": "ok", "checked": readiness.names()}, status_code=HTTP_200_OK)


@hookimpl
def route_handlers() -> list[Any]:
    return [healthz, readyz]


async def database_ready() -> None:
    engine = engine_finder()
    if engine is None:
        raise RuntimeError("no database engine configured")
    await engine.run_ddl("SELECT 1")


async def broker_ready() -> None:
    await asyncio.to_thread(ping, dramatiq.get_broker())


@hookimpl
def readiness_checks() -> dict[str, Check]:
    return {"database": database_ready, "broker": broker_ready}
