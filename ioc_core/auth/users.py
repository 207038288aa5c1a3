"""Creating and changing users, shared by the `ioc users` command and the admin pages."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from piccolo.columns import Varchar
from piccolo.engine import engine_finder
from piccolo.table import Table

from ioc_core.auth.errors import AuthError, FormError
from ioc_core.auth.passwords import hash_password, password_problems
from ioc_core.auth.sessions import end_sessions
from ioc_core.auth.tables import Department, Role, User, UserDepartment, UserRole
from ioc_core.db.audit import audit
from ioc_core.i18n import LANGUAGES, gettext

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


@dataclass(frozen=True)
class Membership:
    """A user's roles (by name) and departments (by code)."""

    roles: Sequence[str]
    departments: Sequence[str] = ()


async def create_user(
    username: str,
    password: str,
    *,
    roles: list[str],
    actor: str,
    full_name: str = "",
    email: str = "",
    departments: Sequence[str] = (),
    language: str = "vi",
) -> User:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise FormError(
            {
                "username": gettext(
                    "User name: 2-64 characters, lower-case letters, digits, '.', '_' or '-'."
                )
            }
        )
    _check_password(password, username)
    _check_language(language)
    if await User.exists().where(User.username == username):
        raise FormError({"username": gettext("User name %(name)s is taken.") % {"name": username}})
    membership = Membership(roles, departments)
    role_ids, department_ids = await _resolve(membership)
    user = User(
        username=username,
        password_hash=hash_password(password),
        full_name=full_name,
        email=email,
        language=language,
        created_at=dt.datetime.now(dt.UTC),
    )
    engine = engine_finder()
    assert engine is not None
    async with engine.transaction():
        await user.save()
        await _link(user.id, role_ids, department_ids)
        await audit(actor, "user.create", username, None, await _summary(user))
    return user


async def update_user(
    user_id: int,
    membership: Membership,
    *,
    actor: str,
    full_name: str,
    email: str,
    language: str,
    is_active: bool,
    new_password: str = "",
) -> User:
    """Change a user's details, roles and departments; the password only when one is given."""
    user = await User.objects().get(User.id == user_id)
    if user is None:
        raise AuthError(gettext("No such user."))
    if new_password:
        _check_password(new_password, user.username)
    _check_language(language)
    role_ids, department_ids = await _resolve(membership)
    before = await _summary(user)
    user.full_name, user.email, user.language = full_name, email, language
    user.is_active = is_active
    if new_password:
        user.password_hash = hash_password(new_password)
    engine = engine_finder()
    assert engine is not None
    async with engine.transaction():
        await user.save()
        await UserRole.delete().where(UserRole.user == user.id)
        await UserDepartment.delete().where(UserDepartment.user == user.id)
        await _link(user.id, role_ids, department_ids)
        if new_password or not is_active:
            # A password set by an administrator (a lost or leaked one) or a disabled account
            # ends the user's sessions everywhere.
            await end_sessions(user.id)
        after = await _summary(user) | {"password_changed": bool(new_password)}
        await audit(actor, "user.update", user.username, before, after)
    return user


def _check_password(password: str, username: str) -> None:
    problems = password_problems(password, username)
    if problems:
        raise FormError({"password": " ".join(problems)})


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise FormError({"language": gettext("Language must be vi or en.")})


async def _resolve(membership: Membership) -> tuple[list[int], list[int]]:
    roles = await _ids(Role, Role.name, list(membership.roles), "roles", gettext("role"))
    departments = await _ids(
        Department,
        Department.code,
        list(membership.departments),
        "departments",
        gettext("department"),
    )
    return roles, departments


async def _link(user_id: int, role_ids: list[int], department_ids: list[int]) -> None:
    if role_ids:
        await UserRole.insert(*[UserRole(user=user_id, role=r) for r in role_ids])
    if department_ids:
        await UserDepartment.insert(
            *[UserDepartment(user=user_id, department=d) for d in department_ids]
        )


async def _ids(
    table: type[Table], column: Varchar, names: list[str], field: str, what: str
) -> list[int]:
    key = column._meta.name
    rows = await table.select(table.id, column).where(column.is_in(names)) if names else []
    found = {r[key]: r["id"] for r in rows}
    missing = [n for n in names if n not in found]
    if missing:
        known = sorted(r[key] for r in await table.select(column))
        message = gettext("No %(what)s named %(names)s (known: %(known)s).")
        details = {"what": what, "names": ", ".join(missing), "known": ", ".join(known) or "-"}
        raise FormError({field: message % details})
    return [found[n] for n in names]


async def _summary(user: User) -> dict[str, object]:
    """What the audit trail keeps of a user: never the password hash."""
    roles = await UserRole.select(UserRole.role.name).where(UserRole.user == user.id)
    departments = await UserDepartment.select(UserDepartment.department.code).where(
        UserDepartment.user == user.id
    )
    return {
        "full_name": user.full_name,
        "email": user.email,
        "language": user.language,
        "is_active": user.is_active,
        "roles": sorted(r["role.name"] for r in roles),
        "departments": sorted(d["department.code"] for d in departments),
    }
