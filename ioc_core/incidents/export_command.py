"""`ioc export`: incidents or timeline events over a date range, to a CSV or GeoJSON file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ioc_core.clitools import CliError, run_async
from ioc_core.i18n import day_start, parse_day
from ioc_core.incidents.export import FORMATS, export


def _day(value: str | None, option: str) -> dt.datetime | None:
    """A day in the city's calendar, as the start of that day in UTC."""
    try:
        day = parse_day(value or "")
    except ValueError:
        raise CliError(f"{option} must be a date like 2026-01-31, not {value!r}") from None
    return day_start(day) if day else None


@click.command("export")
@click.argument("what", type=click.Choice(["incidents", "events"]))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--since", help="First day included (YYYY-MM-DD, Asia/Ho_Chi_Minh).")
@click.option("--until", help="First day no longer included (YYYY-MM-DD).")
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_command(what: str, fmt: str, since: str | None, until: str | None, output: Path) -> None:
    """Write WHAT (incidents or events) to --output, streamed in batches."""
    start, end = _day(since, "--since"), _day(until, "--until")
    if start and end and start >= end:
        raise CliError("--since must be before --until")
    partial = output.with_name(output.name + ".partial")
    try:
        fh = partial.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror}") from None

    async def write() -> int:
        written = 0
        async for chunk in export(what, fmt, start, end):
            fh.write(chunk)
            written += len(chunk)
        return written

    try:
        with fh:
            size = run_async(write())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    # Renamed only when complete: a failed export never leaves a file that looks finished.
    partial.replace(output)
    click.echo(f"{what} written to {output} ({size} characters, {fmt})")
