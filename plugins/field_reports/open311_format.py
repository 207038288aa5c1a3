"""GeoReport v2's two formats: the same answer as JSON or as XML, and its error lists.

The spec defines XML and maps it to JSON by the "Spark convention": a list in JSON is an element
per item in XML, named for the item (`<services><service>...`); a JSON null is an empty
element; booleans are `true`/`false`.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from litestar import Response

from ioc_core.i18n import TIMEZONE

MEDIA_TYPES = {
    "json": "application/json; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
}
# The element of each item of a list field, in XML.
ITEM_TAGS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


def split_format(name: str) -> tuple[str, str | None]:
    """`services.json` → ("services", "json"); the format is None when it is not one we serve."""
    stem, dot, extension = name.rpartition(".")
    if not dot or extension not in MEDIA_TYPES:
        return name, None
    return stem, extension


def w3c(value: dt.datetime | None) -> str | None:
    """A stored UTC time as the city's local time with its offset: 2026-11-05T08:15:30+07:00."""
    if value is None:
        return None
    return value.astimezone(TIMEZONE).isoformat(timespec="seconds")


def parse_w3c(text: str) -> dt.datetime:
    """A W3C date-time filter (2010-01-01T00:00:00Z, or a day); a time without an offset is the
    city's local time. ValueError when it is not one."""
    moment = dt.datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TIMEZONE)
    return moment.astimezone(dt.UTC)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ET.Element, fields: Mapping[str, Any]) -> None:
    for name, value in fields.items():
        child = ET.SubElement(element, name)
        if isinstance(value, Mapping):
            _fill(child, value)
        elif isinstance(value, list):
            for item in value:
                entry = ET.SubElement(child, ITEM_TAGS[name])
                if isinstance(item, Mapping):
                    _fill(entry, item)
                else:
                    entry.text = _text(item)
        else:
            child.text = _text(value)


def to_xml(
    root: str, item: str | None, data: Sequence[Mapping[str, Any]] | Mapping[str, Any]
) -> bytes:
    """`data` under `<root>`: a list as one `<item>` per entry, a mapping as the root's fields."""
    element = ET.Element(root)
    if isinstance(data, Mapping):
        _fill(element, data)
    else:
        assert item is not None
        for entry in data:
            _fill(ET.SubElement(element, item), entry)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)


def answer(
    fmt: str,
    root: str,
    item: str | None,
    data: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response[bytes]:
    """The response in the format asked for; `root` and `item` name the XML elements."""
    if fmt == "xml":
        body = to_xml(root, item, data)
    else:
        body = json.dumps(data, ensure_ascii=False).encode()
    return Response(
        body, status_code=status, media_type=MEDIA_TYPES[fmt], headers=dict(headers or {})
    )


def errors(
    fmt: str,
    status: int,
    problems: Sequence[tuple[int, str]],
    headers: Mapping[str, str] | None = None,
) -> Response[bytes]:
    """The spec's error list: one `{code, description}` per problem."""
    data = [{"code": code, "description": description} for code, description in problems]
    return answer(fmt, "errors", "error", data, status, headers)
