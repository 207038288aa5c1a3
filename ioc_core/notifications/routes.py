"""The bell's page: a user's own notifications, newest first, and marking them read.

Notifications belong to users: a request with an API key is refused with 403, and another
user's notification answers 404, as one that does not exist.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Response

from ioc_core.i18n import gettext, ngettext
from ioc_core.notifications import service
from ioc_core.web.forms import done, form_of
from ioc_core.web.pages import page, principal_of

VIEW = {"permission": "notifications.view"}
LIST = "/notifications"


def own_user_id(request: Request[Any, Any, Any]) -> int:
    principal = principal_of(request)
    if principal is None or principal.kind != "user":
        raise PermissionDeniedException(
            gettext("Notifications belong to signed-in users; an API key has none.")
        )
    return principal.id


@get(LIST, opt=VIEW, include_in_schema=False)
async def notifications_list(request: Request[Any, Any, Any]) -> Response[str]:
    user_id = own_user_id(request)
    try:
        wanted = int(request.query_params.get("page", 1))
    except ValueError:
        wanted = 1
    listing = await service.page_of(user_id, wanted)
    # Worded now, in the viewer's language, by the plugin that owns each kind.
    wording = await service.wordings(request.app.state.runtime.states)
    items = []
    for row in listing.rows:
        title, body = service.render(wording, row["kind"], row["params"])
        items.append(row | {"title": title, "body": body, "link": service.safe_link(row["link"])})
    return await page(request, "notifications/list.html", {"listing": listing, "items": items})


@post("/notifications/{notification_id:int}/read", opt=VIEW, include_in_schema=False)
async def notification_read(
    request: Request[Any, Any, Any], notification_id: FromPath[int]
) -> Response[Any]:
    """Mark one read; with `open`, go on to what it is about."""
    user_id = own_user_id(request)
    values, _ = await form_of(request)
    link = await service.mark_read(user_id, notification_id)
    if link is None:
        raise NotFoundException()
    if values.get("open") and service.safe_link(link):
        return Redirect(link, status_code=303)
    back = values.get("page", "")
    return Redirect(f"{LIST}?page={back}" if back.isdigit() else LIST, status_code=303)


@post("/notifications/read-all", opt=VIEW, include_in_schema=False)
async def notifications_read_all(request: Request[Any, Any, Any]) -> Response[Any]:
    marked = await service.mark_all_read(own_user_id(request))
    message = ngettext(
        "%(num)s notification marked as read.", "%(num)s notifications marked as read.", marked
    ) % {"num": marked}
    return await done(request, message, LIST)


ROUTES = [notifications_list, notification_read, notifications_read_all]
