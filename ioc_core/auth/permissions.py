"""The permissions plugins declare, checked once at start-up, and their default grants."""

from __future__ import annotations

from ioc_core.auth.tables import PermissionSeed, Role, RolePermission
from ioc_core.db.migrate import exclusive_transaction
from ioc_core.plugins.registry import PluginRegistry
from ioc_core.plugins.spec import Permission


def collect_permissions(registry: PluginRegistry) -> dict[str, Permission]:
    """Every plugin's permissions by name. A plugin declaring a name outside its own
    `<plugin>.` namespace, or one already taken, is refused, never half served."""
    found: dict[str, Permission] = {}
    owner: dict[str, str] = {}
    computed = registry.per_plugin("permissions", settings=registry.settings)
    for name in list(registry.plugins):
        if name not in registry.plugins:
            continue  # refused below as a dependent of an earlier plugin
        declared = list(registry.spec(name).permissions)
        declared += [p for answer in computed.get(name, []) for p in answer]
        problem = _problem(name, declared, owner)
        if problem:
            registry.refuse(name, problem)
            continue
        for permission in declared:
            found[permission.name] = permission
            owner[permission.name] = name
    registry.permissions = found
    return found


def _problem(plugin: str, declared: list[Permission], owner: dict[str, str]) -> str | None:
    seen: set[str] = set()
    for permission in declared:
        if not permission.name.startswith(f"{plugin}."):
            return f"permission {permission.name!r} must be named {plugin}.<action>"
        if permission.name in owner or permission.name in seen:
            taken_by = owner.get(permission.name, plugin)
            return f"permission {permission.name!r} is declared twice (also by {taken_by})"
        seen.add(permission.name)
    return None


async def seed_default_grants(permissions: list[Permission]) -> list[str]:
    """Grant each permission to its default roles, once in the database's life."""
    async with exclusive_transaction():
        return await _seed(permissions)


async def _seed(permissions: list[Permission]) -> list[str]:
    seeded = {r["permission"] for r in await PermissionSeed.select(PermissionSeed.permission)}
    roles = {r["name"]: r["id"] for r in await Role.select(Role.id, Role.name)}
    applied = []
    for permission in permissions:
        if permission.name in seeded:
            continue
        grants = [
            RolePermission(role=roles[role], permission=permission.name)
            for role in permission.default_roles
            if role in roles
        ]
        if grants:
            await RolePermission.insert(*grants)
        await PermissionSeed.insert(PermissionSeed(permission=permission.name))
        applied.append(permission.name)
    return applied
