"""Built-in plugin `admin`: what administrators change without a deploy."""

from __future__ import annotations

from typing import Any

from ioc_core import __version__
from ioc_core.admin import (
    apikeys_page,
    audit_page,
    departments_page,
    plugins_page,
    roles_page,
    users_page,
)
from ioc_core.hookspecs import hookimpl
from ioc_core.plugins.spec import MenuItem, Permission, PluginSpec

SPEC = PluginSpec(
    name="admin",
    title_vi="Quản trị",
    title_en="Administration",
    version=__version__,
    core_versions=f"=={__version__}",
    # Only the administrator role (which holds every permission) has these at first.
    permissions=(
        Permission(
            "admin.plugins",
            "Bật, tắt mô-đun và áp dụng giai đoạn",
            "Enable, disable modules and apply phases",
        ),
        Permission("admin.users", "Quản lý người dùng", "Manage users"),
        Permission("admin.departments", "Quản lý đơn vị", "Manage departments"),
        Permission("admin.roles", "Quản lý vai trò và quyền", "Manage roles and permissions"),
        Permission("admin.apikeys", "Quản lý khóa API", "Manage API keys"),
        Permission("admin.audit", "Xem nhật ký quản trị", "Read the audit log"),
    ),
    menu_items=(
        MenuItem("Mô-đun", "Modules", "/admin/plugins", "admin.plugins"),
        MenuItem("Người dùng", "Users", "/admin/users", "admin.users"),
        MenuItem("Đơn vị", "Departments", "/admin/departments", "admin.departments"),
        MenuItem("Vai trò", "Roles", "/admin/roles", "admin.roles"),
        MenuItem("Khóa API", "API keys", "/admin/apikeys", "admin.apikeys"),
        MenuItem("Nhật ký", "Audit log", "/admin/audit", "admin.audit"),
    ),
    builtin=True,
)


@hookimpl
def route_handlers() -> list[Any]:
    pages = (plugins_page, users_page, departments_page, roles_page, apikeys_page, audit_page)
    return [route for module in pages for route in module.ROUTES]
