"""Password hashing (argon2id) and the rules a new password must meet."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ioc_core.i18n import gettext

MIN_LENGTH = 10
MAX_LENGTH = 256
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Always verify against something, so an unknown user name takes as long as a wrong
    password. Made on first use: a hash costs a quarter second of every process's start."""
    return _hasher.hash("not a real password, only for timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problems(password: str, username: str) -> list[str]:
    """What is wrong with a new password, in messages for the person choosing it."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(gettext("Use at least %(n)s characters.") % {"n": MIN_LENGTH})
    if len(password) > MAX_LENGTH:
        problems.append(gettext("Use at most %(n)s characters.") % {"n": MAX_LENGTH})
    if password.isdigit() or password.isalpha():
        problems.append(gettext("Mix letters with digits or symbols."))
    if username and username.lower() in password.lower():
        problems.append(gettext("Do not put the user name in the password."))
    if len(set(password)) < 4:
        problems.append(gettext("Use more different characters."))
    return problems
