"""Staff accounts: list, create, edit (roles, departments, language, active, password)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Response

from ioc_core.auth.errors import AuthError
from ioc_core.auth.tables import Department, Role, User, UserDepartment, UserRole
from ioc_core.auth.users import Membership, create_user, update_user
from ioc_core.i18n import gettext
from ioc_core.web.forms import acting, done, errors_of, form_of, refusal
from ioc_core.web.pages import page
from ioc_core.web.tables import Column, Filter, table_view

PERMISSION = {"permission": "admin.users"}
BACK = "/admin/users"


@get("/admin/users", opt=PERMISSION, include_in_schema=False)
async def users_list(request: Request[Any, Any, Any]) -> Response[str]:
    columns = [
        Column("username", gettext("User name")),
        Column("full_name", gettext("Full name")),
        Column("email", gettext("E-mail")),
        Column("language", gettext("Language")),
        Column("is_active", gettext("Active")),
        Column("last_login_at", gettext("Last sign-in")),
    ]
    yes_no = [("true", gettext("yes")), ("false", gettext("no"))]
    view = await table_view(
        request,
        User,
        columns,
        search=[User.username, User.full_name, User.email],
        filters=[Filter("is_active", gettext("Active"), yes_no)],
        default_sort="username",
    )
    ids = [row["id"] for row in view.rows]
    roles: dict[int, list[str]] = {}
    if ids:
        query = UserRole.select(UserRole.user, UserRole.role.name)
        for link in await query.where(UserRole.user.is_in(ids)):
            roles.setdefault(link["user"], []).append(link["role.name"])
    return await page(request, "admin/users.html", {"view": view, "roles": roles})


@get("/admin/users/new", opt=PERMISSION, include_in_schema=False)
async def user_new(request: Request[Any, Any, Any]) -> Response[str]:
    return await _form_page(request, None, {"language": "vi", "is_active": True}, {})


@post("/admin/users/new", opt=PERMISSION, include_in_schema=False)
async def user_create(request: Request[Any, Any, Any]) -> Response[Any]:
    values, lists = await form_of(request)
    try:
        user = await create_user(
            values.get("username", ""),
            values.get("password", ""),
            roles=lists.get("roles", []),
            departments=lists.get("departments", []),
            full_name=values.get("full_name", ""),
            email=values.get("email", ""),
            language=values.get("language", "vi"),
            actor=acting(request).actor,
        )
    except AuthError as exc:
        return await _form_page(request, None, values, lists, errors_of(exc))
    return await done(request, gettext("User %(name)s created.") % {"name": user.username}, BACK)


@get("/admin/users/{user_id:int}", opt=PERMISSION, include_in_schema=False)
async def user_edit(request: Request[Any, Any, Any], user_id: FromPath[int]) -> Response[str]:
    user = await User.objects().get(User.id == user_id)
    if user is None:
        return await refusal(request, gettext("No such user."), 404, BACK)
    return await _form_page(request, user, user.to_dict(), await _membership(user_id))


@post("/admin/users/{user_id:int}", opt=PERMISSION, include_in_schema=False)
async def user_update(request: Request[Any, Any, Any], user_id: FromPath[int]) -> Response[Any]:
    values, lists = await form_of(request)
    try:
        user = await update_user(
            user_id,
            Membership(lists.get("roles", []), lists.get("departments", [])),
            actor=acting(request).actor,
            full_name=values.get("full_name", ""),
            email=values.get("email", ""),
            language=values.get("language", "vi"),
            is_active=values.get("is_active") == "on",
            new_password=values.get("password", ""),
        )
    except AuthError as exc:
        user = await User.objects().get(User.id == user_id)
        if user is None:
            return await refusal(request, str(exc), 404, BACK)
        values["is_active"] = values.get("is_active") == "on"
        return await _form_page(request, user, values, lists, errors_of(exc))
    return await done(request, gettext("User %(name)s saved.") % {"name": user.username}, BACK)


async def _membership(user_id: FromPath[int]) -> dict[str, list[str]]:
    roles = await UserRole.select(UserRole.role.name).where(UserRole.user == user_id)
    departments = await UserDepartment.select(UserDepartment.department.code).where(
        UserDepartment.user == user_id
    )
    return {
        "roles": [r["role.name"] for r in roles],
        "departments": [d["department.code"] for d in departments],
    }


async def _form_page(
    request: Request[Any, Any, Any],
    user: User | None,
    values: dict[str, Any],
    chosen: dict[str, list[str]],
    errors: dict[str, str] | None = None,
) -> Response[str]:
    """The user form, with what was typed and the error beside it when saving failed."""
    context = {
        "user": user,
        "values": values,
        "chosen": chosen,
        "errors": errors or {},
        "roles": await Role.select(Role.name, Role.title_vi, Role.title_en).order_by(Role.name),
        "departments": await Department.select(
            Department.code, Department.name_vi, Department.name_en
        ).order_by(Department.code),
    }
    return await page(request, "admin/user_form.html", context, status_code=422 if errors else 200)


ROUTES = [users_list, user_new, user_create, user_edit, user_update]
