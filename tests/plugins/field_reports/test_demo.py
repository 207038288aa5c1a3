"""`ioc demo` as a real process: the seed on both backends (and that a second run adds nothing),
and the served demo on SQLite."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from field_reports.demo import API_KEY_NAME, PASSWORD
from field_reports.tables import Report, Service

from ioc_core.auth.tables import ApiKey, Department, User
from ioc_core.geo import spatial
from ioc_core.incidents.tables import Area, Category, Incident, IncidentEvent
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings
from ioc_core.sla.tables import Escalation, RoutingRule, SlaTarget
from tests.helpers import run, sign_in
from tests.processes import IOC, answering, free_port, ioc, stop

# Few reports: the seed's fixed work (migrations, accounts) dominates, and the test stays fast.
REPORTS = 150
# Phan Thiết's box, as the plugin's default bounds.
BOUNDS = (107.95, 10.8, 108.35, 11.15)
USERS = ("admin", "lanhdao", "dieuphoi", "canbo.qldt", "canbo.muine")


@pytest.fixture
def platform(settings: Settings) -> Iterator[Runtime]:
    """This process bound to the database the `ioc` subprocesses use."""
    built = build_runtime(settings)
    yield built
    built.broker.close()


async def _counts() -> dict[str, Any]:
    return {
        "wards": await Area.count().where(Area.code.like("DEMO-%")),
        "departments": await Department.count(),
        "categories": await Category.count(),
        "services": await Service.count(),
        "rules": await RoutingRule.count(),
        "targets": await SlaTarget.count(),
        "users": await User.count(),
        "keys": await ApiKey.count().where(
            (ApiKey.name == API_KEY_NAME) & ApiKey.revoked_at.is_null()
        ),
        "incidents": await Incident.count(),
        "reports": await Report.count(),
        "events": await IncidentEvent.count(),
        "escalations": await Escalation.count(),
    }


def test_seed_builds_a_demo_with_a_year_of_histories_once(
    subprocess_env: dict[str, str], platform: Runtime
) -> None:
    first = ioc("demo", "--seed-only", "--reports", str(REPORTS), env=subprocess_env, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "demo data ready" in first.stdout
    counts = run(_counts())
    assert counts["wards"] == 14
    # Province, city, five departments and a ward office per ward.
    assert counts["departments"] == 2 + 5 + 14
    assert counts["categories"] == counts["services"] == 10
    assert counts["rules"] > 10 and counts["targets"] > 10
    assert counts["users"] == 11 and counts["keys"] == 1
    assert counts["incidents"] == counts["reports"] == REPORTS
    assert counts["events"] > 4 * REPORTS
    assert counts["escalations"] > 0

    incidents = run(Incident.select(Incident.created_at, Incident.area, Incident.status))
    months = {(i["created_at"].year, i["created_at"].month) for i in incidents}
    assert len(months) >= 10, months
    assert all(i["area"] is not None for i in incidents)
    assert {"closed", "resolved"} <= {i["status"] for i in incidents}
    # Every timeline happened in the past, over the year, after its incident was filed.
    events = run(
        IncidentEvent.select(IncidentEvent.at, IncidentEvent.incident.created_at.as_alias("filed"))
    )
    now = dt.datetime.now(dt.UTC)
    assert all(e["filed"] <= e["at"] <= now for e in events)
    assert min(e["at"] for e in events) < now - dt.timedelta(days=300)
    kinds = {k["kind"] for k in run(IncidentEvent.select(IncidentEvent.kind).distinct())}
    assert {"created", "routed", "assigned", "status", "escalated", "decided"} <= kinds
    assert run(Report.count().where(Report.rating.is_not_null())) > 0
    # On the map: every report has its point in the city.
    assert len(run(spatial.in_bbox(*BOUNDS))) == REPORTS

    second = ioc("demo", "--seed-only", "--reports", str(REPORTS), env=subprocess_env, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "none added" in second.stdout
    assert run(_counts()) == counts


def _clean_environment(var: Path) -> dict[str, str]:
    """The embedded defaults under `var`: a SQLite file and the SQLite-backed queue."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    return env | {"IOC_VAR_DIR": str(var), "IOC_PLUGIN_STATE_TTL": "0"}


def test_demo_serves_the_portal_and_prints_how_to_use_it(tmp_path: Path) -> None:
    """The README's first command, on its embedded default (SQLite only, by design)."""
    env = _clean_environment(tmp_path / "var")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [IOC, "demo", "--reports", "40", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    try:
        printed = []
        while not printed or not printed[-1].startswith("serving on"):
            line = process.stdout.readline()
            assert line, f"ioc demo exited: {''.join(printed)}"
            printed.append(line)
        text = "".join(printed)
        for path in ("/login", "/report", "/open311/v2/discovery.json"):
            assert f"{base}{path}" in text
        assert PASSWORD in text
        assert all(f"  {name} " in text for name in USERS)
        key = next(line for line in printed if line.startswith("API key")).split()[-1]
        assert key.startswith("ioc_")

        answering(base, process, timeout=60)
        page = httpx.get(f"{base}/report", timeout=10)
        assert page.status_code == 200 and "Chiếu sáng" in page.text

        # A printed login works, and the city's leader sees every report on the map.
        with httpx.Client(base_url=base, timeout=10) as client:
            sign_in(client, "lanhdao", PASSWORD)  # type: ignore[arg-type]
            answer = client.get(
                "/api/incidents.geojson",
                params={"bbox": ",".join(map(str, BOUNDS)), "zoom": 12},
            )
        assert answer.status_code == 200, answer.text
        assert sum(f["properties"]["count"] for f in answer.json()["features"]) == 40
    finally:
        stop(process)
