"""Creating and changing users, shared by the `ioc users` command and the admin pages."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from piccolo.engine import engine_finder

from ioc_core.auth.errors import AuthError
from ioc_core.auth.passwords import hash_password, password_problems
from ioc_core.auth.tables import Department, Role, User, UserDepartment, UserRole
from ioc_core.db.audit import audit
from ioc_core.i18n import LANGUAGES, gettext

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


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
        raise AuthError(
            gettext("User name: 2-64 characters, lower-case letters, digits, '.', '_' or '-'.")
        )
    problems = password_problems(password, username)
    if problems:
        raise AuthError(gettext("Password:") + " " + " ".join(problems))
    if language not in LANGUAGES:
        raise AuthError(gettext("Language must be vi or en."))
    if await User.exists().where(User.username == username):
        raise AuthError(gettext("User name %(name)s is taken.") % {"name": username})
    role_ids = await _ids(Role, Role.name, roles, gettext("role"))
    department_ids = await _ids(
        Department, Department.code, list(departments), gettext("department")
    )

    engine = engine_finder()
    assert engine is not None
    async with engine.transaction():
        user = User(
            username=username,
            password_hash=hash_password(password),
            full_name=full_name,
            email=email,
            language=language,
            created_at=dt.datetime.now(dt.UTC),
        )
        await user.save()
        if role_ids:
            await UserRole.insert(*[UserRole(user=user.id, role=r) for r in role_ids])
        if department_ids:
            await UserDepartment.insert(
                *[UserDepartment(user=user.id, department=d) for d in department_ids]
            )
        await audit(
            actor,
            "user.create",
            username,
            None,
            {"roles": roles, "departments": list(departments), "language": language},
        )
    return user


async def _ids(table: type, column: object, names: list[str], what: str) -> list[int]:
    rows = await table.select(table.id, column).where(column.is_in(names)) if names else []
    found = {r[column._meta.name]: r["id"] for r in rows}
    missing = [n for n in names if n not in found]
    if missing:
        known = [r[column._meta.name] for r in await table.select(column)]
        raise AuthError(
            gettext("No %(what)s named %(names)s (known: %(known)s).")
            % {"what": what, "names": ", ".join(missing), "known": ", ".join(sorted(known)) or "-"}
        )
    return [found[n] for n in names]
