from typing import Any

from litestar import get

from ioc_core.hookspecs import hookimpl
from ioc_core.plugins.spec import PluginSpec

SPEC = PluginSpec(
    name="sample_addon",
    title_vi="Tiện ích mẫu",
    title_en="Sample add-on",
    version="0.3.0",
    requires=("sample_reports",),
)


@get("/sample-addon/ping", opt={"public": True}, sync_to_thread=False)
def ping() -> dict[str, str]:
    return {"addon": "pong"}


@hookimpl
def route_handlers() -> list[Any]:
    return [ping]
