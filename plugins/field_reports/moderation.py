"""Moderation by staff: hide a report, redact a photo, edit a description, merge duplicates."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
