"""Open311 GeoReport v2: every endpoint in JSON (checked against the published schemas) and XML,
every error in the spec's format, the defaults of GET requests, and nothing personal answered."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from field_reports.tables import Report, Service, ServiceField
from jsonschema import Draft7Validator
from litestar import Litestar
from litestar.testing import TestClient
from referencing import Registry, Resource

from ioc_core.auth.apikeys import create_api_key, revoke_api_key
from ioc_core.incidents import service as incidents
from ioc_core.incidents.tables import Attachment, Category, Incident, IncidentEvent
from ioc_core.runtime import Runtime
from ioc_core.web.app import create_app
from tests.helpers import in_app, run
from tests.plugins.field_reports.conftest import PHAN_THIET, Services


def _schemas() -> Path:
    """The published GeoReport v2 JSON Schemas (not part of this repository): named by
    IOC_OPEN311_SCHEMAS, or in `shared/open311/` beside the checkout, as on the project's
    machines (a clean clone elsewhere finds them at /work/shared)."""
    repository = Path(__file__).resolve().parents[3]
    candidates = [
        Path(os.environ["IOC_OPEN311_SCHEMAS"]) if os.environ.get("IOC_OPEN311_SCHEMAS") else None,
        repository.parent / "shared" / "open311" / "georeport-v2",
        Path("/work/shared/open311/georeport-v2"),
    ]
    for folder in candidates:
        if folder is not None and (folder / "services.json").is_file():
            return folder
    raise RuntimeError(
        "GeoReport v2 schemas not found: set IOC_OPEN311_SCHEMAS to the folder holding "
        "services.json, requests.json, ..."
    )


SCHEMAS = _schemas()
V2 = "/open311/v2"
SUBMIT = "field_reports.submit"


def _registry() -> Registry:
    resources = [
        (path.name, Resource.opaque(json.loads(path.read_text())))
        for path in SCHEMAS.glob("*.json")
        if path.name != "swagger.json"
    ]
    return Registry().with_resources(resources)


REGISTRY = _registry()


def valid(document: Any, schema: str) -> Any:
    """`document` checked against one of the published GeoReport v2 schemas."""
    validator = Draft7Validator(
        REGISTRY.contents(schema), registry=REGISTRY, format_checker=Draft7Validator.FORMAT_CHECKER
    )
    problems = [e.message for e in validator.iter_errors(document)]
    assert not problems, problems
    return document


def xml(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content.startswith(b"<?xml")
    return ET.fromstring(response.content)


def json_errors(response: httpx.Response, status: int) -> dict[str, int]:
    """The spec's error list: description → code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, list) and body
    assert all(set(e) == {"code", "description"} for e in body)
    return {e["description"]: e["code"] for e in body}


def xml_errors(response: httpx.Response, status: int) -> list[tuple[str, str]]:
    assert response.status_code == status, response.text
    root = xml(response)
    assert root.tag == "errors"
    return [(e.findtext("code") or "", e.findtext("description") or "") for e in root]


@dataclass
class Api:
    client: TestClient[Litestar]
    key: str  # holds field_reports.submit
    key_id: int
    other_key: str  # holds every permission but field_reports.submit

    def db(self, call: Any, *args: Any) -> Any:
        """A database call on the app's loop (PostgreSQL's pool lives there)."""
        return in_app(self.client, call, *args)

    def submit(self, fmt: str = "json", *, key: str | None = None, **fields: Any) -> httpx.Response:
        form: dict[str, Any] = {
            "api_key": self.key if key is None else key,
            "service_code": "chieu-sang",
            "lat": str(PHAN_THIET[1]),
            "long": str(PHAN_THIET[0]),
            "description": "Đèn đường không sáng",
            "attribute[kieu-den]": "den-duong",
        }
        form.update(fields)
        data = {k: v for k, v in form.items() if v is not None}
        return self.client.post(f"{V2}/requests.{fmt}", data=data)


@pytest.fixture
def api(reports_runtime: Runtime, services: Services) -> Iterator[Api]:
    known = set(reports_runtime.registry.permissions)
    row, key = run(create_api_key("mobile app", [SUBMIT], "test", known))
    _, other = run(create_api_key("other", sorted(known - {SUBMIT}), "test", known))
    with TestClient(create_app(runtime=reports_runtime), raise_server_exceptions=True) as client:
        yield Api(client, key, row.id, other)


