from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Text, Varchar
from piccolo.columns.indexes import IndexMethod

from ioc_core.geo.column import Geometry

ID = "2026-11-29T20:42:45:056831"
VERSION = "1.38.0"
DESCRIPTION = "Sample reports with a point location, and task runs"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="sample_reports", description=DESCRIPTION)

    manager.add_table(
        class_name="SampleTaskRun",
        tablename="sample_task_run",
        schema=None,
        columns=None,
    )

    manager.add_table(
        class_name="SampleReport",
        tablename="sample_report",
        schema=None,
        columns=None,
    )

    manager.add_column(
        table_class_name="SampleTaskRun",
        tablename="sample_task_run",
        column_name="key",
        db_column_name="key",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": True,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="SampleTaskRun",
        tablename="sample_task_run",
        column_name="runs",
        db_column_name="runs",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 1,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="SampleReport",
        tablename="sample_report",
        column_name="note",
        db_column_name="note",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="SampleReport",
        tablename="sample_report",
        column_name="location",
        db_column_name="location",
        column_class_name="Geometry",
        column_class=Geometry,
        params={
            "default": None,
            "geometry_type": "Point",
            "srid": 4326,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
