"""The citizen portal: report, track, rate or reopen, and the public map."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
