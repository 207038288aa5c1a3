"""Low-code administration of report services: checks, audit, and the pages staff use."""

from __future__ import annotations

import re
from typing import Any

import pytest
from field_reports import intake
from field_reports import services_admin as admin
from field_reports.intake import Limits, Submission
from field_reports.tables import Service, ServiceField, ServiceGroup
from litestar.testing import TestClient

from ioc_core.auth.errors import FormError
from ioc_core.auth.users import create_user
from ioc_core.db.tables import AuditEvent
from ioc_core.i18n import language
from ioc_core.incidents.tables import Category
from ioc_core.runtime import Runtime
from ioc_core.sla.tables import RoutingRule, SlaTarget
from ioc_core.web.app import create_app
from tests.helpers import STAFF_PASSWORD, in_app, run, sign_in
from tests.plugins.field_reports.conftest import PHAN_THIET, Services

LIMITS = Limits(bounds=(107.95, 10.8, 108.35, 11.15), per_client=100, window_s=600)
SIGNALS = {
    "code": "den-tin-hieu",
    "name_vi": "Đèn tín hiệu giao thông",
    "name_en": "Traffic lights",
    "group": "ha-tang",
    "department": "qldt",
    "sla_hours": "7,5",
    "sla_warn_hours": "2",
    "duplicate_radius_m": "80",
    "duplicate_window_h": "24",
    "active": True,
    "public": True,
}
COLOUR = {
    "code": "mau-den",
    "datatype": "singlevaluelist",
    "required": True,
    "position": "1",
    "label_vi": "Đèn nào hỏng",
    "label_en": "Which light is out",
    "options": "do | Đèn đỏ | Red\nvang | Đèn vàng | Amber\n\nxanh | Đèn xanh",
}


def audit_actions() -> list[str]:
    """What the catalog's changes audited (enabling the plugin is audited too)."""
    rows = run(AuditEvent.select(AuditEvent.action).order_by(AuditEvent.id))
    return [r["action"] for r in rows if not r["action"].startswith("plugin.")]


def catalog_counts() -> tuple[int, ...]:
    return tuple(
        run(table.count())
        for table in (Category, Service, ServiceField, ServiceGroup, RoutingRule, SlaTarget)
    )


def test_every_problem_is_reported_at_once_and_nothing_is_stored(services: Services) -> None:
    before, audited = catalog_counts(), audit_actions()
    bad = {
        **SIGNALS,
        "code": "Đèn Tín Hiệu",
        "name_vi": "",
        "group": "khong-co",
        "department": "khong-co",
        "duplicate_radius_m": "0",
        "sla_hours": "8",
        "sla_warn_hours": "9",
        "public": "maybe",
    }
    with pytest.raises(FormError) as refused:
        run(admin.save_service(bad, "user:admin"))
    assert set(refused.value.errors) == {
        "code",
        "name_vi",
        "group",
        "department",
        "duplicate_radius_m",
        "sla_warn_hours",
        "public",
    }
    with pytest.raises(FormError) as taken:
        run(admin.save_service({**SIGNALS, "code": "chieu-sang"}, "user:admin"))
    assert set(taken.value.errors) == {"code"}
    bad_field = {**COLOUR, "code": "kieu den", "datatype": "photo", "label_vi": ""}
    with pytest.raises(FormError) as field_refused:
        run(admin.save_field(services.lights, bad_field, "user:admin"))
    assert set(field_refused.value.errors) == {"code", "datatype", "label_vi"}
    for options, problem in (
        ("", "at least one option"),
        ("do | Đỏ\ndo | Đỏ nữa", "Line 2"),
        ("Đỏ | Đỏ", "Line 1"),
        ("do | Đỏ | Red | thừa", "Line 1"),
    ):
        with language("en"), pytest.raises(FormError) as listed:
            run(admin.save_field(services.lights, {**COLOUR, "options": options}, "user:admin"))
        assert problem in listed.value.errors["options"]
    with pytest.raises(FormError) as twice:
        run(admin.save_field(services.lights, {**COLOUR, "code": "so-den"}, "user:admin"))
    assert set(twice.value.errors) == {"code"}
    with pytest.raises(FormError) as not_a_list:
        run(admin.save_field(services.lights, {**COLOUR, "datatype": "string"}, "user:admin"))
    assert set(not_a_list.value.errors) == {"options"}
    assert catalog_counts() == before and audit_actions() == audited


