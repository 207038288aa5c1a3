"""Roles and the matrix of roles and permissions, edited by administrators."""

from __future__ import annotations

import re
from collections.abc import Collection

from piccolo.engine import engine_finder

from ioc_core.auth.errors import FormError
from ioc_core.auth.tables import Role, RolePermission
from ioc_core.db.audit import audit
from ioc_core.i18n import gettext

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


async def create_role(name: str, title_vi: str, title_en: str, actor: str) -> Role:
    name = name.strip().lower()
    errors = {}
    if not NAME_RE.match(name):
        errors["name"] = gettext("Name: lower-case letters, digits or '_', starting with a letter.")
    elif await Role.exists().where(Role.name == name):
        errors["name"] = gettext("Role %(name)s exists.") % {"name": name}
    if not title_vi.strip():
        errors["title_vi"] = gettext("Vietnamese title: required.")
    if errors:
        raise FormError(errors)
    role = Role(name=name, title_vi=title_vi.strip(), title_en=title_en.strip())
    engine = engine_finder()
    assert engine is not None
    async with engine.transaction():
        await role.save()
        await audit(actor, "role.create", name, None, {"title_vi": role.title_vi})
    return role


async def matrix() -> dict[int, set[str]]:
    """Each role's granted permissions, by role id."""
    granted: dict[int, set[str]] = {}
    for row in await RolePermission.select(RolePermission.role, RolePermission.permission):
        granted.setdefault(row["role"], set()).add(row["permission"])
    return granted


async def save_matrix(wanted: dict[int, set[str]], known: Collection[str], actor: str) -> list[str]:
    """Make the grants equal `wanted` for the roles it names; audit each role that changed."""
    unknown = {p for perms in wanted.values() for p in perms} - set(known)
    if unknown:
        raise FormError(
            {
                "matrix": gettext("Unknown permissions: %(names)s.")
                % {"names": ", ".join(sorted(unknown))}
            }
        )
    names = {r["id"]: r["name"] for r in await Role.select(Role.id, Role.name)}
    current = await matrix()
    changed = []
    engine = engine_finder()
    assert engine is not None
    async with engine.transaction():
        for role_id, permissions in wanted.items():
            if role_id not in names:
                continue
            before = current.get(role_id, set())
            if before == permissions:
                continue
            added, removed = permissions - before, before - permissions
            if removed:
                await RolePermission.delete().where(
                    (RolePermission.role == role_id)
                    & RolePermission.permission.is_in(list(removed))
                )
            if added:
                await RolePermission.insert(
                    *[RolePermission(role=role_id, permission=p) for p in sorted(added)]
                )
            await audit(
                actor, "role.permissions", names[role_id], sorted(before), sorted(permissions)
            )
            changed.append(names[role_id])
    return changed
