"""The catalog as one YAML or JSON file: export, import into a fresh database, errors by path,
the download and upload pages, and `ioc reports-catalog`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from field_reports import catalog_io, intake
from field_reports.catalog_io import CatalogError
from field_reports.tables import Service, ServiceField, ServiceGroup
from litestar.testing import TestClient

from ioc_core.auth.tables import Department
from ioc_core.auth.users import create_user
from ioc_core.db.tables import AuditEvent
from ioc_core.i18n import language
from ioc_core.incidents.tables import Category
from ioc_core.plugins import lifecycle
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings
from ioc_core.sla.tables import RoutingRule, SlaTarget
from ioc_core.web.app import create_app
from tests.conftest import TEST_DATABASE_URL, _admin, _with_database
from tests.helpers import STAFF_PASSWORD, in_app, run, sign_in
from tests.plugins.field_reports.conftest import Services


def counts() -> tuple[int, ...]:
    tables = (Category, Service, ServiceField, ServiceGroup, RoutingRule, SlaTarget, AuditEvent)
    return tuple(run(table.count()) for table in tables)


def test_export_then_import_into_a_fresh_database_gives_the_same_catalog(
    services: Services, reports_runtime: Runtime, environ: dict[str, str], tmp_path: Path
) -> None:
    exported = run(catalog_io.export_catalog())
    assert [s["code"] for s in exported["services"]] == ["chieu-sang", "rac-thai"]
    lights = exported["services"][0]
    assert (lights["group"], lights["department"], lights["sla_hours"]) == ("ha-tang", None, None)
    assert [f["code"] for f in lights["fields"]] == ["kieu-den", "so-den"]
    for fmt in catalog_io.FORMATS:
        assert catalog_io.parse(catalog_io.dump(exported, fmt)) == exported
        assert catalog_io.parse(catalog_io.dump(exported, fmt), f"x.{fmt}") == exported
    # A default department and SLA of the service's own travel with it.
    works = run(Department.select(Department.id).where(Department.code == "qldt").first())
    lights_id = run(Category.select(Category.id).where(Category.code == "chieu-sang").first())
    run(
        RoutingRule.insert(
            RoutingRule(
                category=lights_id["id"], department=works["id"], updated_at=_now(), updated_by="t"
            )
        )
    )
    run(
        SlaTarget.insert(
            SlaTarget(
                category=lights_id["id"], hours=7.5, warn_hours=2, updated_at=_now(), updated_by="t"
            )
        )
    )
    exported = run(catalog_io.export_catalog())
    lights = exported["services"][0]
    assert (lights["department"], lights["sla_hours"], lights["sla_warn_hours"]) == ("qldt", 7.5, 2)
    text = catalog_io.dump(exported, "yaml")

    # Into a fresh database, on the same server and backend.
    copy = _fresh_runtime(reports_runtime, environ, tmp_path)
    try:
        run(Department.insert(Department(code="qldt", name_vi="Phòng Quản lý đô thị")))
        summary = run(catalog_io.import_catalog(catalog_io.parse(text), "cli:test"))
        assert summary.as_dict() == {
            "fields": {"created": 2},
            "groups": {"created": 1},
            "services": {"created": 2},
        }
        assert run(catalog_io.export_catalog()) == exported
        assert run(intake.public_service("chieu-sang")) is not None
        again = run(catalog_io.import_catalog(catalog_io.parse(text), "cli:test"))
        assert again.as_dict()["services"] == {"unchanged": 2}
        audited = run(
            AuditEvent.select(AuditEvent.action).where(AuditEvent.action.like("field_reports.%"))
        )
        assert [a["action"] for a in audited].count("field_reports.catalog.import") == 2
        assert [a["action"] for a in audited].count("field_reports.service.save") == 2
    finally:
        _drop(copy)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fresh_runtime(current: Runtime, environ: dict[str, str], tmp_path: Path) -> Runtime:
    """A second platform, on its own empty database, bound in place of the first."""
    if TEST_DATABASE_URL:
        name = current.settings.database_url.rsplit("/", 1)[1] + "_copy"
        asyncio.run(_admin(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"'))
        url = _with_database(TEST_DATABASE_URL, name)
    else:
        url = f"sqlite:///{tmp_path / 'copy.sqlite3'}"
    built = build_runtime(Settings.load({**environ, "IOC_DATABASE_URL": url}), park_delay_ms=200)
    run(lifecycle.migrate_enabled(built.registry))
    run(lifecycle.enable(built.registry, "field_reports", "test"))
    return built


def _drop(built: Runtime) -> None:
    built.broker.close()
    if TEST_DATABASE_URL:
        name = built.settings.database_url.rsplit("/", 1)[1]
        asyncio.run(_admin(TEST_DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def document(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "format": catalog_io.FORMAT,
        "version": 1,
        "groups": [{"code": "moi-truong", "name_vi": "Môi trường"}],
        "services": [
            {
                "code": "ngap-nuoc",
                "name_vi": "Ngập nước",
                "group": "moi-truong",
                "department": "qldt",
                "sla_hours": 4,
                "sla_warn_hours": 1,
                "fields": [
                    {
                        "code": "do-sau",
                        "datatype": "singlevaluelist",
                        "label_vi": "Độ sâu",
                        "required": True,
                        "options": [
                            {"key": "mat-ca-chan", "name_vi": "Ngập mắt cá chân"},
                            {"key": "dau-goi", "name_vi": "Ngập đầu gối"},
                        ],
                    }
                ],
            }
        ],
    }
    return base | changes


def test_import_creates_and_updates_by_code_and_keeps_what_the_file_omits(
    services: Services,
) -> None:
    summary = run(catalog_io.import_catalog(document(), "cli:test"))
    assert summary.as_dict()["services"] == {"created": 1}
    offered = run(intake.public_service("ngap-nuoc"))
    assert offered is not None
    changed = document()
    changed["services"][0]["name_vi"] = "Ngập úng"
    changed["services"][0]["fields"][0]["options"].append(
        {"key": "ngang-hong", "name_vi": "Ngang hông"}
    )
    changed["services"].append(
        {"code": "chieu-sang", "name_vi": "Chiếu sáng công cộng", "group": "ha-tang"}
    )
    summary = run(catalog_io.import_catalog(changed, "cli:test"))
    assert summary.as_dict()["services"] == {"updated": 2}
    assert summary.as_dict()["fields"] == {"updated": 1}
    lights = run(intake.public_service("chieu-sang"))
    assert lights is not None and lights["name_vi"] == "Chiếu sáng công cộng"
    # The file left out lights' fields and the waste service: both are still there.
    assert run(ServiceField.count().where(ServiceField.service == services.lights)) == 2
    assert run(intake.public_service("rac-thai")) is not None


def test_import_errors_name_their_place_and_nothing_is_written(services: Services) -> None:
    before = counts()
    bad = document()
    bad["services"][0]["fields"][0]["datatype"] = "photo"
    bad["services"][0]["fields"].append({"code": "do-sau", "datatype": "string", "label_vi": "x"})
    bad["services"][0]["department"] = "khong-co"
    bad["services"][0]["sla_hourz"] = 3
    bad["services"].append({"code": "ngap-nuoc", "name_vi": "Lần nữa", "group": "khong-co"})
    bad["services"].append("chieu-sang")
    bad["groups"][0]["position"] = "đầu"
    bad["services"][0]["fields"][0]["options"][1]["key"] = "Đầu gối"
    with pytest.raises(CatalogError) as refused:
        run(catalog_io.import_catalog(bad, "cli:test"))
    assert set(refused.value.errors) == {
        "groups[0].position",
        "services[0].sla_hourz",
        "services[0].department",
        "services[0].fields[0].datatype",
        "services[0].fields[0].options[1].key",
        "services[0].fields[1].code",
        "services[1].code",
        "services[1].group",
        "services[2]",
    }
    assert "services[0].fields[0].datatype: " in str(refused.value)
    assert "\n" not in str(refused.value)
    for not_a_catalog in ([], {"services": {}}, {"version": 2}):
        with pytest.raises(CatalogError):
            run(catalog_io.import_catalog(not_a_catalog, "cli:test"))
    assert counts() == before


def test_unreadable_files_are_refused_with_the_line() -> None:
    with language("en"):
        with pytest.raises(CatalogError, match="JSON at line 2"):
            catalog_io.parse(b'{"groups": [\n  oops]}')
        with pytest.raises(CatalogError, match="YAML at line 3"):
            catalog_io.parse("groups:\n  - code: [a\n", "catalog.yml")
        with pytest.raises(CatalogError, match="UTF-8"):
            catalog_io.parse(b"\xff\xfe groups")
    assert catalog_io.parse("groups: []", "catalog.txt") == {"groups": []}


def test_download_and_upload_in_the_portal(reports_runtime: Runtime, services: Services) -> None:
    run(create_user("quantri", STAFF_PASSWORD, roles=["admin"], actor="t"))
    run(create_user("canbo", STAFF_PASSWORD, roles=["officer"], actor="t"))
    with TestClient(create_app(runtime=reports_runtime)) as client:
        token = sign_in(client, "quantri")
        home = client.get("/field-reports/services").text
        assert "catalog?format=yaml" in home and 'enctype="multipart/form-data"' in home
        as_yaml = client.get("/field-reports/services/catalog?format=yaml")
        assert as_yaml.status_code == 200 and "attachment" in as_yaml.headers["content-disposition"]
        assert yaml.safe_load(as_yaml.text)["services"][0]["code"] == "chieu-sang"
        as_json = client.get("/field-reports/services/catalog?format=json").json()
        assert as_json == yaml.safe_load(as_yaml.text)

        bad = document()
        bad["services"][0]["fields"][0]["datatype"] = "photo"
        files = {"catalog": ("catalog.json", json.dumps(bad).encode(), "application/json")}
        refused = client.post(
            "/field-reports/services/catalog", data={"_csrf_token": token}, files=files
        )
        assert refused.status_code == 422 and "services[0].fields[0].datatype" in refused.text
        assert in_app(client, intake.public_service, "ngap-nuoc") is None
        files = {
            "catalog": ("catalog.yaml", yaml.safe_dump(document()).encode(), "application/yaml")
        }
        imported = client.post(
            "/field-reports/services/catalog",
            data={"_csrf_token": token},
            files=files,
            follow_redirects=False,
        )
        assert imported.status_code == 303
        assert "catalog.yaml" in client.get(imported.headers["location"]).text
        assert in_app(client, intake.public_service, "ngap-nuoc") is not None

    with TestClient(create_app(runtime=reports_runtime)) as client:
        token = sign_in(client, "canbo")
        assert client.get("/field-reports/services/catalog").status_code == 403
        files = {"catalog": ("catalog.yaml", b"groups: []", "application/yaml")}
        denied = client.post(
            "/field-reports/services/catalog", data={"_csrf_token": token}, files=files
        )
        assert denied.status_code == 403


def test_ioc_reports_catalog_export_and_import(
    reports_runtime: Runtime, services: Services, tmp_path: Path
) -> None:
    runner = CliRunner()
    obj = {"runtime": reports_runtime}
    printed = runner.invoke(catalog_io.catalog_group, ["export", "--format", "json"], obj=obj)
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output)["groups"][0]["code"] == "ha-tang"
    target = tmp_path / "catalog.yaml"
    written = runner.invoke(catalog_io.catalog_group, ["export", "--output", str(target)], obj=obj)
    assert written.exit_code == 0 and yaml.safe_load(target.read_text())["version"] == 1

    source = tmp_path / "new.json"
    source.write_text(json.dumps(document()), encoding="utf-8")
    done = runner.invoke(catalog_io.catalog_group, ["import", str(source)], obj=obj)
    assert done.exit_code == 0, done.output
    assert done.output.startswith("new.json imported: ")
    assert run(intake.public_service("ngap-nuoc")) is not None

    bad = document()
    bad["services"][0]["fields"][0]["datatype"] = "photo"
    source.write_text(json.dumps(bad), encoding="utf-8")
    refused = runner.invoke(catalog_io.catalog_group, ["import", str(source)], obj=obj)
    assert refused.exit_code == 2
    assert "services[0].fields[0].datatype" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    source.write_text("{not json", encoding="utf-8")
    unreadable = runner.invoke(catalog_io.catalog_group, ["import", str(source)], obj=obj)
    assert unreadable.exit_code == 2 and "new.json" in unreadable.output
    missing = runner.invoke(
        catalog_io.catalog_group, ["import", str(tmp_path / "none.yaml")], obj=obj
    )
    assert missing.exit_code == 2 and len(missing.output.strip().splitlines()) == 1