def test_a_new_service_is_routed_timed_audited_and_offered_at_once(services: Services) -> None:
    service = run(admin.save_service(SIGNALS, "user:admin"))
    run(admin.save_field(service.id, COLOUR, "user:admin"))
    offered = run(intake.public_service("den-tin-hieu"))
    assert offered is not None and offered["duplicate_radius_m"] == 80
    fields = run(intake.fields_of(offered["id"]))
    assert [o["key"] for o in fields[0]["options"]] == ["do", "vang", "xanh"]
    assert fields[0]["options"][2] == {"key": "xanh", "name_vi": "Đèn xanh", "name_en": ""}
    submission = Submission(
        service_code="den-tin-hieu",
        lon=PHAN_THIET[0],
        lat=PHAN_THIET[1],
        attributes={"mau-den": ["vang"]},
    )
    incident, report = run(intake.submit(submission, LIMITS))
    assert incident.department == services.works and report.attributes == {"mau-den": "vang"}
    with pytest.raises(FormError) as missing:
        run(intake.submit(Submission(**{**submission.__dict__, "attributes": {}}), LIMITS))
    assert set(missing.value.errors) == {"attribute[mau-den]"}
    assert audit_actions() == [
        "sla.routing_rule.save",
        "sla.target.save",
        "field_reports.service.save",
        "field_reports.field.save",
    ]
    values = run(admin.service_values(service.id))
    assert values is not None
    assert (values["department"], values["sla_hours"], values["sla_warn_hours"]) == ("qldt", 7.5, 2)

    # Saved unchanged: nothing is written. Without department and SLA: their rows go.
    run(admin.save_service(SIGNALS, "user:admin", service.id))
    assert len(audit_actions()) == 4
    plain = {**SIGNALS, "department": "", "sla_hours": "", "sla_warn_hours": "", "public": False}
    run(admin.save_service(plain, "user:admin", service.id))
    assert audit_actions()[4:] == [
        "sla.routing_rule.delete",
        "sla.target.delete",
        "field_reports.service.save",
    ]
    category = run(Category.select(Category.id).where(Category.code == "den-tin-hieu").first())
    assert not run(RoutingRule.exists().where(RoutingRule.category == category["id"]))
    assert not run(SlaTarget.exists().where(SlaTarget.category == category["id"]))
    assert run(intake.public_service("den-tin-hieu")) is None, "withdrawn at once"


def test_deleting_is_refused_while_something_depends_on_it(services: Services) -> None:
    run(
        intake.submit(
            Submission(service_code="rac-thai", lon=PHAN_THIET[0], lat=PHAN_THIET[1]), LIMITS
        )
    )
    group = run(ServiceGroup.select(ServiceGroup.id).first())
    with language("en"):
        with pytest.raises(FormError, match="withdraw it instead"):
            run(admin.delete_service(services.waste, "user:admin"))
        with pytest.raises(FormError, match="move them first"):
            run(admin.delete_group(group["id"], "user:admin"))
    service = run(admin.save_service({**SIGNALS, "group": ""}, "user:admin"))
    run(admin.save_field(service.id, COLOUR, "user:admin"))
    run(admin.delete_service(service.id, "user:admin"))
    assert run(Category.count().where(Category.code == "den-tin-hieu")) == 0
    assert run(ServiceField.count().where(ServiceField.code == "mau-den")) == 0
    assert audit_actions()[-4:] == [
        "field_reports.field.delete",
        "sla.routing_rule.delete",
        "sla.target.delete",
        "field_reports.service.delete",
    ]


