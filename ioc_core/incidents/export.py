"""Streaming exports for analytics: incidents and timeline events over a date range, as CSV or
GeoJSON, read in batches by id so a million rows never sit in memory at once."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from piccolo.table import Table

from ioc_core.incidents.tables import Incident, IncidentEvent

BATCH = 2_000
FORMATS = ("csv", "geojson")
INCIDENT_COLUMNS = (
    "id",
    "code",
    "source",
    "category",
    "title",
    "status",
    "priority",
    "lon",
    "lat",
    "address",
    "area",
    "department",
    "assignee",
    "escalation_level",
    "escalation_reason",
    "sla_due_at",
    "expected_at",
    "created_at",
    "updated_at",
    "closed_at",
)
EVENT_COLUMNS = ("id", "incident", "at", "actor", "kind", "public", "note", "before", "after")


async def _rows(
    table: type[Table],
    columns: tuple[str, ...],
    time_column: str,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> AsyncIterator[dict[str, Any]]:
    last_id = 0
    selected = [getattr(table, c) for c in columns]
    while True:
        query = table.select(*selected).where(table.id > last_id)
        if since is not None:
            query = query.where(getattr(table, time_column) >= since)
        if until is not None:
            query = query.where(getattr(table, time_column) < until)
        batch = await query.order_by(table.id).limit(BATCH).output(load_json=True)
        for row in batch:
            yield row
        if len(batch) < BATCH:
            return
        last_id = batch[-1]["id"]


def _text(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


async def _csv(rows: AsyncIterator[dict[str, Any]], columns: tuple[str, ...]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    async for row in rows:
        writer.writerow([_text(row[c]) for c in columns])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


async def _geojson(
    rows: AsyncIterator[dict[str, Any]], point: Callable[[dict[str, Any]], Any]
) -> AsyncIterator[str]:
    yield '{"type":"FeatureCollection","features":['
    first = True
    async for row in rows:
        feature = {
            "type": "Feature",
            "id": row["id"],
            "geometry": point(row),
            "properties": {k: _text(v) for k, v in row.items()},
        }
        yield ("" if first else ",") + json.dumps(feature, ensure_ascii=False)
        first = False
    yield "]}"


def _incident_point(row: dict[str, Any]) -> dict[str, Any] | None:
    if row.get("lon") is None:
        return None
    return {"type": "Point", "coordinates": [row["lon"], row["lat"]]}


def export(
    what: str, fmt: str, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> AsyncIterator[str]:
    """Chunks of text for `incidents` (by creation time) or `events` (by event time)."""
    if what == "incidents":
        rows = _rows(Incident, INCIDENT_COLUMNS, "created_at", since, until)
        return _csv(rows, INCIDENT_COLUMNS) if fmt == "csv" else _geojson(rows, _incident_point)
    if what == "events":
        rows = _rows(IncidentEvent, EVENT_COLUMNS, "at", since, until)
        # An event has no place of its own; GeoJSON allows a null geometry.
        return _csv(rows, EVENT_COLUMNS) if fmt == "csv" else _geojson(rows, lambda _: None)
    raise ValueError(what)
