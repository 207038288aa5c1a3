"""Moderation by staff: hide a report, redact a photo, edit a description, merge duplicates."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []


async def report_panel(request: Any, incident: Any, errors: dict[str, str]) -> str | None:
    """The citizen report's panel on the staff incident page (being written)."""
    return None
