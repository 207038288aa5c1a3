"""What the reporter is told (being written)."""

from __future__ import annotations

from typing import Any

HANDLERS: dict[str, list[Any]] = {}
WORDING: dict[str, Any] = {}
