"""Migrations from code on the backend under test, the Geometry column and the spatial indexes."""

import subprocess
from pathlib import Path

import pytest
from shapely.geometry import Point

import ioc_core
from ioc_core.db.migrate import migrate
from ioc_core.geo.column import to_db, to_shape
from ioc_core.plugins import lifecycle
from ioc_core.runtime import Runtime
from tests.helpers import run
from tests.processes import IOC, ioc

# The built-in plugins' migrations.
CORE_MIGRATIONS = list(Path(ioc_core.__file__).parent.glob("**/piccolo_migrations/*_20*.py"))
NOTHING_TO_APPLY = [
    f"{app}: 0 applied" for app in ("core", "auth", "incidents", "notifications", "sla")
]


def test_init_then_migrate_is_idempotent(subprocess_env: dict[str, str]) -> None:
    first = ioc("init", env=subprocess_env)
    assert first.returncode == 0, first.stderr
    assert f"{len(CORE_MIGRATIONS)} migrations applied" in first.stdout
    again = ioc("migrate", env=subprocess_env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == NOTHING_TO_APPLY


def test_plugin_migrations_run_on_enable_and_geometry_round_trips(runtime: Runtime) -> None:
    run(lifecycle.enable(runtime.registry, "sample_reports", "tester"))
    from ioc_sample_reports.piccolo_app import SampleReport

    where = Point(108.1017, 10.9289)  # Phan Thiết
    run(SampleReport.insert(SampleReport(note="ngập nước", location=to_db(where))))
    stored = run(SampleReport.select(SampleReport.location).first())
    assert to_shape(stored["location"]).equals_exact(where, 1e-9)
    assert run(migrate([runtime.registry.spec("sample_reports").piccolo_app])) == {
        "sample_reports": []
    }


def test_spatial_indexes_follow_the_engine(runtime: Runtime) -> None:
    run(lifecycle.enable(runtime.registry, "sample_reports", "tester"))
    engine = runtime.engine
    if engine.engine_type == "postgres":
        extensions = run(engine.run_ddl("SELECT extname FROM pg_extension"))
        assert "postgis" in {e["extname"] for e in extensions}
        indexes = run(
            engine.run_ddl("SELECT indexdef FROM pg_indexes WHERE tablename = 'sample_report'")
        )
        definitions = " | ".join(i["indexdef"] for i in indexes)
        assert "USING gist (location)" in definitions
        assert "USING gist (((location)::geography))" in definitions
        column = run(
            engine.run_ddl(
                "SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute "
                "WHERE attrelid = 'sample_report'::regclass AND attname = 'location'"
            )
        )
        assert column[0]["type"] == "geometry(Point,4326)"
    else:
        columns = run(engine.run_ddl("PRAGMA table_info(sample_report)"))
        assert {c["name"]: c["type"] for c in columns}["location"] == "TEXT"
        indexes = run(engine.run_ddl("PRAGMA index_list(sample_report)"))
        assert not [i for i in indexes if "gist" in i["name"] or "geog" in i["name"]]


def test_sqlite_file_is_in_wal_mode(runtime: Runtime) -> None:
    if not runtime.settings.is_sqlite:
        pytest.skip("SQLite only: WAL lets the web process read while a worker writes")
    mode = run(runtime.engine.run_ddl("PRAGMA journal_mode"))
    assert mode[0]["journal_mode"] == "wal"


def test_concurrent_init_migrates_once(subprocess_env: dict[str, str]) -> None:
    processes = [
        subprocess.Popen(
            [IOC, "init"],
            env=subprocess_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], results
    # Each migration is applied by exactly one of them, whichever took its lock first.
    applied = [int(out.split(", ")[1].split()[0]) for out, _ in results]
    assert sum(applied) == len(CORE_MIGRATIONS), results
    assert ioc("migrate", env=subprocess_env).stdout.splitlines() == NOTHING_TO_APPLY