def test_a_category_of_the_same_code_becomes_the_service(services: Services) -> None:
    run(Category.insert(Category(code="cay-xanh", name_vi="Cây xanh")))
    service = run(admin.save_service({**SIGNALS, "code": "cay-xanh"}, "user:admin"))
    category = run(Category.select().where(Category.code == "cay-xanh").first())
    assert service.category == category["id"] and category["name_vi"] == SIGNALS["name_vi"]
    # A free code: renaming is allowed; the category's other incidents keep it.
    run(admin.save_service(SIGNALS, "user:admin", services.lights))
    assert run(intake.public_service("chieu-sang")) is None
    assert run(intake.public_service("den-tin-hieu")) is not None
    run(Category.insert(Category(code="ngap", name_vi="Ngập")))
    with pytest.raises(FormError) as onto:
        run(admin.save_service({**SIGNALS, "code": "ngap"}, "user:admin", services.lights))
    assert set(onto.value.errors) == {"code"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_staff_edit_services_and_fields_in_the_portal(
    reports_runtime: Runtime, services: Services
) -> None:
    run(create_user("quantri", STAFF_PASSWORD, roles=["admin"], actor="t"))
    run(create_user("canbo", STAFF_PASSWORD, roles=["officer"], actor="t"))
    with TestClient(create_app(runtime=reports_runtime)) as client:
        token = sign_in(client, "quantri")
        home = client.get("/field-reports/services")
        assert home.status_code == 200 and "chieu-sang" in home.text
        assert 'href="/field-reports/services"' in home.text, "in the menu"
        form: dict[str, Any] = {
            "_csrf_token": token,
            **{k: v for k, v in SIGNALS.items() if not isinstance(v, bool)},
            "public": "on",
            "active": "on",
        }
        refused = client.post("/field-reports/services/new", data={**form, "sla_warn_hours": "9"})
        assert refused.status_code == 422 and 'id="e-sla_warn_hours"' in refused.text
        assert 'value="Đèn tín hiệu giao thông"' in refused.text, "what was typed stays"
        assert in_app(client, intake.public_service, "den-tin-hieu") is None
        created = client.post("/field-reports/services/new", data=form, follow_redirects=False)
        assert created.status_code == 303
        page_path = created.headers["location"]
        service_page = client.get(page_path)
        assert 'data-testid="service-fields"' in service_page.text
        assert 'value="7.5"' in service_page.text and "checked" in service_page.text
        field = {"_csrf_token": token, **COLOUR, "required": "on"}
        added = client.post(f"{page_path}/fields/new", data=field, follow_redirects=False)
        assert added.status_code == 303 and added.headers["location"] == page_path
        assert "mau-den" in client.get(page_path).text

        offered = in_app(client, intake.public_service, "den-tin-hieu")
        assert offered is not None
        submission = Submission(
            service_code="den-tin-hieu",
            lon=PHAN_THIET[0],
            lat=PHAN_THIET[1],
            attributes={"mau-den": ["do"]},
        )
        incident, _ = in_app(client, intake.submit, submission, LIMITS)
        assert incident.department == services.works

        field_id = in_app(
            client, ServiceField.select(ServiceField.id).where(ServiceField.code == "mau-den").first
        )["id"]
        edit = client.get(f"{page_path}/fields/{field_id}")
        assert "do | Đèn đỏ | Red" in edit.text
        confirm = client.get(f"{page_path}/fields/{field_id}/delete")
        assert "mau-den" in confirm.text
        gone = client.post(
            f"{page_path}/fields/{field_id}/delete",
            data={"_csrf_token": token},
            follow_redirects=False,
        )
        assert gone.status_code == 303
        assert client.get(f"{page_path}/fields/{field_id}").status_code == 404
        assert client.get("/field-reports/services/999999").status_code == 404
        assert client.get("/field-reports/services/999999/fields/new").status_code == 404
        refused_delete = client.post(f"{page_path}/delete", data={"_csrf_token": token})
        assert refused_delete.status_code == 409
        assert in_app(client, intake.public_service, "den-tin-hieu") is not None

        group = {"_csrf_token": token, "code": "moi-truong", "name_vi": "Môi trường"}
        assert client.post("/field-reports/services/groups/new", data=group).status_code == 200
        assert "moi-truong" in client.get("/field-reports/services").text

    with TestClient(create_app(runtime=reports_runtime)) as client:
        token = sign_in(client, "canbo")
        assert client.get("/field-reports/services").status_code == 403
        denied = client.post("/field-reports/services/new", data={"_csrf_token": token, **COLOUR})
        assert denied.status_code == 403
