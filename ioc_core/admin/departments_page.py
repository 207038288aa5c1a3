"""The department hierarchy: a tree to read, a form to add or change one."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Response

from ioc_core.auth.departments import department_tree, save_department
from ioc_core.auth.errors import AuthError
from ioc_core.auth.tables import DEPARTMENT_LEVELS, Department
from ioc_core.i18n import gettext
from ioc_core.web.forms import acting, done, errors_of, form_of, refusal
from ioc_core.web.pages import page

PERMISSION = {"permission": "admin.departments"}
BACK = "/admin/departments"


@get("/admin/departments", opt=PERMISSION, include_in_schema=False)
async def departments_list(request: Request[Any, Any, Any]) -> Response[str]:
    return await page(request, "admin/departments.html", {"tree": await department_tree()})


@get("/admin/departments/new", opt=PERMISSION, include_in_schema=False)
async def department_new(request: Request[Any, Any, Any]) -> Response[str]:
    return await _form_page(request, None, {"level": "ward"})


@get("/admin/departments/{department_id:int}", opt=PERMISSION, include_in_schema=False)
async def department_edit(
    request: Request[Any, Any, Any], department_id: FromPath[int]
) -> Response[str]:
    row = await Department.objects().get(Department.id == department_id)
    if row is None:
        return await refusal(request, gettext("No such department."), 404, BACK)
    return await _form_page(request, department_id, row.to_dict())


@post("/admin/departments/new", opt=PERMISSION, include_in_schema=False)
async def department_create(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _save(request, None)


@post("/admin/departments/{department_id:int}", opt=PERMISSION, include_in_schema=False)
async def department_update(
    request: Request[Any, Any, Any], department_id: FromPath[int]
) -> Response[Any]:
    if not await Department.exists().where(Department.id == department_id):
        return await refusal(request, gettext("No such department."), 404, BACK)
    return await _save(request, department_id)


async def _save(request: Request[Any, Any, Any], department_id: int | None) -> Response[Any]:
    values, _ = await form_of(request)
    try:
        row = await save_department(values, acting(request).actor, department_id)
    except AuthError as exc:
        return await _form_page(request, department_id, values, errors_of(exc))
    return await done(request, gettext("Department %(code)s saved.") % {"code": row.code}, BACK)


async def _form_page(
    request: Request[Any, Any, Any],
    department_id: int | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
) -> Response[str]:
    # A department cannot move under itself; the service checks deeper loops.
    parents = [d for d in await department_tree() if d["id"] != department_id]
    context = {
        "department_id": department_id,
        "values": values,
        "errors": errors or {},
        "parents": parents,
        "levels": DEPARTMENT_LEVELS,
    }
    return await page(
        request, "admin/department_form.html", context, status_code=422 if errors else 200
    )


ROUTES = [departments_list, department_new, department_edit, department_create, department_update]
