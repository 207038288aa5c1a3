from pathlib import Path

from piccolo.columns import Integer, Text, Varchar
from piccolo.conf.apps import AppConfig
from piccolo.table import Table

from ioc_core.geo.column import Geometry


class SampleReport(Table, tablename="sample_report"):
    note = Text(default="")
    location = Geometry("Point", null=True, default=None)


class SampleTaskRun(Table, tablename="sample_task_run"):
    """One row per side effect of the `record` task, keyed so a re-delivery cannot double it."""

    key = Varchar(length=64, unique=True)
    runs = Integer(default=1)


APP_CONFIG = AppConfig(
    app_name="sample_reports",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[SampleReport, SampleTaskRun],
    migration_dependencies=["ioc_core.piccolo_app"],
)
