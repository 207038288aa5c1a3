"""`ioc areas import` and `ioc areas list`: administrative areas from GeoJSON files."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ioc_core.clitools import CliError, print_table, run_async
from ioc_core.geo.areas import AreaImportError, import_areas, today
from ioc_core.incidents.tables import Area

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar


@click.group()
def areas() -> None:
    """Administrative areas (wards) with their validity periods."""


class _Progress:
    """A click progress bar on standard error, made once the number of steps is known. Only on
    a terminal: scripts and logs get the result line alone."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: ProgressBar[int] | None = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if not sys.stderr.isatty():
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def finish(self) -> None:
        """End the bar's line, so an error or the result starts on a line of its own."""
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@areas.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--kind", default="ward", show_default=True, help="ward, commune, province, ...")
@click.option("--valid-from", help="First day the areas are valid (YYYY-MM-DD); default today.")
@click.option("--source", default="", help="Where the boundaries come from, kept with each area.")
def areas_import(file: Path, kind: str, valid_from: str | None, source: str) -> None:
    """Import the areas of FILE, a GeoJSON FeatureCollection of Polygons or MultiPolygons with
    properties code and name_vi (and name_en). All are checked before any is stored; an area
    whose code exists already ends the day the new one starts."""
    start = None
    if valid_from is not None:
        try:
            start = dt.date.fromisoformat(valid_from)
        except ValueError:
            raise CliError(
                f"--valid-from must be a date like 2026-01-31, not {valid_from!r}"
            ) from None
    progress = _Progress(f"areas from {file.name}")
    try:
        count = run_async(
            import_areas(file, kind=kind, valid_from=start, source=source, progress=progress)
        )
    except AreaImportError as exc:
        raise CliError(str(exc)) from None
    finally:
        progress.finish()
    click.echo(f"{count} areas imported from {file.name} (kind {kind})")


@areas.command("list")
@click.option("--current", is_flag=True, help="Only the areas valid today.")
def areas_list(current: bool) -> None:
    """Code, names, kind and validity period of every area, old versions included."""
    query = Area.select(
        Area.code, Area.name_vi, Area.name_en, Area.kind, Area.valid_from, Area.valid_to
    ).order_by(Area.code, Area.valid_from)
    if current:
        day = today()
        query = query.where(
            (Area.valid_from.is_null() | (Area.valid_from <= day))
            & (Area.valid_to.is_null() | (Area.valid_to > day))
        )
    rows = run_async(query.run())
    table = [("CODE", "NAME (VI)", "NAME (EN)", "KIND", "VALID FROM", "VALID TO")]
    for row in rows:
        table.append(
            (
                row["code"],
                row["name_vi"],
                row["name_en"] or "-",
                row["kind"],
                str(row["valid_from"] or "-"),
                str(row["valid_to"] or "-"),
            )
        )
    if len(table) == 1:
        click.echo("no areas; import some with: ioc areas import FILE")
        return
    print_table(table)
