"""The leaders' KPI page: open, overdue and resolution figures by ward and by category, read
from the reader's KPI snapshot (`kpi_snapshots`) with the time they were computed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get
from litestar.exceptions import ValidationException
from litestar.params import FromQuery
from litestar.response import Response

from ioc_core.i18n import TIMEZONE, current_language, gettext, local_time
from ioc_core.incidents.kpi_snapshots import kpis_for
from ioc_core.incidents.kpis import PERIODS, KpiLine
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


def _as_of(computed_at: dt.datetime) -> str:
    """When the figures were computed, as the city reads it: the time, and the date too when
    it was not today."""
    today = dt.datetime.now(TIMEZONE).date()
    same_day = computed_at.astimezone(TIMEZONE).date() == today
    return local_time(computed_at, "%H:%M" if same_day else "%H:%M %d/%m/%Y")


@get("/kpis", opt=KPIS, include_in_schema=False)
async def kpi_page(request: Request[Any, Any, Any], days: FromQuery[int] = 30) -> Response[str]:
    if days not in PERIODS:
        raise ValidationException(
            gettext("Choose a period of %(periods)s days.")
            % {"periods": ", ".join(str(p) for p in PERIODS)}
        )
    kpis = await kpis_for(days, await department_scope(acting(request)))
    context = {
        "days": days,
        "periods": PERIODS,
        "kpis": kpis,
        "as_of": _as_of(kpis.until),
        "wards": _named(kpis.by_ward, await _names(Area)),
        "categories": _named(kpis.by_category, await _names(Category)),
    }
    return await page(request, "incidents/kpis.html", context)


ROUTES = [kpi_page]
