"""The audit trail: every administrative action, with who, what, when, before and after."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ioc_core.db.tables import AuditEvent


async def audit(
    actor: str, action: str, subject: str, before: Any, after: Any, note: str = ""
) -> None:
    await AuditEvent.insert(
        AuditEvent(
            at=dt.datetime.now(dt.UTC),
            actor=actor,
            action=action,
            subject=subject,
            before=before,
            after=after,
            note=note,
        )
    )
