"""API keys for machine clients: shown once at creation, kept as a hash, scoped to permissions."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection

from piccolo.engine import engine_finder

from ioc_core.auth.errors import AuthError
from ioc_core.auth.principals import API_KEY_PREFIX
from ioc_core.auth.tables import ApiKey
from ioc_core.auth.tokens import digest
from ioc_core.db.audit import audit
from ioc_core.i18n import gettext


async def create_api_key(
    name: str, permissions: list[str], actor: str, known_permissions: Collection[str]
) -> tuple[ApiKey, str]:
    """A new key; the plain key is returned here and never stored or shown again."""
    name = name.strip()
    if not name or len(name) > 128:
        raise AuthError(gettext("Name: 1-128 characters, e.g. the client's name."))
    unknown = sorted(set(permissions) - set(known_permissions))
    if unknown:
        raise AuthError(gettext("Unknown permissions: %(names)s.") % {"names": ", ".join(unknown)})
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        name=name,
        prefix=prefix,
        key_hash=digest(key),
        permissions=sorted(set(permissions)),
        created_by=actor,
        created_at=dt.datetime.now(dt.UTC),
    )
    engine = engine_finder()
    assert engine is not None
    async with engine.transaction():
        await row.save()
        await audit(
            actor, "apikey.create", name, None, {"prefix": prefix, "permissions": row.permissions}
        )
    return row, key


async def revoke_api_key(key_id: int, actor: str) -> ApiKey:
    row = await ApiKey.objects().get(ApiKey.id == key_id)
    if row is None:
        raise AuthError(gettext("No API key with id %(id)s.") % {"id": key_id})
    if row.revoked_at is None:
        row.revoked_at = dt.datetime.now(dt.UTC)
        engine = engine_finder()
        assert engine is not None
        async with engine.transaction():
            await row.save([ApiKey.revoked_at])
            await audit(actor, "apikey.revoke", row.name, {"revoked": False}, {"revoked": True})
    return row
