"""Built-in plugin `portal`: the staff start page and the core's static files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xstatic.pkg.leaflet
from litestar import Request, get
from litestar.response import Response
from litestar.static_files import create_static_files_router

from ioc_core import __version__
from ioc_core.auth.plugin import STAFF_ROLES
from ioc_core.hookspecs import hookimpl
from ioc_core.plugins.spec import MenuItem, Permission, PluginSpec
from ioc_core.web.pages import page

STATIC = Path(__file__).resolve().parent / "static"

SPEC = PluginSpec(
    name="portal",
    title_vi="Cổng nhân viên",
    title_en="Staff portal",
    version=__version__,
    core_versions=f"=={__version__}",
    permissions=(
        Permission("portal.view", "Vào cổng nhân viên", "Open the staff portal", STAFF_ROLES),
    ),
    menu_items=(MenuItem("Trang chủ", "Home", "/", "portal.view"),),
    builtin=True,
)


@get("/", opt={"permission": "portal.view"}, include_in_schema=False)
async def home(request: Request[Any, Any, Any]) -> Response[str]:
    return await page(request, "portal/home.html")


@hookimpl
def route_handlers() -> list[Any]:
    static = create_static_files_router(
        path="/static", directories=[STATIC], opt={"public": True}, include_in_schema=False
    )
    # Leaflet comes from its PyPI package (xstatic-leaflet), never from a CDN.
    leaflet = create_static_files_router(
        path="/static/leaflet",
        directories=[Path(xstatic.pkg.leaflet.BASE_DIR)],
        opt={"public": True},
        include_in_schema=False,
    )
    return [home, static, leaflet]
