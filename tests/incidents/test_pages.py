"""Incident pages, the map's GeoJSON and the exports, as staff use them."""

import csv
import io
import json
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from ioc_core.auth.tables import Department
from ioc_core.auth.users import create_user
from ioc_core.geo.areas import import_areas
from ioc_core.incidents import service
from ioc_core.incidents.service import NewIncident
from ioc_core.incidents.tables import Area, Incident, IncidentEvent
from ioc_core.runtime import Runtime
from ioc_core.web.app import create_app
from tests.helpers import STAFF_PASSWORD, run, sign_in
from tests.processes import ioc

WARDS = Path(__file__).parent.parent / "geo" / "fixtures" / "wards.geojson"
PASSWORD = STAFF_PASSWORD
NORTH, SOUTH, SEA = (108.075, 10.945), (108.075, 10.91), (108.1275, 10.92)
BOX = "108.0,10.85,108.2,11.0"


def seed() -> dict[str, int]:
    run(import_areas(WARDS))
    north = Department(code="p-bac", name_vi="Phường Bắc", level="ward")
    south = Department(code="p-nam", name_vi="Phường Nam", level="ward")
    run(north.save())
    run(south.save())
    run(create_user("quantri", PASSWORD, roles=["admin"], actor="test"))
    run(create_user("canbo", PASSWORD, roles=["officer"], departments=["p-bac"], actor="test"))
    made = {}
    for name, (lon, lat) in {"north": NORTH, "south": SOUTH, "sea": SEA}.items():
        incident = run(
            service.create_incident(NewIncident("test", f"Sự vụ {name}", lon=lon, lat=lat), "c")
        )
        made[name] = incident.id
    run(service.assign(made["north"], "test", department_id=north.id))
    run(service.assign(made["south"], "test", department_id=south.id))
    return made


def test_ward_is_found_from_the_point(runtime: Runtime) -> None:
    made = seed()
    wards = {r["id"]: r["code"] for r in run(Area.select(Area.id, Area.code))}
    areas = {r["id"]: r["area"] for r in run(Incident.select(Incident.id, Incident.area))}
    assert wards[areas[made["north"]]] == "TEST-W01"
    assert wards[areas[made["south"]]] == "TEST-W02"
    assert wards[areas[made["sea"]]] == "TEST-W03"


def test_staff_see_their_departments_and_unowned(runtime: Runtime) -> None:
    made = seed()
    with TestClient(create_app(runtime=runtime)) as client:
        sign_in(client, "canbo")
        listed = client.get("/incidents").text
        assert "Sự vụ north" in listed and "Sự vụ sea" in listed, "own and unowned"
        assert "Sự vụ south" not in listed
        assert client.get(f"/incidents/{made['south']}").status_code == 404
        features = client.get(f"/api/incidents.geojson?bbox={BOX}&zoom=16").json()["features"]
        assert sorted(f["id"] for f in features) == sorted([made["north"], made["sea"]])


def test_geojson_points_clusters_filters_and_bad_bbox(runtime: Runtime) -> None:
    made = seed()
    with TestClient(create_app(runtime=runtime)) as client:
        sign_in(client, "quantri")
        points = client.get(f"/api/incidents.geojson?bbox={BOX}&zoom=16").json()
        assert {f["id"] for f in points["features"]} == set(made.values())
        north = next(f for f in points["features"] if f["id"] == made["north"])
        assert north["geometry"]["coordinates"] == list(NORTH)
        assert north["properties"]["status"] == "assigned"
        clusters = client.get(f"/api/incidents.geojson?bbox={BOX}&zoom=5").json()["features"]
        assert sum(f["properties"]["count"] for f in clusters) == 3
        assert all(f["properties"]["cluster"] for f in clusters)
        new_only = client.get(f"/api/incidents.geojson?bbox={BOX}&zoom=16&status=new").json()
        assert [f["id"] for f in new_only["features"]] == [made["sea"]]
        for bad in ("1,2,3", "a,b,c,d", "108.2,10.85,108.0,11.0", "0,0,200,10"):
            answer = client.get(f"/api/incidents.geojson?bbox={bad}")
            assert answer.status_code == 400 and "bbox" in answer.json()["detail"], bad
        wards = client.get("/api/areas.geojson").json()
        assert {f["properties"]["code"] for f in wards["features"]} == {
            "TEST-W01",
            "TEST-W02",
            "TEST-W03",
        }


