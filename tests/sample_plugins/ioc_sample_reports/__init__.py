from typing import Any

import click
from litestar import get, post
from litestar.params import JSONBody

from ioc_core.geo.column import to_db
from ioc_core.hookspecs import hookimpl
from ioc_core.plugins.spec import MenuItem, Permission, PluginSpec
from ioc_core.tasks.task import task

SPEC = PluginSpec(
    name="sample_reports",
    title_vi="Phản ánh mẫu",
    title_en="Sample reports",
    version="1.2.0",
    permissions=(Permission("sample_reports.view", "Xem", "View"),),
    menu_items=(MenuItem("Phản ánh mẫu", "Sample reports", "/sample-reports"),),
    piccolo_app="ioc_sample_reports.piccolo_app",
)

EVENTS: list[tuple[str, str]] = []


@get("/sample-reports/count", opt={"public": True})
async def count_reports() -> dict[str, int]:
    from ioc_sample_reports.piccolo_app import SampleReport

    return {"count": await SampleReport.count()}


@post("/sample-reports", opt={"permission": "sample_reports.view"})
async def add_report(data: JSONBody[dict[str, Any]]) -> dict[str, int]:
    from shapely.geometry import Point

    from ioc_sample_reports.piccolo_app import SampleReport

    row = SampleReport(note=data["note"], location=to_db(Point(data["lon"], data["lat"])))
    await row.save()
    return {"id": row.id}


@task(queue="notes", max_retries=3)
async def record(key: str) -> None:
    from ioc_sample_reports.piccolo_app import SampleTaskRun

    # Idempotent: a second delivery of the same key changes nothing.
    await SampleTaskRun.insert(SampleTaskRun(key=key)).on_conflict(
        target=SampleTaskRun.key, action="DO NOTHING"
    )


@click.command("sample-hello")
def sample_hello() -> None:
    """Say hello from the sample plugin."""
    click.echo("hello from sample_reports")


@hookimpl
def route_handlers() -> list[Any]:
    return [count_reports, add_report]


@hookimpl
def tasks() -> list[Any]:
    return [record]


@hookimpl
def cli_commands() -> list[click.Command]:
    return [sample_hello]


@hookimpl
def on_enable(actor: str) -> None:
    EVENTS.append(("enable", actor))


@hookimpl
def on_disable(actor: str) -> None:
    EVENTS.append(("disable", actor))