def filed(api: Api, **fields: Any) -> str:
    response = api.submit(**fields)
    assert response.status_code == 201, response.text
    return str(response.json()[0]["service_request_id"])


# ----------------------------------------------------------------------- discovery, services


def test_discovery_names_the_endpoint_its_formats_and_how_to_get_a_key(api: Api) -> None:
    body = api.client.get(f"{V2}/discovery.json").json()
    assert body["changeset"] and body["contact"] and body["key_service"]
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://127.0.0.1:8000/open311/v2"
    assert endpoint["type"] == "production"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    dt.datetime.fromisoformat(body["changeset"])  # a sortable date-time
    root = xml(api.client.get(f"{V2}/discovery.xml"))
    assert root.tag == "discovery"
    formats = [f.text for f in root.findall("endpoints/endpoint/formats/format")]
    assert set(formats) == {"text/xml", "application/json"}
    assert root.findtext("endpoints/endpoint/url") == endpoint["url"]


def test_services_list_the_public_ones_in_both_formats_and_languages(api: Api) -> None:
    # A withdrawn service and one of an inactive category are not offered.
    api.db(Service.update({Service.public: False}).where(Service.id == api_waste(api)).run)
    body = valid(api.client.get(f"{V2}/services.json").json(), "services.json")
    assert body == [
        {
            "service_code": "chieu-sang",
            "service_name": "Chiếu sáng",
            "description": "Phản ánh Chiếu sáng",
            "metadata": True,
            "type": "realtime",
            "keywords": None,
            "group": "Hạ tầng",
        }
    ]
    english = api.client.get(f"{V2}/services.json", headers={"accept-language": "en-GB,vi;q=0.5"})
    assert english.json()[0]["service_name"] == "Street lighting"
    assert english.json()[0]["group"] == "Infrastructure"
    api.db(Service.update({Service.public: True}).where(Service.id == api_waste(api)).run)
    api.db(Category.update({Category.active: False}).where(Category.code == "chieu-sang").run)
    root = xml(api.client.get(f"{V2}/services.xml"))
    assert root.tag == "services"
    [service] = root.findall("service")
    assert service.findtext("service_code") == "rac-thai"
    assert service.findtext("metadata") == "false"
    assert service.findtext("type") == "realtime"
    assert service.findtext("keywords") == ""  # null: an empty element


def api_waste(api: Api) -> int:
    row = api.db(Service.select(Service.id).where(Service.category.code == "rac-thai").first().run)
    return int(row["id"])


