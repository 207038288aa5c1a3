"""Reading submitted forms and answering them: values, errors by field, flash and redirect.

`ReadableInput` runs before every handler and the CSRF check: whatever no handler could store or
answer is refused there with a 4xx that says what to do (a NUL in the address, a form that is not
UTF-8, too large, with too many fields, unparseable, or holding control characters), so every
handler reads a form already checked (Litestar keeps the parsed form in the scope).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request
from litestar.datastructures import FormMultiDict, UploadFile
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import ClientException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.middleware import ASGIMiddleware
from litestar.response import Redirect, Response
from litestar.types import ASGIApp, Receive, Scope, Send

from ioc_core.auth.errors import AuthError, FormError
from ioc_core.auth.principal import Principal
from ioc_core.auth.sessions import add_flash
from ioc_core.i18n import gettext
from ioc_core.plugins.spec import Permission
from ioc_core.web.access import Refusal, told, too_large
from ioc_core.web.pages import SESSION_COOKIE, page, principal_of

FORM_TYPES = (RequestEncodingType.MULTI_PART, RequestEncodingType.URL_ENCODED)
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# What no text field may hold: NUL (PostgreSQL refuses it in text, SQLite would keep it) and
# the other control characters XML 1.0 cannot carry (Open311 answers in XML). Tab and line
# breaks are text.
UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _not_utf8() -> Refusal:
    return Refusal(
        400,
        lambda: gettext(
            "The form is not UTF-8 text. Send it again from the page, or encode it as UTF-8."
        ),
    )


def _too_many_fields(limit: int) -> Refusal:
    return Refusal(
        413,
        lambda: (
            gettext("The form has more than %(n)s fields and files. Send only the form.")
            % {"n": limit}
        ),
    )


def _unstorable(field: str) -> Refusal:
    return Refusal(
        400,
        lambda: (
            gettext(
                "%(field)s holds a control character (such as NUL) that text cannot hold. "
                "Remove it and send again."
            )
            % {"field": field}
        ),
    )


def _nul_in_address() -> Refusal:
    return Refusal(
        400,
        lambda: gettext("The address holds a NUL character. Remove %00 from it and try again."),
    )


async def checked_form(request: Request[Any, Any, Any]) -> FormMultiDict:
    """The request's form, parsed once; refused (Refusal) when it cannot be read as text."""
    limit = request.app.multipart_form_part_limit
    try:
        form = await request.form()
    except UnicodeDecodeError:
        # Litestar decodes multipart fields strictly, and lets the error through.
        raise _not_utf8() from None
    except RequestEntityTooLarge:
        raise too_large(request) from None
    except ClientException as exc:
        if exc.detail == "Request Entity Too Large":
            # Litestar's answer (a 400) to more multipart parts than it parses.
            raise _too_many_fields(limit) from None
        raise told(request, exc) from None
    if request.content_type[0] == RequestEncodingType.URL_ENCODED:
        # Litestar decodes these with replacement characters and no count: read them strictly.
        try:
            pairs = parse_qsl((await request.body()).decode(), errors="strict")
        except UnicodeDecodeError:
            raise _not_utf8() from None
        if len(pairs) > limit:
            raise _too_many_fields(limit)
    for name, value in form.multi_items():
        text = (value.filename or "") if isinstance(value, UploadFile) else str(value)
        if UNSTORABLE.search(name) or UNSTORABLE.search(text):
            raise _unstorable(UNSTORABLE.sub("?", name))
    return form


class ReadableInput(ASGIMiddleware):
    """Refuses a request no handler could read safely, before any of them runs."""

    scopes = (ScopeType.HTTP,)
    should_bypass_for_scope = staticmethod(lambda scope: scope["path"].startswith("/static/"))

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        query = scope.get("query_string", b"")
        if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
            raise _nul_in_address()
        request: Request[Any, Any, Any] = Request(scope, receive)
        if scope["method"] in BODY_METHODS and request.content_type[0] in FORM_TYPES:
            await checked_form(request)
        await next_app(scope, receive, send)


async def read_form(request: Request[Any, Any, Any]) -> FormMultiDict:
    """The form of a route that takes forms only: another kind of body is refused (415)."""
    kind = request.content_type[0]
    if request.headers.get("content-type") and kind not in FORM_TYPES:
        raise Refusal(
            415,
            lambda: (
                gettext(
                    "This address takes a form (multipart/form-data or "
                    "application/x-www-form-urlencoded), not %(kind)s."
                )
                % {"kind": kind}
            ),
        )
    return await checked_form(request)


async def form_of(request: Request[Any, Any, Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Single values and, for checkboxes and multi-selects, every value of each field."""
    form = await read_form(request)
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
