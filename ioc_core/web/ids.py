"""Row ids that come in a request (a path, a form, a query string) and name no row.

Ids are PostgreSQL `serial` columns: a number beyond them cannot name a row, and asking the
database about it fails instead of finding nothing (SQLite cannot bind an integer past 64 bits,
PostgreSQL refuses one past 32 as out of range).
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler

MAX_ID = 2**31 - 1


def row_id(text: str | None) -> int | None:
    """The id `text` names; None for one that names no row: empty, not plain ASCII digits
    (`int` reads "١٢" but refuses "²", which `isdigit` accepts too), or beyond any id."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def chosen_id(text: str | None) -> int | None:
    """The id a select box sent: None when nothing was chosen, and 0, which names no row, when
    what was sent is not an id, so that the check for the row refuses it like a stale one."""
    if not (text or "").strip():
        return None
    found = row_id(text)
    return 0 if found is None else found


async def ids_in_range(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A guard: an integer path parameter beyond any id is not found, like any missing row.
    Async though it awaits nothing: Litestar runs a sync guard in a worker thread."""
    for value in connection.path_params.values():
        if isinstance(value, int) and not -MAX_ID <= value <= MAX_ID:
            raise NotFoundException()
