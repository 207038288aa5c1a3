"""The audit trail of administrative actions, newest first."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Response

from ioc_core.db.tables import AuditEvent
from ioc_core.i18n import gettext
from ioc_core.web.pages import page
from ioc_core.web.tables import Column, Filter, table_view


@get("/admin/audit", opt={"permission": "admin.audit"}, include_in_schema=False)
async def audit_list(request: Request[Any, Any, Any]) -> Response[str]:
    columns = [
        Column("at", gettext("Time")),
        Column("actor", gettext("Who")),
        Column("action", gettext("Action")),
        Column("subject", gettext("Subject")),
        Column("before", gettext("Before"), sortable=False),
        Column("after", gettext("After"), sortable=False),
    ]
    actions = [r["action"] for r in await AuditEvent.select(AuditEvent.action).distinct()]
    view = await table_view(
        request,
        AuditEvent,
        columns,
        search=[AuditEvent.actor, AuditEvent.subject],
        filters=[Filter("action", gettext("Action"), [(a, a) for a in sorted(actions)])],
        default_sort="at",
        default_descending=True,
    )
    return await page(request, "admin/audit.html", {"view": view})


ROUTES = [audit_list]
