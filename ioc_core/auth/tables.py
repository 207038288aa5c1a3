"""Who may do what: users, departments, roles and their permissions, sessions, API keys."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    ForeignKey,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

DEPARTMENT_LEVELS = ("ward", "department", "city", "province")


class Department(Table, tablename="department"):
    """A unit in the hierarchy ward office → department → city leadership → province."""

    code = Varchar(length=64, unique=True)
    name_vi = Varchar(length=200)
    name_en = Varchar(length=200, default="")
    level = Varchar(length=16, default="department")
    # A department with units under it is not deleted by accident.
    parent = ForeignKey("self", null=True, default=None, on_delete=OnDelete.restrict)


class Role(Table, tablename="role"):
    name = Varchar(length=64, unique=True)
    title_vi = Varchar(length=200)
    title_en = Varchar(length=200, default="")
    # The administrator role holds every permission, including those of plugins enabled later.
    all_permissions = Boolean(default=False)


class RolePermission(Table, tablename="role_permission"):
    role = ForeignKey(Role, null=False)
    permission = Varchar(length=128, index=True)


class User(Table, tablename="app_user"):
    username = Varchar(length=64, unique=True)
    full_name = Varchar(length=200, default="")
    email = Varchar(length=254, default="")
    password_hash = Text()
    language = Varchar(length=8, default="vi")
    is_active = Boolean(default=True)
    totp_secret = Varchar(length=64, null=True, default=None, secret=True)
    created_at = Timestamptz(default=TimestamptzNow())
    last_login_at = Timestamptz(null=True, default=None)


class UserRole(Table, tablename="user_role"):
    user = ForeignKey(User, null=False)
    role = ForeignKey(Role, null=False)


class UserDepartment(Table, tablename="user_department"):
    user = ForeignKey(User, null=False)
    department = ForeignKey(Department, null=False)


class Session(Table, tablename="auth_session"):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    token_hash = Varchar(length=64, unique=True)
    user = ForeignKey(User, null=False)
    created_at = Timestamptz()
    expires_at = Timestamptz(index=True)
    # Password accepted, TOTP code still to give: not signed in yet.
    second_factor_pending = Boolean(default=False)
    flashes = JSON(default=[])


class ApiKey(Table, tablename="api_key"):
    """A machine client's key: `ioc_<prefix>_<secret>`; stored as prefix + SHA-256 of the key."""

    name = Varchar(length=128)
    prefix = Varchar(length=16, unique=True)
    key_hash = Varchar(length=64)
    permissions = JSON(default=[])
    created_by = Varchar(length=128)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)


class LoginFailure(Table, tablename="login_failure"):
    """Failed sign-ins, counted per user name and per address to slow down guessing."""

    username = Varchar(length=64, index=True)
    address = Varchar(length=64, index=True)
    at = Timestamptz(index=True)


class PermissionSeed(Table, tablename="permission_seed"):
    """Permissions whose default role grants were applied once; an administrator's later
    removal of a grant is not undone when the plugin is enabled again."""

    permission = Varchar(length=128, unique=True)
