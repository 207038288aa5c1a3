"""Reading submitted forms and answering them: values, errors by field, flash and redirect."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Redirect, Response

from ioc_core.auth.errors import AuthError, FormError
from ioc_core.auth.principal import Principal
from ioc_core.auth.sessions import add_flash
from ioc_core.plugins.spec import Permission
from ioc_core.web.pages import SESSION_COOKIE, page, principal_of


async def form_of(request: Request[Any, Any, Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Single values and, for checkboxes and multi-selects, every value of each field."""
    form = await request.form()
    single = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    multiple = {k: [str(v) for v in form.getall(k)] for k in form}
    return single, multiple


def acting(request: Request[Any, Any, Any]) -> Principal:
    principal = principal_of(request)
    assert principal is not None, "admin routes declare a permission, so someone signed in"
    return principal


async def done(request: Request[Any, Any, Any], message: str, target: str) -> Redirect:
    """Back to a list, with a message shown once there."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await add_flash(token, "success", message)
    return Redirect(target, status_code=303)


async def refusal(
    request: Request[Any, Any, Any], message: str, status_code: int, back: str
) -> Response[str]:
    """An action that cannot be done, and why, with the way back."""
    context = {"message": message, "back": back}
    return await page(request, "message.html", context, status_code=status_code)


def errors_of(exc: AuthError) -> dict[str, str]:
    """Errors keyed by form field; "" for one that belongs to no field."""
    return exc.errors if isinstance(exc, FormError) else {"": str(exc)}


def declared_permissions(request: Request[Any, Any, Any]) -> list[Permission]:
    """Every permission the installed plugins declare, by name."""
    declared = request.app.state.runtime.registry.permissions.values()
    return sorted(declared, key=lambda p: p.name)
