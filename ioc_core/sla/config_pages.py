"""Staff pages that configure routing rules, SLA targets and the working calendar."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
