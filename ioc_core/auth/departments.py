"""The department hierarchy: ward office → department → city leadership → province."""

from __future__ import annotations

import re
from typing import Any

from piccolo.engine import engine_finder

from ioc_core.auth.errors import FormError
from ioc_core.auth.tables import DEPARTMENT_LEVELS, Department
from ioc_core.db.audit import audit
from ioc_core.i18n import gettext
from ioc_core.web.ids import row_id

CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


async def save_department(
    values: dict[str, Any], actor: str, department_id: int | None = None
) -> Department:
    """Create a department, or change one; refuses a parent that would make a loop."""
    code = str(values.get("code", "")).strip().lower()
    name_vi = str(values.get("name_vi", "")).strip()
    level = values.get("level", "department")
    parent_text = str(values.get("parent", "")).strip()
    parent_id = row_id(parent_text)
    errors = {}
    if parent_text and (
        parent_id is None or not await Department.exists().where(Department.id == parent_id)
    ):
        errors["parent"] = gettext("Choose the unit it reports to from the list.")
        parent_id = None
    if not CODE_RE.match(code):
        errors["code"] = gettext("Code: lower-case letters, digits, '-' or '_', up to 64.")
    if not name_vi or len(name_vi) > 200:
        errors["name_vi"] = gettext("Vietnamese name: 1-200 characters.")
    if level not in DEPARTMENT_LEVELS:
        errors["level"] = gettext("Choose a level from the list.")
    taken = Department.exists().where(Department.code == code)
    if department_id is not None:
        taken = taken.where(Department.id != department_id)
    if code and await taken:
        errors["code"] = gettext("Code %(code)s is taken.") % {"code": code}
    if parent_id is not None and await _would_loop(parent_id, department_id):
        errors["parent"] = gettext("A department cannot sit under itself.")
    if errors:
        raise FormError(errors)

    existing = (
        await Department.objects().get(Department.id == department_id) if department_id else None
    )
    before = existing.to_dict() if existing else None
    row = existing or Department()
    row.code, row.name_vi, row.level, row.parent = code, name_vi, level, parent_id
    row.name_en = str(values.get("name_en", "")).strip()[:200]
    engine = engine_finder()
    assert engine is not None
    async with engine.transaction():
        await row.save()
        after = row.to_dict()
        await audit(actor, "department.save", code, _plain(before), _plain(after))
    return row


async def _would_loop(parent_id: int, department_id: int | None) -> bool:
    if department_id is None:
        return False
    parents = {
        r["id"]: r["parent"] for r in await Department.select(Department.id, Department.parent)
    }
    current: int | None = parent_id
    while current is not None:
        if current == department_id:
            return True
        current = parents.get(current)
    return False


async def _parents() -> dict[int, int | None]:
    rows = await Department.select(Department.id, Department.parent)
    return {r["id"]: r["parent"] for r in rows}


def _plain(values: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if values is None else {k: v for k, v in values.items() if k != "id"}


async def department_tree() -> list[dict[str, Any]]:
    """Every department with its depth, parents before children, for a tree-shaped list."""
    rows = await Department.select().order_by(Department.code)
    children: dict[int | None, list[dict[str, Any]]] = {}
    for row in rows:
        children.setdefault(row["parent"], []).append(row)
    ordered: list[dict[str, Any]] = []

    def walk(parent: int | None, depth: int) -> None:
        for row in children.get(parent, []):
            ordered.append({**row, "depth": depth})
            walk(row["id"], depth + 1)

    walk(None, 0)
    return ordered


async def descendant_ids(department_ids: list[int]) -> set[int]:
    """The departments and all below them: what their staff see."""
    parents = {
        r["id"]: r["parent"] for r in await Department.select(Department.id, Department.parent)
    }
    found = set(department_ids)
    changed = True
    while changed:
        changed = False
        for child, parent in parents.items():
            if parent in found and child not in found:
                found.add(child)
                changed = True
    return found
