"""Load the principal behind a session cookie or an API key."""

from __future__ import annotations

import datetime as dt
import hmac
import math
import time

from ioc_core.auth.principal import Principal
from ioc_core.auth.tables import (
    ApiKey,
    RolePermission,
    Session,
    User,
    UserDepartment,
    UserRole,
)
from ioc_core.auth.tokens import digest

API_KEY_PREFIX = "ioc_"
# A key's "last used" is written at most this often by a process: it tells an administrator
# whether a client still uses the key, and a write per request would halve a client's rate.
LAST_USED_EVERY_S = 60.0
# Key id -> when this process last wrote its last_used_at (time.monotonic()).
_last_used_written: dict[int, float] = {}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def user_principal(user_id: int) -> Principal | None:
    user = (
        await User.select(User.id, User.username, User.language, User.is_active)
        .where(User.id == user_id)
        .first()
    )
    if user is None or not user["is_active"]:
        return None
    # The roles and their "every permission" flag in one query; the grants in a second.
    roles = await UserRole.select(UserRole.role, UserRole.role.all_permissions).where(
        UserRole.user == user_id
    )
    role_ids = [r["role"] for r in roles]
    all_permissions = any(r["role.all_permissions"] for r in roles)
    granted = (
        await RolePermission.select(RolePermission.permission).where(
            RolePermission.role.is_in(role_ids)
        )
        if role_ids and not all_permissions
        else []
    )
    departments = await UserDepartment.select(UserDepartment.department).where(
        UserDepartment.user == user_id
    )
    return Principal(
        kind="user",
        id=user["id"],
        name=user["username"],
        permissions=frozenset(g["permission"] for g in granted),
        all_permissions=all_permissions,
        language=user["language"],
        department_ids=tuple(d["department"] for d in departments),
    )


async def session_principal(token: str) -> Principal | None:
    session = (
        await Session.select(Session.user, Session.expires_at, Session.second_factor_pending)
        .where(Session.token_hash == digest(token))
        .first()
    )
    if session is None or session["second_factor_pending"] or session["expires_at"] < _now():
        return None
    return await user_principal(session["user"])


async def api_key_principal(key: str) -> Principal | None:
    """`ioc_<prefix>_<secret>`: the prefix finds the row, the hash of the whole key proves it."""
    if not key.startswith(API_KEY_PREFIX) or key.count("_") < 2:
        return None
    prefix = key.split("_", 2)[1]
    row = (
        await ApiKey.select(ApiKey.id, ApiKey.name, ApiKey.key_hash, ApiKey.permissions)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_null())
        .output(load_json=True)
        .first()
    )
    if row is None or not hmac.compare_digest(row["key_hash"], digest(key)):
        return None
    now = time.monotonic()
    if now - _last_used_written.get(row["id"], -math.inf) >= LAST_USED_EVERY_S:
        _last_used_written[row["id"]] = now
        await ApiKey.update({ApiKey.last_used_at: _now()}).where(ApiKey.id == row["id"])
    return Principal(
        kind="api_key", id=row["id"], name=row["name"], permissions=frozenset(row["permissions"])
    )
