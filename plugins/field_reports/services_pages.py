"""Low-code administration of the services citizens report under, and their custom fields."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
