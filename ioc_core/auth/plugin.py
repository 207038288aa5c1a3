"""Built-in plugin `auth`: signing in and out, the second factor, a user's own profile."""

from __future__ import annotations

from typing import Any

import click

from ioc_core import __version__
from ioc_core.hookspecs import hookimpl
from ioc_core.plugins.spec import Permission, PluginSpec

STAFF_ROLES = ("admin", "leader", "dispatcher", "officer", "viewer")

SPEC = PluginSpec(
    name="auth",
    title_vi="Đăng nhập và phân quyền",
    title_en="Sign-in and permissions",
    version=__version__,
    core_versions=f"=={__version__}",
    permissions=(Permission("auth.profile", "Sửa hồ sơ cá nhân", "Edit own profile", STAFF_ROLES),),
    piccolo_app="ioc_core.auth.piccolo_app",
    builtin=True,
)


@hookimpl
def route_handlers() -> list[Any]:
    from ioc_core.auth.routes import routes

    return routes()


@hookimpl
def cli_commands() -> list[click.Command]:
    from ioc_core.auth.commands import apikeys, users

    return [users, apikeys]
