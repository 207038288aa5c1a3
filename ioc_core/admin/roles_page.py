"""Roles and the permissions each grants, as one matrix to tick."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Response

from ioc_core.auth.errors import AuthError
from ioc_core.auth.roles import create_role, matrix, save_matrix
from ioc_core.auth.tables import Role
from ioc_core.i18n import gettext
from ioc_core.web.forms import acting, done, errors_of, form_of
from ioc_core.web.ids import row_id
from ioc_core.web.pages import page

PERMISSION = {"permission": "admin.roles"}
BACK = "/admin/roles"


@get("/admin/roles", opt=PERMISSION, include_in_schema=False)
async def roles_matrix(request: Request[Any, Any, Any]) -> Response[str]:
    return await _matrix_page(request)


@post("/admin/roles", opt=PERMISSION, include_in_schema=False)
async def roles_save(request: Request[Any, Any, Any]) -> Response[Any]:
    """Checkboxes named `grant` with values `<role id>:<permission>`; unticked means revoked."""
    _, lists = await form_of(request)
    roles = await Role.select(Role.id, Role.all_permissions)
    wanted: dict[int, set[str]] = {r["id"]: set() for r in roles if not r["all_permissions"]}
    for value in lists.get("grant", []):
        role_text, _, permission = value.partition(":")
        role_id = row_id(role_text)
        if role_id in wanted:
            wanted[role_id].add(permission)
    known = request.app.state.runtime.registry.permissions
    try:
        changed = await save_matrix(wanted, known, acting(request).actor)
    except AuthError as exc:
        return await _matrix_page(request, errors_of(exc))
    message = gettext("Saved: %(names)s.") % {"names": ", ".join(changed) or "-"}
    return await done(request, message, BACK)


@post("/admin/roles/new", opt=PERMISSION, include_in_schema=False)
async def role_create(request: Request[Any, Any, Any]) -> Response[Any]:
    values, _ = await form_of(request)
    try:
        role = await create_role(
            values.get("name", ""),
            values.get("title_vi", ""),
            values.get("title_en", ""),
            acting(request).actor,
        )
    except AuthError as exc:
        return await _matrix_page(request, errors_of(exc), values)
    return await done(request, gettext("Role %(name)s created.") % {"name": role.name}, BACK)


async def _matrix_page(
    request: Request[Any, Any, Any],
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response[str]:
    permissions = sorted(
        request.app.state.runtime.registry.permissions.values(), key=lambda p: p.name
    )
    context = {
        "roles": await Role.select().order_by(Role.name),
        "permissions": permissions,
        "granted": await matrix(),
        "errors": errors or {},
        "values": values or {},
    }
    return await page(request, "admin/roles.html", context, status_code=422 if errors else 200)


ROUTES = [roles_matrix, roles_save, role_create]
