"""Open311 GeoReport v2 under /open311/v2/, in JSON and XML."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
