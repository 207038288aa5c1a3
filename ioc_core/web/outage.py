"""A database that cannot be reached answers 503 with Retry-After, not 500.

While PostgreSQL restarts or is away, a request fails on connecting or on a connection the
server dropped. The person (or the client's retry logic) can act on a 503: try again shortly.
Nothing is half-stored by such a failure, since every write runs in a transaction that was not
committed. Only failures to reach the database count: SQLite's "database is locked" is
contention, not an outage, and other errors stay 500s.
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import Any

from asyncpg.exceptions import (
    AdminShutdownError,
    CannotConnectNowError,
    CrashShutdownError,
    InterfaceError,
    InternalClientError,
    PostgresConnectionError,
    TooManyConnectionsError,
)
from litestar import Request
from litestar.response import Response
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE

from ioc_core import i18n
from ioc_core.web.access import LANGUAGE_COOKIE, wants_html
from ioc_core.web.pages import base_context, render

log = logging.getLogger(__name__)

# A restart takes seconds; a client retrying sooner would only add load.
RETRY_AFTER_S = 5
# Errnos of a network connection that could not be made or was lost.
CONNECTION_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
        errno.EPIPE,
    }
)
# asyncio's create_connection, when every address of a host name refused, raises a plain OSError.
MULTIPLE_ADDRESSES = "Multiple exceptions:"
# The server refused, dropped or could not take the connection. InternalClientError is asyncpg's
# protocol losing track of a pooled connection the server terminated while it sat idle.
SERVER_GONE = (
    PostgresConnectionError,
    CannotConnectNowError,
    AdminShutdownError,
    CrashShutdownError,
    TooManyConnectionsError,
    InternalClientError,
)
# asyncpg's word for using a connection the server dropped (Piccolo's rollback, say).
CONNECTION_CLOSED = "connection is closed"


def database_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """503 for a database that cannot be reached, as JSON for API clients and as a page for
    browsers; an error of the same classes with another cause (a file, say) stays a 500."""
    if not _is_outage(exc):
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _answer(request, HTTP_500_INTERNAL_SERVER_ERROR, None)
    log.warning(
        "database unreachable on %s %s: %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        exc,
    )
    return _answer(request, HTTP_503_SERVICE_UNAVAILABLE, {"Retry-After": str(RETRY_AFTER_S)})


def _is_outage(exc: BaseException) -> bool:
    """Whether `exc`, or what it was raised from or while handling, is a lost connection: a
    failure on a dropped connection often surfaces as the error of the cleanup after it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, SERVER_GONE) or (
            isinstance(current, InterfaceError) and CONNECTION_CLOSED in str(current)
        ):
            return True
        if isinstance(current, OSError) and (
            isinstance(current, ConnectionError | socket.gaierror)
            or current.errno in CONNECTION_ERRNOS
            or str(current).startswith(MULTIPLE_ADDRESSES)
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def _answer(
    request: Request[Any, Any, Any], status: int, headers: dict[str, str] | None
) -> Response[Any]:
    if "user" not in request.scope:
        # The failure came before the principal (and its language) was known.
        i18n.current_language.set(i18n.choose_language(request.cookies.get(LANGUAGE_COOKIE)))
    if status == HTTP_503_SERVICE_UNAVAILABLE:
        title = i18n.gettext("Service unavailable")
        detail = i18n.gettext(
            "The database does not answer at the moment. Please try again in %(n)s seconds."
        ) % {"n": RETRY_AFTER_S}
    else:
        title = i18n.gettext("Something went wrong")
        detail = i18n.gettext("The server could not answer this request.")
    if not wants_html(request):
        return Response(
            {"status_code": status, "detail": detail}, status_code=status, headers=headers
        )
    context = base_context(request) | {"status_code": status, "title": title, "detail": detail}
    page = render(request, "error.html", context, status)
    page.headers.update(headers or {})
    return page


# For the app's exception_handlers: Litestar picks the first class in an exception's MRO.
OUTAGE_HANDLERS: dict[type[Exception], Any] = {
    kind: database_unavailable for kind in (OSError, InterfaceError, *SERVER_GONE)
}
