"""A Piccolo column for geometries: PostGIS `geometry` on PostgreSQL, text on SQLite.

Write a value made by `to_db`; read any stored value back with `to_shape`. PostgreSQL answers
hex EWKB, SQLite the EWKT that was written, and `to_shape` takes both.
"""

from __future__ import annotations

from typing import Any

import shapely
from piccolo.columns.base import Column
from shapely.geometry.base import BaseGeometry

SRID = 4326
GEOMETRY_TYPES = ("Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon")


class Geometry(Column):
    """`geometry(<type>, 4326)` on PostgreSQL; EWKT text on SQLite, where lat/lon columns and an
    R*Tree do the spatial work."""

    value_type = str

    def __init__(self, geometry_type: str = "Point", srid: int = SRID, **kwargs: Any) -> None:
        if geometry_type not in GEOMETRY_TYPES:
            raise ValueError(f"geometry_type must be one of {', '.join(GEOMETRY_TYPES)}")
        self.geometry_type = geometry_type
        self.srid = srid
        # Piccolo's migrations serialise a column from these kwargs.
        kwargs.update({"geometry_type": geometry_type, "srid": srid})
        super().__init__(**kwargs)

    @property
    def column_type(self) -> str:
        if self._meta.engine_type in ("postgres", "cockroach"):
            return f"geometry({self.geometry_type},{self.srid})"
        return "TEXT"


def to_db(geometry: BaseGeometry, srid: int = SRID) -> str:
    """The value to write into a Geometry column, on either backend."""
    return f"SRID={srid};{geometry.wkt}"


def to_shape(value: str) -> BaseGeometry:
    """A shapely geometry from what a Geometry column returns on either backend."""
    if value.startswith("SRID="):
        value = value.split(";", 1)[1]
    # Hex (E)WKB always opens with its byte-order byte, 00 or 01; WKT with a letter.
    if value[:2] in ("00", "01"):
        return shapely.from_wkb(value)
    return shapely.from_wkt(value)
