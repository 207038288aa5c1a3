"""`ioc users` and `ioc apikeys`: for scripts and the first administrator."""

from __future__ import annotations

import sys

import click

from ioc_core.auth.apikeys import create_api_key, revoke_api_key
from ioc_core.auth.permissions import collect_permissions
from ioc_core.auth.tables import ApiKey, Role, User, UserRole
from ioc_core.auth.users import create_user
from ioc_core.clitools import CliError, cli_actor, print_table, run_async, runtime_of
from ioc_core.i18n import local_time


@click.group()
def users() -> None:
    """Create and list staff accounts."""


@users.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="Role name; repeatable.")
@click.option("--department", "departments", multiple=True, help="Department code; repeatable.")
@click.option("--full-name", default="")
@click.option("--email", default="")
@click.option("--language", default="vi", type=click.Choice(["vi", "en"]), show_default=True)
@click.option(
    "--password-stdin", is_flag=True, required=True, help="Read the password from standard input."
)
def users_create(
    username: str,
    roles: tuple[str, ...],
    departments: tuple[str, ...],
    full_name: str,
    email: str,
    language: str,
    password_stdin: bool,
) -> None:
    """Create USERNAME; the password comes from standard input, never from the command line."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError("no password on standard input: echo the password | ioc users create ...")
    user = run_async(
        create_user(
            username,
            password,
            roles=list(roles),
            departments=list(departments),
            full_name=full_name,
            email=email,
            language=language,
            actor=cli_actor(),
        )
    )
    click.echo(f"user {user.username} created with roles {', '.join(roles)}")


@users.command("list")
def users_list() -> None:
    """User name, roles, language, active, last sign-in."""

    async def rows() -> list[tuple[str, ...]]:
        names = {r["id"]: r["name"] for r in await Role.select(Role.id, Role.name)}
        links = await UserRole.select(UserRole.user, UserRole.role)
        found = [("USER", "ROLES", "LANGUAGE", "ACTIVE", "LAST SIGN-IN")]
        for user in await User.select().order_by(User.username):
            roles = [names[link["role"]] for link in links if link["user"] == user["id"]]
            found.append(
                (
                    user["username"],
                    ",".join(roles) or "-",
                    user["language"],
                    "yes" if user["is_active"] else "no",
                    local_time(user["last_login_at"]) or "-",
                )
            )
        return found

    print_table(run_async(rows()))


@click.group()
def apikeys() -> None:
    """API keys for machine clients (the city's mobile app, integrations)."""


@apikeys.command("create")
@click.argument("name")
@click.option("--permission", "permissions", multiple=True, help="Permission; repeatable.")
@click.pass_context
def apikeys_create(ctx: click.Context, name: str, permissions: tuple[str, ...]) -> None:
    """Create a key for NAME; the key is printed once, on the last line."""
    runtime = runtime_of(ctx)
    known = collect_permissions(runtime.registry)
    row, key = run_async(create_api_key(name, list(permissions), cli_actor(), known))
    click.echo(f"API key {row.id} for {row.name}: {', '.join(row.permissions) or 'no permissions'}")
    click.echo("Store it now; it is not shown again:")
    click.echo(key)


@apikeys.command("list")
def apikeys_list() -> None:
    """Keys, their permissions and state; never the keys themselves."""
    keys = run_async(ApiKey.select().order_by(ApiKey.id).output(load_json=True).run())
    rows = [("ID", "NAME", "PREFIX", "PERMISSIONS", "CREATED", "REVOKED")]
    for k in keys:
        rows.append(
            (
                str(k["id"]),
                k["name"],
                k["prefix"],
                ",".join(k["permissions"]) or "-",
                local_time(k["created_at"]),
                local_time(k["revoked_at"]) or "-",
            )
        )
    print_table(rows)


@apikeys.command("revoke")
@click.argument("key_id", type=int)
def apikeys_revoke(key_id: int) -> None:
    """Revoke key KEY_ID at once, for every process."""
    row = run_async(revoke_api_key(key_id, cli_actor()))
    click.echo(f"API key {row.id} ({row.name}) revoked")
