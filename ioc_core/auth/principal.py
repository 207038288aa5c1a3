"""Who is making a request: a signed-in user or a machine client with an API key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "api_key"]
    id: int
    name: str
    permissions: frozenset[str] = frozenset()
    all_permissions: bool = False
    language: str = "vi"
    department_ids: tuple[int, ...] = field(default=())

    def can(self, permission: str) -> bool:
        return self.all_permissions or permission in self.permissions

    @property
    def actor(self) -> str:
        """How the audit trail names this principal."""
        return f"{self.kind}:{self.name}"
