"""The leaders' KPI page: open, overdue and resolution figures by ward and by category."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get
from litestar.exceptions import ValidationException
from litestar.params import FromQuery
from litestar.response import Response

from ioc_core.i18n import current_language, day_start, gettext, local_today
from ioc_core.incidents.kpis import PERIODS, KpiLine, leadership_kpis
from ioc_core.incidents.tables import Area, Category
from ioc_core.incidents.visibility import department_scope
from ioc_core.web.forms import acting
from ioc_core.web.pages import page

KPIS = {"permission": "incidents.kpis"}


async def _names(table: type[Area] | type[Category]) -> dict[int, str]:
    english = current_language.get() == "en"
    rows = await table.select(table.id, table.name_vi, table.name_en)
    return {r["id"]: (r["name_en"] if english and r["name_en"] else r["name_vi"]) for r in rows}


def _named(lines: dict[int | None, KpiLine], names: dict[int, str]) -> list[tuple[str, KpiLine]]:
    """Lines by name, the busiest first; the line of no ward or no category last."""
    named = sorted(
        ((names.get(key, str(key)), line) for key, line in lines.items() if key is not None),
        key=lambda pair: (-pair[1].open, -pair[1].resolved, pair[0]),
    )
    if None in lines:
        named.append((gettext("(none)"), lines[None]))
    return named


@get("/kpis", opt=KPIS, include_in_schema=False)
async def kpi_page(request: Request[Any, Any, Any], days: FromQuery[int] = 30) -> Response[str]:
    if days not in PERIODS:
        raise ValidationException(
            gettext("Choose a period of %(periods)s days.")
            % {"periods": ", ".join(str(p) for p in PERIODS)}
        )
    until = dt.datetime.now(dt.UTC)
    since = day_start(local_today() - dt.timedelta(days=days - 1))
    kpis = await leadership_kpis(since, until, await department_scope(acting(request)))
    context = {
        "days": days,
        "periods": PERIODS,
        "kpis": kpis,
        "wards": _named(kpis.by_ward, await _names(Area)),
        "categories": _named(kpis.by_category, await _names(Category)),
    }
    return await page(request, "incidents/kpis.html", context)


ROUTES = [kpi_page]