def test_clusters_follow_the_filters_and_the_readers_scope(runtime: Runtime) -> None:
    """Clusters (cell groups) count what the markers (a Piccolo condition) show, for each
    filter and for a reader limited to their department."""
    seed()
    department = {
        r["code"]: r["id"] for r in run(Department.select(Department.id, Department.code))
    }
    ward = {r["code"]: r["id"] for r in run(Area.select(Area.id, Area.code))}
    filters = {
        "": 3,
        "&status=new": 1,
        "&status=assigned&status=new": 3,
        "&status=closed": 0,
        f"&department={department['p-bac']}": 1,
        f"&area={ward['TEST-W03']}": 1,
        f"&area={ward['TEST-W03']}&status=assigned": 0,
        "&category=0": 0,
        "&department=abc": 0,
    }
    scoped = {"": 2, f"&department={department['p-nam']}": 0, "&status=new": 1}

    def counts(client: TestClient[Any], query: str) -> tuple[int, int]:
        url = f"/api/incidents.geojson?bbox={BOX}"
        clusters = client.get(f"{url}&zoom=10{query}").json()["features"]
        points = client.get(f"{url}&zoom=16{query}").json()["features"]
        assert all(f["properties"]["cluster"] for f in clusters)
        return sum(f["properties"]["count"] for f in clusters), len(points)

    with TestClient(create_app(runtime=runtime)) as client:
        sign_in(client, "quantri")
        for query, want in filters.items():
            assert counts(client, query) == (want, want), query
    with TestClient(create_app(runtime=runtime)) as client:
        sign_in(client, "canbo")
        for query, want in scoped.items():
            assert counts(client, query) == (want, want), query


def test_detail_actions_grow_the_timeline(runtime: Runtime) -> None:
    made = seed()
    incident = made["sea"]
    with TestClient(create_app(runtime=runtime)) as client:
        token = sign_in(client, "quantri")
        form = {"_csrf_token": token}
        page = client.get(f"/incidents/{incident}").text
        assert "Diễn biến" in page and "Sự vụ sea" in page
        client.post(f"/incidents/{incident}/status", data=form | {"status": "triaged"})
        client.post(f"/incidents/{incident}/comment", data=form | {"comment": "Đã kiểm tra"})
        wrong = client.post(f"/incidents/{incident}/status", data=form | {"status": "closed"})
        assert wrong.status_code == 422 and "không thể chuyển sang Đã đóng" in wrong.text
        note = form | {"public_note": "Chờ kinh phí", "expected_at": "2027-01-15"}
        client.post(f"/incidents/{incident}/public-note", data=note)
        bad_date = client.post(
            f"/incidents/{incident}/public-note", data=form | {"expected_at": "mai"}
        )
        assert bad_date.status_code == 422
    kinds = [
        e["kind"]
        for e in run(
            IncidentEvent.select(IncidentEvent.kind)
            .where(IncidentEvent.incident == incident)
            .order_by(IncidentEvent.id)
        )
    ]
    assert kinds == ["created", "status", "commented", "public_note"]
    stored = run(Incident.objects().get(Incident.id == incident))
    assert stored.expected_at is not None and stored.expected_at.hour == 5, "noon in UTC+7"


def test_bulk_assign(runtime: Runtime) -> None:
    made = seed()
    south = run(Department.select(Department.id).where(Department.code == "p-nam").first())
    with TestClient(create_app(runtime=runtime)) as client:
        token = sign_in(client, "quantri")
        form = {
            "_csrf_token": token,
            "department": str(south["id"]),
            "incident": [str(made["sea"]), str(made["north"])],
            "back": "https://evil.example/",
        }
        answer = client.post("/incidents/bulk-assign", data=form, follow_redirects=False)
        assert answer.headers["location"] == "/", "no open redirect"
    owners = {
        r["id"]: r["department"] for r in run(Incident.select(Incident.id, Incident.department))
    }
    assert owners[made["sea"]] == owners[made["north"]] == south["id"]


def test_exports_over_http_and_command_line(
    runtime: Runtime, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    made = seed()
    with TestClient(create_app(runtime=runtime)) as client:
        sign_in(client, "quantri")
        answer = client.get("/incidents/export?what=incidents&format=csv")
        assert answer.headers["content-disposition"] == 'attachment; filename="incidents.csv"'
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        assert sorted(int(r["id"]) for r in rows) == sorted(made.values())
        assert "reporter_contact" not in rows[0]
        events = client.get("/incidents/export?what=events&format=geojson").json()
        assert len(events["features"]) == 5  # 3 created + 2 assigned
        future = client.get("/incidents/export?what=incidents&format=csv&since=2999-01-01")
        assert len(list(csv.DictReader(io.StringIO(future.text)))) == 0
        assert client.get("/incidents/export?what=users").status_code == 400
        sign_in(client, "canbo")
        assert client.get("/incidents/export").status_code == 403
    output = tmp_path / "incidents.geojson"
    done = ioc(
        "export", "incidents", "--format", "geojson", "--output", str(output), env=subprocess_env
    )
    assert done.returncode == 0, done.stderr
    features = json.loads(output.read_text())["features"]
    assert {f["properties"]["code"] for f in features} == {
        r["code"] for r in run(Incident.select(Incident.code))
    }
    bad = ioc(
        "export", "incidents", "--since", "hôm qua", "--output", str(output), env=subprocess_env
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("Error: --since must be a date")
