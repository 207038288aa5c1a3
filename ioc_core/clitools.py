"""What every `ioc` command shares: the process runtime, async calls, errors as exit code 2."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

import click

from ioc_core.auth.errors import AuthError
from ioc_core.plugins.registry import PluginError
from ioc_core.runtime import Runtime
from ioc_core.settings import SettingsError

T = TypeVar("T")
USAGE_ERROR = 2


class CliError(click.ClickException):
    exit_code = USAGE_ERROR


def runtime_of(ctx: click.Context) -> Runtime:
    runtime: Runtime = ctx.ensure_object(dict)["runtime"]
    return runtime


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except (PluginError, SettingsError, AuthError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"database unreachable: {exc}") from None


def start_periodic(start: Callable[[], None], what: str, every_s: float) -> None:
    """Start a cluster-wide periodic chain (`ioc_core.tasks.periodic`) from the command line."""
    try:
        start()
    except Exception as exc:  # the broker client's own error types vary with the broker
        raise CliError(f"broker unreachable: {exc}") from None
    click.echo(f"{what} started: every {every_s:g} s, once per cluster")


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


def print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
