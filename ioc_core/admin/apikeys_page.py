"""API keys for machine clients: create (shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Response

from ioc_core.auth.apikeys import create_api_key, revoke_api_key
from ioc_core.auth.errors import AuthError
from ioc_core.auth.tables import ApiKey
from ioc_core.i18n import gettext
from ioc_core.web.forms import acting, done, errors_of, form_of, refusal
from ioc_core.web.pages import page

PERMISSION = {"permission": "admin.apikeys"}
BACK = "/admin/apikeys"


@get("/admin/apikeys", opt=PERMISSION, include_in_schema=False)
async def apikeys_list(request: Request[Any, Any, Any]) -> Response[str]:
    return await _list_page(request)


@post("/admin/apikeys", opt=PERMISSION, include_in_schema=False)
async def apikey_create(request: Request[Any, Any, Any]) -> Response[str]:
    values, lists = await form_of(request)
    known = request.app.state.runtime.registry.permissions
    try:
        row, key = await create_api_key(
            values.get("name", ""), lists.get("permissions", []), acting(request).actor, known
        )
    except AuthError as exc:
        return await _list_page(request, errors_of(exc), values)
    # The only time the key is shown: it is stored as a hash.
    return await page(
        request, "admin/apikey_created.html", {"row": row, "key": key}, status_code=201
    )


@post("/admin/apikeys/{key_id:int}/revoke", opt=PERMISSION, include_in_schema=False)
async def apikey_revoke(request: Request[Any, Any, Any], key_id: FromPath[int]) -> Response[Any]:
    try:
        row = await revoke_api_key(key_id, acting(request).actor)
    except AuthError as exc:
        return await refusal(request, str(exc), 404, BACK)
    return await done(request, gettext("Key %(name)s revoked.") % {"name": row.name}, BACK)


async def _list_page(
    request: Request[Any, Any, Any],
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response[str]:
    permissions = sorted(
        request.app.state.runtime.registry.permissions.values(), key=lambda p: p.name
    )
    context = {
        "keys": await ApiKey.select().order_by(ApiKey.id, ascending=False).output(load_json=True),
        "permissions": permissions,
        "errors": errors or {},
        "values": values or {},
    }
    return await page(request, "admin/apikeys.html", context, status_code=422 if errors else 200)


ROUTES = [apikeys_list, apikey_create, apikey_revoke]
