"""Who may call what: the principal of each request, and one guard for every route.

A route's `opt` says `public: True` or names a `permission`; routes that take an API key
instead of a browser session say `exclude_from_csrf: True`, and then refuse cookie sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.response import Redirect, Response
from litestar.types import ASGIApp, Receive, Scope, Send

from ioc_core import i18n
from ioc_core.auth.principals import api_key_principal, session_principal
from ioc_core.web.pages import SESSION_COOKIE, base_context, render

LANGUAGE_COOKIE = "ioc_lang"
API_KEY_HEADER = "x-api-key"


def api_key_from(headers: Headers) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return headers.get(API_KEY_HEADER)


class PrincipalMiddleware(ASGIMiddleware):
    """Puts the signed-in user or API-key client in `scope["user"]` and picks the language."""

    scopes = (ScopeType.HTTP,)
    # Static files and the liveness probe need no principal: spare them the database.
    should_bypass_for_scope = staticmethod(
        lambda scope: scope["path"].startswith("/static/") or scope["path"] == "/healthz"
    )

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request: Request[Any, Any, Any] = Request(scope)
        key = api_key_from(request.headers)
        token = request.cookies.get(SESSION_COOKIE)
        principal = None
        if key:
            principal = await api_key_principal(key)
        elif token:
            principal = await session_principal(token)
        scope["user"] = principal
        scope["auth"] = "api_key" if key else ("session" if principal else None)
        language = i18n.choose_language(
            request.cookies.get(LANGUAGE_COOKIE) if principal is None else principal.language
        )
        reset = i18n.current_language.set(language)
        try:
            await next_app(scope, receive, send)
        finally:
            i18n.current_language.reset(reset)


async def access_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    # Async though it awaits nothing: Litestar runs a sync guard in a worker thread, a thread
    # hop on every request.
    opt = handler.opt
    allow_answer = "permission" not in opt and getattr(handler, "http_methods", None) == {"OPTIONS"}
    if "plugin" not in opt or opt.get("public") or allow_answer:
        # Litestar's own routes (the OpenAPI schema, and the OPTIONS answer that lists a
        # path's methods and runs no handler of ours) and routes declared public.
        return
    principal = connection.scope.get("user")
    if principal is None:
        raise NotAuthorizedException(i18n.gettext("Sign in to continue."))
    if opt.get("exclude_from_csrf") and principal.kind != "api_key":
        raise PermissionDeniedException(i18n.gettext("This address takes an API key."))
    if not principal.can(opt["permission"]):
        raise PermissionDeniedException(
            i18n.gettext("You do not have the permission %(permission)s.")
            % {"permission": opt["permission"]}
        )


def wants_html(request: Request[Any, Any, Any]) -> bool:
    return "text/html" in request.headers.get("accept", "")


def not_signed_in(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    if wants_html(request) and request.method == "GET":
        return Redirect(f"/login?next={request.url.path}", status_code=303)
    if request.headers.get("hx-request") == "true":
        # HTMX follows HX-Redirect with a full page load, so the login page replaces the shell.
        return Response("", status_code=401, headers={"HX-Redirect": "/login"})
    return Response({"status_code": 401, "detail": exc.detail}, status_code=401)


class Refusal(ClientException):
    """A request refused for what it holds, told when the answer is written: in the language of
    that answer (Open311 follows the client's Accept-Language, chosen after this is raised)."""

    def __init__(self, status_code: int, text: Callable[[], str]) -> None:
        self._text = text
        super().__init__(status_code=status_code)

    @property  # type: ignore[override]
    def detail(self) -> str:
        return self._text()

    @detail.setter
    def detail(self, _: str) -> None:
        """Litestar's constructor sets a default text; this one is told afresh each time."""


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:g}"


def too_large(request: Request[Any, Any, Any]) -> Refusal:
    """More than the body size limit of the route that was asked."""
    limit = request.route_handler.resolve_request_max_body_size() or 0
    return Refusal(
        413,
        lambda: (
            i18n.gettext(
                "What you sent is larger than %(mb)s MB, the most this address takes. "
                "Send fewer or smaller photos or files."
            )
            % {"mb": megabytes(limit)}
        ),
    )


def unreadable_form() -> Refusal:
    return Refusal(
        400,
        lambda: i18n.gettext(
            "The form could not be read: it is not well-formed form data. "
            "Open the page again and send the form from there."
        ),
    )


# Litestar's own English refusals of a request before any handler runs, told better.
STOCK_BODY_ERRORS: dict[tuple[int, str], Callable[[Request[Any, Any, Any]], Refusal]] = {
    (413, "Request Entity Too Large"): too_large,
    (400, "Invalid multipart/form-data"): lambda _: unreadable_form(),
    (400, "Unexpected eof in multipart/form-data"): lambda _: unreadable_form(),
    (400, "multipart boundary missing in Content-Type"): lambda _: unreadable_form(),
    (403, "CSRF token verification failed"): lambda _: Refusal(
        403,
        lambda: i18n.gettext(
            "The form has expired or was not sent from this site. "
            "Open the page again and send the form from there."
        ),
    ),
}


def told(request: Request[Any, Any, Any], exc: HTTPException) -> HTTPException:
    """`exc`, or a refusal a person can act on in place of Litestar's own English text."""
    better = STOCK_BODY_ERRORS.get((exc.status_code, str(exc.detail)))
    return better(request) if better else exc


def error_page(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """HTTP errors as a page for browsers, as JSON for API clients."""
    exc = told(request, exc)
    if not wants_html(request):
        # Litestar's own shape, validation details included, for API clients.
        content: dict[str, Any] = {"status_code": exc.status_code, "detail": str(exc.detail)}
        if exc.extra:
            content["extra"] = exc.extra
        return Response(content, status_code=exc.status_code, headers=exc.headers)
    if "user" not in request.scope:
        # Litestar answers an unknown path before any middleware runs: take the cookie's word.
        i18n.current_language.set(i18n.choose_language(request.cookies.get(LANGUAGE_COOKIE)))
    titles = {
        400: i18n.gettext("Cannot take this request"),
        403: i18n.gettext("Not allowed"),
        404: i18n.gettext("Not found"),
        405: i18n.gettext("Not here"),
        413: i18n.gettext("Too large"),
        415: i18n.gettext("Not a form"),
    }
    details = {
        404: i18n.gettext("There is no page here."),
        405: i18n.gettext("This address does not answer that kind of request."),
    }
    context = base_context(request) | {
        "status_code": exc.status_code,
        "title": titles.get(exc.status_code, str(exc.status_code)),
        "detail": details.get(exc.status_code, str(exc.detail)),
    }
    return render(request, "error.html", context, exc.status_code)