def test_a_service_definition_lists_its_attributes(api: Api) -> None:
    body = valid(api.client.get(f"{V2}/services/chieu-sang.json").json(), "service-definition.json")
    assert body["service_code"] == "chieu-sang"
    lamp, count = body["attributes"]
    assert lamp == {
        "variable": True,
        "code": "kieu-den",
        "datatype": "singlevaluelist",
        "required": True,
        "datatype_description": None,
        "order": 1,
        "description": "Loại đèn",
        "values": [
            {"key": "den-duong", "name": "Đèn đường"},
            {"key": "den-cong-vien", "name": "Đèn công viên"},
        ],
    }
    assert count["datatype"] == "number" and count["order"] == 2 and "values" not in count
    english = api.client.get(f"{V2}/services/chieu-sang.json", headers={"accept-language": "en"})
    assert english.json()["attributes"][0]["values"][1]["name"] == "Park lamp"
    root = xml(api.client.get(f"{V2}/services/chieu-sang.xml"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "chieu-sang"
    first = root.find("attributes/attribute")
    assert first is not None
    assert first.findtext("variable") == "true" and first.findtext("order") == "1"
    keys = [v.findtext("key") for v in first.findall("values/value")]
    assert keys == ["den-duong", "den-cong-vien"]
    empty = valid(api.client.get(f"{V2}/services/rac-thai.json").json(), "service-definition.json")
    assert empty == {"service_code": "rac-thai", "attributes": []}


def test_unknown_services_resources_and_formats_are_404(api: Api) -> None:
    assert "Không có lĩnh vực khong-co." in json_errors(
        api.client.get(f"{V2}/services/khong-co.json"), 404
    )
    english = api.client.get(f"{V2}/services/khong-co.json", headers={"accept-language": "en"})
    assert "No service khong-co." in json_errors(english, 404)
    [(code, text)] = xml_errors(api.client.get(f"{V2}/services/khong-co.xml"), 404)
    assert code == "404" and "khong-co" in text
    json_errors(api.client.get(f"{V2}/nothing.json"), 404)
    xml_errors(api.client.get(f"{V2}/nothing.xml"), 404)
    # No format we serve: the platform's own 404.
    for path in ("services.csv", "services", "services/chieu-sang.html", "requests/x.yaml"):
        response = api.client.get(f"{V2}/{path}")
        assert response.status_code == 404
        assert response.json()["status_code"] == 404
    assert api.client.post(f"{V2}/requests.csv", data={"api_key": api.key}).status_code == 404
    json_errors(api.client.post(f"{V2}/services.json", data={"api_key": api.key}), 404)


# ------------------------------------------------------------------------------------ POST


def test_a_report_posted_with_the_form_key_is_stored_and_answered_with_its_ticket(
    api: Api,
) -> None:
    response = api.submit(
        email="dan@example.vn",
        phone="0901 234 567",
        account_id="acc-7",
        first_name="Lan",
        device_id="dev-1",
        address_string="12 Trần Hưng Đạo",
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    [answer] = response.json()
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    assert answer["account_id"] == "acc-7" and answer["service_notice"] is None
    code = answer["service_request_id"]
    assert isinstance(code, str) and code.startswith("PT-")
    report = api.db(
        Report.objects().where(Report.incident.code == code).output(load_json=True).first().run
    )
    assert report.channel == "open311" and report.api_key == api.key_id
    assert report.attributes == {"kieu-den": "den-duong"} and report.device_id == "dev-1"
    # The token answers with the ticket, in both formats.
    # No published schema for tokens: the spec's two fields.
    token = api.client.get(f"{V2}/tokens/{report.token}.json").json()
    assert token == [{"service_request_id": code, "token": report.token}]
    root = xml(api.client.get(f"{V2}/tokens/{report.token}.xml"))
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == code
    assert root.findtext("request/token") == report.token


def test_the_key_may_come_in_a_header_and_the_answer_in_xml(api: Api) -> None:
    response = api.client.post(
        f"{V2}/requests.xml",
        headers={"authorization": f"Bearer {api.key}"},
        data={
            "service_code": "rac-thai",
            "address_string": "Chợ Phan Thiết",
            "description": "Rác tồn đọng",
        },
    )
    assert response.status_code == 201, response.text
    root = xml(response)
    assert root.tag == "service_requests"
    request = root.find("request")
    assert request is not None
    assert (request.findtext("service_request_id") or "").startswith("PT-")
    assert request.findtext("account_id") == "" and request.findtext("service_notice") == ""


def test_a_missing_unknown_or_unauthorised_key_is_403_in_the_spec_format(api: Api) -> None:
    for key in ("", "ioc_nope_nope", "not-a-key", api.other_key):
        errors = json_errors(api.submit(key=key), 403)
        assert list(errors.values()) == [403]
    [(code, text)] = xml_errors(api.submit("xml", key="ioc_bad_key"), 403)
    assert code == "403" and "api_key" in text
    lacking = json_errors(api.submit(key=api.other_key), 403)
    assert any(SUBMIT in text for text in lacking)
    run_revoked = api.db(revoke_api_key, api.key_id, "test")
    assert run_revoked.revoked_at is not None
    json_errors(api.submit(), 403)
    assert api.db(Report.count().run) == 0


def test_each_problem_is_its_own_400_error_and_nothing_is_stored(api: Api) -> None:
    errors = json_errors(
        api.submit(
            **{
                "attribute[kieu-den]": "den-tu-dong",
                "attribute[so-den]": "ba",
                "attribute[mau]": "do",
                "email": "not-an-address",
            }
        ),
        400,
    )
    fields = {text.split(":")[0] for text in errors}
    assert fields == {"attribute[kieu-den]", "attribute[so-den]", "attribute[mau]", "email"}
    assert set(errors.values()) == {400}
    missing = json_errors(api.submit(**{"attribute[kieu-den]": None}), 400)
    assert [t.split(":")[0] for t in missing] == ["attribute[kieu-den]"]
    nowhere = json_errors(api.submit(lat=None, long=None), 400)
    assert [t.split(":")[0] for t in nowhere] == ["location"]
    outside = json_errors(api.submit(lat="21.0285", long="105.8542"), 400)  # Hà Nội
    assert [t.split(":")[0] for t in outside] == ["location"]
    garbled = json_errors(api.submit(lat="mười", long="108.1"), 400)
    assert [t.split(":")[0] for t in garbled] == ["location"]
    no_service = json_errors(api.submit(service_code=""), 400)
    assert [t.split(":")[0] for t in no_service] == ["service_code"]
    unknown = json_errors(api.submit(service_code="khong-co"), 404)
    assert list(unknown.values()) == [404]
    xml_problems = xml_errors(api.submit("xml", lat=None, long=None, description="x" * 4001), 400)
    assert sorted(t.split(":")[0] for _, t in xml_problems) == ["description", "location"]
    assert api.db(Report.count().run) == 0 and api.db(Incident.count().run) == 0


def test_every_attribute_datatype_is_checked(api: Api) -> None:
    service = api_waste(api)
    kinds = {
        "chuoi": ("string", []),
        "so": ("number", []),
        "luc": ("datetime", []),
        "ghi-chu": ("text", []),
        "muc": ("singlevaluelist", [{"key": "a", "name_vi": "A"}, {"key": "b", "name_vi": "B"}]),
        "nhieu": ("multivaluelist", [{"key": "x", "name_vi": "X"}, {"key": "y", "name_vi": "Y"}]),
    }
    api.db(
        ServiceField.insert(
            *[
                ServiceField(
                    service=service,
                    code=code,
                    datatype=datatype,
                    position=i,
                    label_vi=code,
                    options=options,
                )
                for i, (code, (datatype, options)) in enumerate(kinds.items())
            ]
        ).run
    )
    definition = api.client.get(f"{V2}/services/rac-thai.json").json()
    valid(definition, "service-definition.json")
    assert [a["datatype"] for a in definition["attributes"]] == [k[0] for k in kinds.values()]
    base = {"service_code": "rac-thai", "attribute[kieu-den]": None}
    bad = {
        "chuoi": "s" * 501,
        "so": "nhiều",
        "luc": "hôm qua",
        "ghi-chu": "t" * 4001,
        "muc": "c",
        "nhieu": "z",
    }
    for code, value in bad.items():
        errors = json_errors(api.submit(**base, **{f"attribute[{code}]": value}), 400)
        assert [t.split(":")[0] for t in errors] == [f"attribute[{code}]"], errors
    two = json_errors(
        api.client.post(
            f"{V2}/requests.json",
            data={
                "api_key": api.key,
                "service_code": "rac-thai",
                "address_string": "Chợ",
                "attribute[muc]": ["a", "b"],
            },
        ),
        400,
    )
    assert [t.split(":")[0] for t in two] == ["attribute[muc]"]
    good = api.client.post(
        f"{V2}/requests.json",
        data={
            "api_key": api.key,
            "service_code": "rac-thai",
            "address_string": "Chợ",
            "attribute[chuoi]": "một dòng",
            "attribute[so]": "2,5",
            "attribute[luc]": "2026-11-05T08:30:00+07:00",
            "attribute[ghi-chu]": "dòng 1\ndòng 2",
            "attribute[muc]": "b",
            # The spec's way to send several values of a multivaluelist.
            "attribute[nhieu][]": ["y", "x"],
        },
    )
    assert good.status_code == 201, good.text
    stored = api.db(Report.select(Report.attributes).output(load_json=True).first().run)
    assert stored["attributes"] == {
        "chuoi": "một dòng",
        "so": 2.5,
        "luc": "2026-11-05T08:30:00+07:00",
        "ghi-chu": "dòng 1\ndòng 2",
        "muc": "b",
        "nhieu": ["y", "x"],
    }


def test_an_api_key_is_rate_limited_with_retry_after(api: Api) -> None:
    # Ten attempts in the window (the default), refused ones counted too.
    for _ in range(10):
        assert api.submit(lat=None, long=None).status_code == 400
    limited = api.submit()
    errors = json_errors(limited, 429)
    assert list(errors.values()) == [429]
    assert 0 < int(limited.headers["retry-after"]) <= 600
    [(code, _)] = xml_errors(api.submit("xml"), 429)
    assert code == "429"
    assert api.db(Report.count().run) == 0


# ---------------------------------------------------------------------------- GET requests

PERSONAL = ("dan@example.vn", "0901 234 567", "Lan", "Nguyễn")


def incident_of(api: Api, code: str) -> Incident:
    return api.db(Incident.objects().where(Incident.code == code).first().run)


def test_a_request_follows_its_incident_and_answers_nothing_personal(api: Api) -> None:
    code = filed(
        api, email="dan@example.vn", phone="0901 234 567", first_name="Lan", last_name="Nguyễn"
    )
    incident = incident_of(api, code)
    [request] = valid(api.client.get(f"{V2}/requests/{code}.json").json(), "requests.json")
    assert request["service_request_id"] == code and request["status"] == "open"
    assert request["service_code"] == "chieu-sang" and request["service_name"] == "Chiếu sáng"
    assert request["agency_responsible"] == "Phòng Quản lý đô thị"
    assert request["description"] == "Đèn đường không sáng"
    assert (request["lat"], request["long"]) == (PHAN_THIET[1], PHAN_THIET[0])
    assert request["service_notice"] is None and request["media_url"] is None
    assert request["requested_datetime"].endswith("+07:00")
    assert dt.datetime.fromisoformat(request["requested_datetime"]) == incident.created_at.replace(
        microsecond=0
    )
    # With no expected date set, the SLA's due time.
    assert dt.datetime.fromisoformat(request["expected_datetime"]) == incident.sla_due_at.replace(
        microsecond=0
    )
    expected = dt.datetime(2027, 1, 15, 3, 0, tzinfo=dt.UTC)
    api.db(incidents.set_public_note, incident.id, "staff", "Đang chờ vật tư", expected)
    photo = api.db(
        Attachment.insert(
            Attachment(
                incident=incident.id,
                path="a.jpg",
                content_type="image/jpeg",
                size=1,
                created_at=incident.created_at,
            )
        ).run
    )[0]["id"]
    [request] = api.client.get(f"{V2}/requests/{code}.json").json()
    assert request["service_notice"] == "Đang chờ vật tư"
    assert request["expected_datetime"] == "2027-01-15T10:00:00+07:00"
    assert request["media_url"] == f"http://127.0.0.1:8000/report-photos/{photo}"
    root = xml(api.client.get(f"{V2}/requests/{code}.xml"))
    assert root.tag == "service_requests"
    assert root.findtext("request/service_notice") == "Đang chờ vật tư"
    assert root.findtext("request/expected_datetime") == "2027-01-15T10:00:00+07:00"
    assert root.findtext("request/long") == str(PHAN_THIET[0])
    assert root.findtext("request/address_id") == "" and root.findtext("request/zipcode") == ""
    api.db(incidents.change_status, incident.id, "rejected", "staff", "Không thuộc thẩm quyền")
    closed = incident_of(api, code)
    [request] = api.client.get(f"{V2}/requests/{code}.json").json()
    assert request["status"] == "closed" and request["status_notes"] == "Đang chờ vật tư"
    assert "Không thuộc thẩm quyền" not in json.dumps(request, ensure_ascii=False), "working note"
    assert dt.datetime.fromisoformat(request["updated_datetime"]) == closed.closed_at.replace(
        microsecond=0
    )
    for path in (f"requests/{code}", "requests", "servicerequestupdates"):
        for fmt in ("json", "xml"):
            text = api.client.get(f"{V2}/{path}.{fmt}").text
            assert not any(value in text for value in PERSONAL), (path, fmt)


def test_requests_filter_by_ids_service_status_and_dates(api: Api) -> None:
    lights = filed(api)
    waste = filed(api, service_code="rac-thai", **{"attribute[kieu-den]": None})
    api.db(incidents.change_status, incident_of(api, waste).id, "rejected", "staff", "")

    def codes(**query: str) -> list[str]:
        response = api.client.get(f"{V2}/requests.json", params=query)
        assert response.status_code == 200, response.text
        return [r["service_request_id"] for r in valid(response.json(), "requests.json")]

    assert codes() == [waste, lights]  # newest first
    assert codes(service_code="rac-thai") == [waste]
    assert codes(service_code="rac-thai,chieu-sang") == [waste, lights]
    assert codes(status="open") == [lights]
    assert codes(status="closed") == [waste]
    assert codes(status="open,closed") == [waste, lights]
    assert codes(start_date="2020-01-01T00:00:00Z", end_date="2020-02-01T00:00:00Z") == []
    # Ids override every other filter.
    assert codes(service_request_id=f"{lights},{waste}", start_date="2020-01-01") == [
        waste,
        lights,
    ]
    root = xml(api.client.get(f"{V2}/requests.xml", params={"status": "open"}))
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [lights]
    assert (
        api.client.get(f"{V2}/requests.json", params={"status": "open"}).json()[0]["status"]
        == "open"
    )


def test_bad_filters_are_400_in_the_spec_format(api: Api) -> None:
    for query in (
        {"start_date": "hôm qua"},
        {"end_date": "2026-13-40"},
        {"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
        {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
        {"status": "pending"},
    ):
        errors = json_errors(api.client.get(f"{V2}/requests.json", params=query), 400)
        assert list(errors.values()) == [400], query
    [(code, text)] = xml_errors(
        api.client.get(f"{V2}/requests.xml", params={"start_date": "x"}), 400
    )
    assert code == "400" and text.startswith("start_date")
    json_errors(api.client.get(f"{V2}/servicerequestupdates.json", params={"end_date": "x"}), 400)


async def _bulk_reports(count: int, at: dt.datetime, prefix: str) -> None:
    category = await Category.select(Category.id).where(Category.code == "chieu-sang").first()
    for start in range(0, count, 200):
        rows = [
            Incident(
                code=f"{prefix}-{n:05d}",
                source="field_reports",
                title="Đèn hỏng",
                category=category["id"],
                created_at=at - dt.timedelta(seconds=n),
                updated_at=at,
            )
            for n in range(start, min(count, start + 200))
        ]
        await Incident.insert(*rows)
    ids = await Incident.select(Incident.id).where(Incident.code.like(f"{prefix}-%"))
    for start in range(0, len(ids), 200):
        await Report.insert(
            *[
                Report(incident=r["id"], token=f"{prefix}-{r['id']}", created_at=at)
                for r in ids[start : start + 200]
            ]
        )


def test_the_defaults_are_the_last_90_days_and_at_most_1000(api: Api) -> None:
    now = dt.datetime.now(dt.UTC)
    api.db(_bulk_reports, 1, now - dt.timedelta(days=91), "OLD")
    api.db(_bulk_reports, 1001, now - dt.timedelta(hours=1), "NEW")
    body = api.client.get(f"{V2}/requests.json").json()
    assert len(body) == 1000
    codes = {r["service_request_id"] for r in body}
    assert "OLD-00000" not in codes and "NEW-01000" not in codes  # the oldest of the new
    assert "NEW-00000" in codes
    since = (now - dt.timedelta(days=95)).isoformat()
    until = (now - dt.timedelta(days=30)).isoformat()
    older = api.client.get(f"{V2}/requests.json", params={"start_date": since, "end_date": until})
    assert [r["service_request_id"] for r in older.json()] == ["OLD-00000"]
    # A start date alone covers the 90 days after it.
    after = api.client.get(f"{V2}/requests.json", params={"start_date": since})
    assert [r["service_request_id"] for r in after.json()] == ["OLD-00000"]
    assert len(xml(api.client.get(f"{V2}/requests.xml")).findall("request")) == 1000


def test_hidden_reports_never_appear(api: Api) -> None:
    code = filed(api)
    shown = filed(api)
    token = api.db(Report.select(Report.token).where(Report.incident.code == code).first().run)
    api.db(Report.update({Report.hidden: True}).where(Report.incident.code == code).run)
    listed = [r["service_request_id"] for r in api.client.get(f"{V2}/requests.json").json()]
    assert listed == [shown]
    by_id = api.client.get(f"{V2}/requests.json", params={"service_request_id": code})
    assert by_id.json() == []
    json_errors(api.client.get(f"{V2}/requests/{code}.json"), 404)
    xml_errors(api.client.get(f"{V2}/requests/{code}.xml"), 404)
    json_errors(api.client.get(f"{V2}/tokens/{token['token']}.json"), 404)
    updates = api.client.get(f"{V2}/servicerequestupdates.json").json()
    assert {u["service_request_id"] for u in updates} == {shown}


def test_unknown_requests_and_tokens_are_404(api: Api) -> None:
    [(code, _)] = xml_errors(api.client.get(f"{V2}/requests/PT-2000-000001.xml"), 404)
    assert code == "404"
    assert list(json_errors(api.client.get(f"{V2}/tokens/khong-co.json"), 404).values()) == [404]
    xml_errors(api.client.get(f"{V2}/tokens/khong-co.xml"), 404)


# ------------------------------------------------------------------- servicerequestupdates


def test_updates_are_the_public_timeline_with_the_status_after_each(api: Api) -> None:
    code = filed(api)
    incident = incident_of(api, code)
    api.db(incidents.comment, incident.id, "staff", "ghi chú nội bộ")  # not public
    api.db(incidents.set_public_note, incident.id, "staff", "Đã giao đội điện", None)
    api.db(incidents.change_status, incident.id, "rejected", "staff", "Trùng phản ánh khác")
    body = api.client.get(
        f"{V2}/servicerequestupdates.json", headers={"accept-language": "en"}
    ).json()
    events = api.db(
        IncidentEvent.select(IncidentEvent.id)
        .where(IncidentEvent.incident == incident.id, IncidentEvent.public.eq(True))
        .order_by(IncidentEvent.id, ascending=False)
        .run
    )
    assert [u["update_id"] for u in body] == [str(e["id"]) for e in events]
    assert [u["status"] for u in body] == ["closed", "open", "open"]
    assert [u["description"] for u in body] == [
        "Status: Rejected",
        "Đã giao đội điện",
        "Report received",
    ]
    assert all(u["service_request_id"] == code and u["media_url"] is None for u in body)
    assert all(u["updated_datetime"].endswith("+07:00") for u in body)
    root = xml(api.client.get(f"{V2}/servicerequestupdates.xml"))
    assert root.tag == "service_request_updates"
    updates = root.findall("request_update")
    assert [u.findtext("status") for u in updates] == ["closed", "open", "open"]
    assert updates[0].findtext("service_request_id") == code
    old = api.client.get(
        f"{V2}/servicerequestupdates.json",
        params={"start_date": "2020-01-01T00:00:00Z", "end_date": "2020-01-02T00:00:00Z"},
    )
    assert old.json() == []


# ---------------------------------------------------------------------------------- access


def test_the_routes_answer_as_their_access_declares(reports_runtime: Runtime) -> None:
    from tests.core.test_access_matrix import run_matrix

    found, problems = run_matrix(reports_runtime, plugins={"field_reports"})
    open311 = {(e.method, e.path): e.permission for e in found if e.path.startswith(V2)}
    assert open311 == {
        ("GET", f"{V2}/{{name:str}}"): None,
        ("GET", f"{V2}/services/{{name:str}}"): None,
        ("GET", f"{V2}/requests/{{name:str}}"): None,
        ("GET", f"{V2}/tokens/{{name:str}}"): None,
        ("POST", f"{V2}/{{name:str}}"): SUBMIT,
    }
    mine = [p for p in problems if p.endpoint.path.startswith(V2)]
    assert not mine, "\n".join(map(str, mine))


def test_the_citizens_own_words_are_never_published(api: Api) -> None:
    """A rating comment and a reopen reason were written to the city, not to everyone: neither
    Open311 nor the public tracking page shows them; the city's public comment they both show."""
    from field_reports import citizen

    code = filed(api)
    incident = incident_of(api, code)
    token = api.db(Report.select(Report.token).where(Report.incident == incident.id).first().run)
    api.db(functools.partial(incidents.assign, department_id=None), incident.id, "staff")
    api.db(
        functools.partial(incidents.comment, public=True), incident.id, "staff", "Đã thay bóng đèn"
    )
    api.db(incidents.change_status, incident.id, "resolved", "staff")
    api.db(citizen.rate, code, token["token"], "2", "Ông tổ trưởng làm ẩu, số nhà 12")
    api.db(citizen.reopen, code, token["token"], "Vẫn tối, gọi tôi 0912 345 678", 3)
    private = ("Ông tổ trưởng", "0912 345 678")
    [request] = api.client.get(f"{V2}/requests/{code}.json").json()
    assert request["status"] == "open" and request["status_notes"] is None
    updates = api.client.get(f"{V2}/servicerequestupdates.json").json()
    descriptions = [u["description"] for u in updates]
    assert "Đã thay bóng đèn" in descriptions, "the city's public comment is public"
    public_page = api.client.get(f"/track/{code}").text
    assert "Đã thay bóng đèn" in public_page
    for surface in (json.dumps(updates, ensure_ascii=False), public_page):
        assert not any(words in surface for words in private), surface
