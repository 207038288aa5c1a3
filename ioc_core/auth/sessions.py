"""Server-side sessions: a random cookie token whose SHA-256 names a row any web process reads."""

from __future__ import annotations

import datetime as dt

import pyotp

from ioc_core.auth import throttle
from ioc_core.auth.errors import AuthError
from ioc_core.auth.passwords import hash_password, needs_rehash, verify_password
from ioc_core.auth.tables import Session, User
from ioc_core.auth.tokens import digest, new_token
from ioc_core.i18n import gettext

SESSION_LIFETIME = dt.timedelta(hours=12)
# How long a signed-in password waits for its TOTP code.
SECOND_FACTOR_WINDOW = dt.timedelta(minutes=5)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def sign_in(username: str, password: str, address: str) -> tuple[str, bool]:
    """Check a password; return a new session token and whether a TOTP code must follow."""
    username = username.strip().lower()
    await throttle.check(username, address)
    user = await User.objects().get(User.username == username)
    if not verify_password(user.password_hash if user else None, password) or not (
        user and user.is_active
    ):
        await throttle.record_failure(username, address)
        raise AuthError(gettext("Wrong user name or password."))
    await throttle.clear(username)
    if needs_rehash(user.password_hash):
        await User.update({User.password_hash: hash_password(password)}).where(User.id == user.id)
    # Sign-ins are rare next to requests: a fine moment to drop sessions that ran out.
    await Session.delete().where(Session.expires_at < _now())
    pending = bool(user.totp_secret)
    token = new_token()
    lifetime = SECOND_FACTOR_WINDOW if pending else SESSION_LIFETIME
    await Session.insert(
        Session(
            token_hash=digest(token),
            user=user.id,
            created_at=_now(),
            expires_at=_now() + lifetime,
            second_factor_pending=pending,
        )
    )
    if not pending:
        await User.update({User.last_login_at: _now()}).where(User.id == user.id)
    return token, pending


async def verify_second_factor(token: str, code: str, address: str) -> None:
    """Complete a sign-in waiting for its TOTP code."""
    session = await Session.objects().get(
        (Session.token_hash == digest(token)) & (Session.second_factor_pending == True)  # noqa: E712
    )
    if session is None or session.expires_at < _now():
        raise AuthError(gettext("Sign in again: the time to enter the code ran out."))
    user = await User.objects().get(User.id == session.user)
    await throttle.check(user.username, address)
    if not user.totp_secret or not pyotp.TOTP(user.totp_secret).verify(
        code.strip(), valid_window=1
    ):
        await throttle.record_failure(user.username, address)
        raise AuthError(gettext("Wrong code. Enter the 6 digits your authenticator app shows now."))
    await throttle.clear(user.username)
    await Session.update(
        {Session.second_factor_pending: False, Session.expires_at: _now() + SESSION_LIFETIME}
    ).where(Session.id == session.id)
    await User.update({User.last_login_at: _now()}).where(User.id == user.id)


async def sign_out(token: str) -> None:
    await Session.delete().where(Session.token_hash == digest(token))


async def end_sessions(user_id: int, keep_token: str = "") -> None:
    """Sign a user out everywhere, but for the session of `keep_token`: after a password
    change, whoever knew the old password keeps no session opened with it."""
    await Session.delete().where(
        (Session.user == user_id) & (Session.token_hash != digest(keep_token))
    )


async def add_flash(token: str, kind: str, message: str) -> None:
    """A message shown once, on the next page this browser loads."""
    session = (
        await Session.objects().output(load_json=True).get(Session.token_hash == digest(token))
    )
    if session is not None:
        session.flashes = [*session.flashes, {"kind": kind, "message": message}]
        await session.save([Session.flashes])


async def take_flashes(token: str) -> list[dict[str, str]]:
    row = (
        await Session.select(Session.id, Session.flashes)
        .where(Session.token_hash == digest(token))
        .output(load_json=True)
        .first()
    )
    if row is None or not row["flashes"]:
        return []
    await Session.update({Session.flashes: []}).where(Session.id == row["id"])
    return list(row["flashes"])
