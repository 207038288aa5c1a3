"""Which incidents a staff member sees: their departments' and those departments' children's,
plus the ones no department owns yet (someone has to triage them)."""

from __future__ import annotations

from typing import Any

from ioc_core.auth.departments import descendant_ids
from ioc_core.auth.principal import Principal
from ioc_core.incidents.tables import Incident


async def department_scope(principal: Principal) -> list[int] | None:
    """The departments whose incidents the principal sees (besides the unowned ones), or None
    when the principal sees everything."""
    if principal.all_permissions:
        return None
    return sorted(await descendant_ids(list(principal.department_ids)))


async def visible_to(principal: Principal) -> Any | None:
    """A Piccolo condition on Incident, or None when the principal sees everything."""
    departments = await department_scope(principal)
    if departments is None:
        return None
    unowned = Incident.department.is_null()
    if not departments:
        return unowned
    return Incident.department.is_in(departments) | unowned


async def can_see(principal: Principal, incident_id: int) -> bool:
    condition = await visible_to(principal)
    query = Incident.exists().where(Incident.id == incident_id)
    if condition is not None:
        query = query.where(condition)
    return bool(await query)
