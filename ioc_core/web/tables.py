"""The reusable list: sort, search, filter and paginate a Piccolo table from query parameters.

`table_view` reads `sort`, `dir`, `q`, `page` and `f_<column>` from the request and returns
what `components/table.html` draws; links keep the other parameters, so HTMX can swap the list
and push the address.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from litestar import Request
from piccolo.columns import Column as PiccoloColumn
from piccolo.columns.combination import And, Or, Where
from piccolo.table import Table

PAGE_SIZE = 25


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    sortable: bool = True


@dataclass(frozen=True)
class Filter:
    """A select box over one column's values; `cast` turns the chosen text into the column's
    type (e.g. `int` for a foreign key)."""

    key: str
    label: str
    choices: Sequence[tuple[str, str]]
    cast: Callable[[str], Any] = str


@dataclass
class TableView:
    path: str
    columns: Sequence[Column]
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    sort: str
    descending: bool
    q: str
    filters: Sequence[Filter] = ()
    chosen: dict[str, str] = field(default_factory=dict)

    def params(self, **changes: Any) -> dict[str, Any]:
        current: dict[str, Any] = {
            "sort": self.sort,
            "dir": "desc" if self.descending else "asc",
            "q": self.q,
            "page": self.page,
            **{f"f_{k}": v for k, v in self.chosen.items()},
        }
        current.update(changes)
        return {k: v for k, v in current.items() if v not in ("", None)}

    def link(self, **changes: Any) -> str:
        return f"{self.path}?{urlencode(self.params(**changes))}"

    def sort_link(self, key: str) -> str:
        descending = key == self.sort and not self.descending
        return self.link(sort=key, dir="desc" if descending else "asc", page=1)


async def table_view(
    request: Request[Any, Any, Any],
    table: type[Table],
    columns: Sequence[Column],
    *,
    search: Sequence[PiccoloColumn] = (),
    filters: Sequence[Filter] = (),
    default_sort: str = "id",
    default_descending: bool = False,
    where: Where | And | Or | None = None,
    page_size: int = PAGE_SIZE,
) -> TableView:
    params = request.query_params
    sortable = {c.key for c in columns if c.sortable}
    sort = params.get("sort") if params.get("sort") in sortable else default_sort
    descending = params.get("dir", "desc" if default_descending else "asc") == "desc"
    q = (params.get("q") or "").strip()[:100]
    chosen = {
        f.key: params[f"f_{f.key}"]
        for f in filters
        if params.get(f"f_{f.key}") in {value for value, _ in f.choices}
    }

    conditions: list[Any] = [where] if where is not None else []
    if q and search:
        matches = [_contains(column, q) for column in search]
        any_match = matches[0]
        for match in matches[1:]:
            any_match = any_match | match
        conditions.append(any_match)
    for f in filters:
        if f.key in chosen:
            conditions.append(getattr(table, f.key) == f.cast(chosen[f.key]))

    count_query = table.count()
    select = table.select().order_by(getattr(table, sort), ascending=not descending)
    for condition in conditions:
        count_query = count_query.where(condition)
        select = select.where(condition)
    total = await count_query
    pages = max(1, math.ceil(total / page_size))
    try:
        page = min(max(1, int(params.get("page", 1))), pages)
    except ValueError:
        page = 1
    rows = await select.offset((page - 1) * page_size).limit(page_size).output(load_json=True)
    return TableView(
        path=request.url.path,
        columns=columns,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        sort=sort,
        descending=descending,
        q=q,
        filters=filters,
        chosen=chosen,
    )


def _contains(column: PiccoloColumn, text: str) -> Where:
    """Case-insensitive substring match: ILIKE on PostgreSQL; SQLite's LIKE already ignores case."""
    pattern = f"%{text}%"
    if column._meta.engine_type == "sqlite":
        return column.like(pattern)
    return column.ilike(pattern)
