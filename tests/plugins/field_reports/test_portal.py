"""The citizen portal as a visitor uses it, with no account: report with photos and a pin,
duplicates offered, the rate limit, tracking, rating and reopening, the public map."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from field_reports import intake
from field_reports.intake import Limits, Submission
from field_reports.tables import Report
from litestar.testing import TestClient
from PIL import Image

from ioc_core.incidents import service
from ioc_core.incidents.tables import Attachment, Incident, IncidentEvent, IncidentFollower
from ioc_core.runtime import Runtime
from ioc_core.settings import Settings
from ioc_core.web.app import create_app
from tests.helpers import in_app
from tests.plugins.field_reports.conftest import PHAN_THIET, Services
from tests.plugins.field_reports.test_photos import picture

LIMITS = Limits(bounds=(107.95, 10.8, 108.35, 11.15), per_client=100, window_s=600)
NEAR = (PHAN_THIET[0] + 0.0002, PHAN_THIET[1])  # about 22 m east: a possible duplicate


@pytest.fixture
def settings(environ: dict[str, str]) -> Settings:
    """Small limits, so the tests reach them quickly."""
    return dataclasses.replace(
        Settings.load(environ),
        plugin_settings={
            "field_reports": {
                "rate_limit": 6,
                "max_photos": 2,
                "max_photo_bytes": 300_000,
                "max_reopens": 1,
            }
        },
    )


@pytest.fixture
def client(reports_runtime: Runtime, services: Services) -> Iterator[TestClient[Any]]:
    """An anonymous visitor reading English (the messages are checked in English)."""
    with TestClient(create_app(runtime=reports_runtime)) as visitor:
        visitor.cookies.set("ioc_lang", "en")
        yield visitor


def csrf(client: TestClient[Any], path: str = "/report") -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', client.get(path).text)
    assert found is not None, "an anonymous visitor gets a CSRF token too"
    return found.group(1)


def lights(token: str, **more: str) -> dict[str, str]:
    return {
        "_csrf_token": token,
        "service_code": "chieu-sang",
        "attribute[kieu-den]": "den-duong",
        "attribute[so-den]": "2",
        "lat": str(PHAN_THIET[1]),
        "lon": str(PHAN_THIET[0]),
        "description": "Hai bóng đèn đường không sáng",
        "name": "Nguyễn Thị Lan",
        "email": "lan@example.vn",
        "phone": "0901 234 567",
        **more,
    }


def media(settings: Settings) -> list[Path]:
    return sorted(p for p in (settings.var_dir / "media").rglob("*") if p.is_file())


def ticket(answer: Any) -> tuple[str, str]:
    """The ticket code and the private link's token on the page answering a report."""
    code = re.search(r'data-testid="ticket-code">([^<]+)<', answer.text)
    token = re.search(r"/track/[^?]+\?token=([\w-]+)", answer.text)
    assert code and token, answer.text
    return code.group(1), token.group(1)


def test_the_service_comes_first_then_its_own_fields(client: TestClient[Any]) -> None:
    form = client.get("/report")
    assert form.status_code == 200
    assert 'value="chieu-sang"' in form.text and 'value="rac-thai"' in form.text
    assert 'hx-get="/report/fields"' in form.text and "attribute[kieu-den]" not in form.text
    fields = client.get("/report/fields?service_code=chieu-sang").text
    assert "<html" not in fields, "a fragment for HTMX"
    assert 'name="attribute[kieu-den]"' in fields and "Street lamp" in fields
    assert "Kind of lamp" in fields and 'name="attribute[so-den]"' in fields
    assert client.get("/report/fields?service_code=rac-thai").text.strip() == ""
    assert client.get("/report/fields?service_code=khong-co").text.strip() == ""
    # Without JavaScript the form is sent back to itself (GET) and shows the fields.
    no_script = client.get("/report?service_code=chieu-sang&description=abc").text
    assert 'name="attribute[kieu-den]"' in no_script and ">abc</textarea>" in no_script
    client.cookies.set("ioc_lang", "vi")
    vietnamese = client.get("/report/fields?service_code=chieu-sang").text
    assert "Đèn đường" in vietnamese and "Loại đèn" in vietnamese


def test_a_citizen_reports_with_photos_and_gets_a_ticket_and_a_private_link(
    client: TestClient[Any], settings: Settings, services: Services
) -> None:
    token = csrf(client)
    uploads = [
        ("photos", ("IMG_0001.jpg", picture(gps=True), "image/jpeg")),
        ("photos", ("screenshot.png", picture("PNG"), "application/octet-stream")),
    ]
    answer = client.post("/report", data=lights(token), files=uploads)
    assert answer.status_code == 201, answer.text
    code, private = ticket(answer)
    assert re.fullmatch(r"PT-\d{4}-\d{6}", code)

    incident = in_app(client, Incident.objects().get(Incident.code == code).run)
    report = in_app(client, Report.objects().get(Report.incident == incident.id).run)
    assert report.token == private and report.channel == "portal"
    assert incident.department == services.works and incident.reporter_name == "Nguyễn Thị Lan"
    stored = in_app(client, Attachment.select().where(Attachment.incident == incident.id).run)
    assert [a["content_type"] for a in stored] == ["image/jpeg", "image/png"]
    files = media(settings)
    year = str(dt.datetime.now(dt.UTC).year)
    assert [f.relative_to(settings.var_dir / "media").parts[:2] for f in files] == [
        ("reports", year)
    ] * 2
    for attachment in stored:
        data = (settings.var_dir / "media" / attachment["path"]).read_bytes()
        assert len(data) == attachment["size"]
        assert len(Image.open(io.BytesIO(data)).getexif()) == 0, "no EXIF (GPS) kept"
    followers = in_app(client, IncidentFollower.select(IncidentFollower.email).run)
    assert followers == [{"email": "lan@example.vn"}]

    # The public photo is served as what it is, and never sniffed as something else.
    photo = client.get(f"/report-photos/{stored[0]['id']}")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert photo.headers["x-content-type-options"] == "nosniff"
    assert photo.content == (settings.var_dir / "media" / stored[0]["path"]).read_bytes()


def test_problems_show_beside_their_fields_and_nothing_is_stored(
    client: TestClient[Any], settings: Settings
) -> None:
    token = csrf(client)
    bad = lights(token, **{"attribute[kieu-den]": "", "lat": "10.5", "email": "lan@"})
    answer = client.post(
        "/report", data=bad, files=[("photos", ("anh.jpg", picture(), "image/jpeg"))]
    )
    assert answer.status_code == 422
    assert 'id="e-attribute[kieu-den]"' in answer.text
    assert "Loại đèn is required." in answer.text, "the service's own label"
    assert "This place is outside the city." in answer.text
    assert "Give an e-mail address" in answer.text
    assert 'value="Nguyễn Thị Lan"' in answer.text, "what was typed is kept"
    assert in_app(client, Incident.count().run) == 0
    assert media(settings) == [], "the photo written for it is removed again"

    refused = [
        ("photos", ("den.jpg", b"not an image at all", "image/jpeg")),
        ("photos", ("dong.gif", picture("GIF"), "image/gif")),
    ]
    missing = lights(token, **{"attribute[kieu-den]": ""})
    answer = client.post("/report", data=missing, files=refused)
    assert answer.status_code == 422
    error = re.search(r'data-testid="photos-error">([^<]+)<', answer.text)
    assert error and "den.jpg is not a JPEG, PNG or WebP photo." in error.group(1)
    assert "dong.gif" in error.group(1)
    assert "Loại đèn is required." in answer.text, "the report's own problems show at once"
    too_big = [("photos", ("lon.jpg", picture(size=(2000, 1500)) + b"\0" * 300_000, "image/jpeg"))]
    answer = client.post("/report", data=lights(token), files=too_big)
    assert answer.status_code == 422 and "lon.jpg is larger than 0.3 MB." in answer.text
    three = [("photos", (f"{n}.jpg", picture(), "image/jpeg")) for n in range(3)]
    answer = client.post("/report", data=lights(token), files=three)
    assert answer.status_code == 422 and "At most 2 photos." in answer.text
    assert in_app(client, Incident.count().run) == 0 and media(settings) == []


def test_the_photos_gps_is_offered_when_no_place_was_given(client: TestClient[Any]) -> None:
    token = csrf(client)
    answer = client.post(
        "/report",
        data=lights(token, lat="", lon=""),
        files=[("photos", ("IMG.jpg", picture(gps=True), "image/jpeg"))],
    )
    assert answer.status_code == 422 and "check the pin" in answer.text
    assert 'value="10.928889"' in answer.text and 'value="108.101667"' in answer.text
    assert in_app(client, Incident.count().run) == 0


def test_reports_are_rate_limited_per_address(client: TestClient[Any]) -> None:
    token = csrf(client)
    for _ in range(6):  # refused or not, every attempt counts
        assert client.post("/report", data=lights(token, lat="1")).status_code == 422
    limited = client.post("/report", data=lights(token))
    assert limited.status_code == 429
    assert "Please try again in" in limited.text
    assert 0 < int(limited.headers["retry-after"]) <= 600
    assert in_app(client, Incident.count().run) == 0


def test_nearby_open_reports_are_offered_to_follow_instead(client: TestClient[Any]) -> None:
    lamp = {"kieu-den": ["den-duong"]}
    original = Submission("chieu-sang", *PHAN_THIET[::-1], attributes=lamp)
    first, _ = in_app(client, intake.submit, original, LIMITS)
    token = csrf(client)
    near = lights(token, lon=str(NEAR[0]), email="binh@example.vn")
    offered = client.post("/report", data=near)
    assert offered.status_code == 200
    assert 'data-testid="duplicates"' in offered.text and first.code in offered.text
    assert 'name="confirm" value="1"' in offered.text
    assert in_app(client, Incident.count().run) == 1, "nothing filed yet"

    followed = client.post(
        "/report/follow", data={"_csrf_token": token, "follow": first.code, "email": ""}
    )
    assert followed.status_code == 422 and "Give your e-mail address" in followed.text
    follow = {"_csrf_token": token, "follow": first.code, "email": "binh@example.vn"}
    assert client.post("/report/follow", data=follow).status_code == 200
    assert client.post("/report/follow", data=follow).status_code == 200, "twice is once"
    followers = in_app(
        client, IncidentFollower.select(IncidentFollower.email, IncidentFollower.incident).run
    )
    assert followers == [{"email": "binh@example.vn", "incident": first.id}]
    assert in_app(client, Incident.count().run) == 1 and in_app(client, Report.count().run) == 1
    gone = {**follow, "follow": "PT-1999-000001"}
    assert client.post("/report/follow", data=gone).status_code == 404

    anyway = client.post("/report", data={**near, "confirm": "1"})
    assert anyway.status_code == 201
    assert in_app(client, Incident.count().run) == 2


def filed(client: TestClient[Any]) -> tuple[str, str, int]:
    """A report filed through the form: its code, token and incident id."""
    token = csrf(client)
    answer = client.post(
        "/report",
        data=lights(token, description="Trước nhà số 12, bóng đèn hỏng"),
        files=[("photos", ("a.jpg", picture(gps=True), "image/jpeg"))],
    )
    assert answer.status_code == 201, answer.text
    code, private = ticket(answer)
    incident = in_app(client, Incident.select(Incident.id).where(Incident.code == code).first)
    return code, private, incident["id"]


def test_the_tracking_page_shows_only_what_is_public(
    client: TestClient[Any], services: Services
) -> None:
    code, private, incident_id = filed(client)
    staff = "user:canbo-quan"
    in_app(
        client, functools.partial(service.assign, department_id=services.works), incident_id, staff
    )
    in_app(client, service.change_status, incident_id, "in_progress", staff, "NOI-BO status")
    in_app(client, service.comment, incident_id, staff, "NOI-BO comment")
    in_app(
        client,
        functools.partial(service.comment, public=True),
        incident_id,
        staff,
        "Đội điện lực đã nhận việc",
    )
    expected = dt.datetime(2027, 1, 15, 5, tzinfo=dt.UTC)
    note = "Waiting for budget approval"
    in_app(client, service.set_public_note, incident_id, staff, note, expected)

    assert client.get(f"/track?code={code.lower()}", follow_redirects=False).headers[
        "location"
    ] == (f"/track/{code}")
    public = client.get(f"/track/{code.lower()}")
    assert public.status_code == 200
    page = public.text
    assert 'data-testid="status">In progress<' in page
    assert "Đội điện lực đã nhận việc" in page and "Waiting for budget approval" in page
    assert "expected 15/01/2027" in page
    assert "Street lighting" in page and "/report-photos/" in page
    for private_thing in (
        "NOI-BO",
        "canbo-quan",
        "citizen",
        "Nguyễn Thị Lan",
        "lan@example.vn",
        "0901 234 567",
        "Trước nhà số 12",
        'data-testid="rate-form"',
        private,
    ):
        assert private_thing not in page, private_thing
    timeline = re.search(r'data-testid="timeline">(.*?)</ol>', page, re.S)
    assert timeline and timeline.group(1).count("<li>") == 4
    mine = client.get(f"/track/{code}?token={private}").text
    assert "Trước nhà số 12" in mine, "the citizen's own link shows their description"
    assert 'data-testid="rate-form"' not in mine, "not before it is resolved"

    assert client.get("/track/PT-1999-000001").status_code == 404
    photo = in_app(client, Attachment.select(Attachment.id).first)["id"]
    in_app(client, Report.update({Report.hidden: True}).where(Report.id > 0).run)
    assert client.get(f"/track/{code}").status_code == 404, "hidden by moderation"
    assert client.get(f"/report-photos/{photo}").status_code == 404
    in_app(client, Report.update({Report.hidden: False}).where(Report.id > 0).run)
    assert client.get(f"/report-photos/{photo}").status_code == 200
    in_app(client, Attachment.update({Attachment.public: False}).where(Attachment.id > 0).run)
    assert client.get(f"/report-photos/{photo}").status_code == 404, "a redacted photo"
    assert client.get("/report-photos/999").status_code == 404


def resolve(client: TestClient[Any], incident_id: int, services: Services) -> None:
    staff = "user:canbo"
    status = in_app(
        client, Incident.select(Incident.status).where(Incident.id == incident_id).first
    )
    if status["status"] in ("new", "reopened"):
        in_app(
            client,
            functools.partial(service.assign, department_id=services.works),
            incident_id,
            staff,
        )
    in_app(client, service.change_status, incident_id, "resolved", staff, "Đã thay bóng")


def test_rating_and_reopening_need_the_private_link_and_a_resolved_report(
    client: TestClient[Any], services: Services
) -> None:
    code, private, incident_id = filed(client)
    token = csrf(client, f"/track/{code}")
    rate = {"_csrf_token": token, "token": private, "rating": "4", "comment": "Nhanh, cảm ơn"}
    early = client.post(f"/track/{code}/rate", data=rate)
    assert early.status_code == 422 and "once the report is resolved" in early.text
    reopen = {"_csrf_token": token, "token": private, "reason": "Vẫn tối"}
    assert client.post(f"/track/{code}/reopen", data=reopen).status_code == 422

    resolve(client, incident_id, services)
    stranger = {**rate, "token": "guessed-token"}
    assert client.post(f"/track/{code}/rate", data=stranger).status_code == 404
    assert client.post(f"/track/{code}/rate", data={**rate, "rating": "6"}).status_code == 422
    rated = client.post(f"/track/{code}/rate", data=rate, follow_redirects=False)
    assert rated.status_code == 303 and "done=rated" in rated.headers["location"]
    report = in_app(client, Report.objects().get(Report.incident == incident_id).run)
    assert (report.rating, report.rating_comment) == (4, "Nhanh, cảm ơn")
    again = client.post(f"/track/{code}/rate", data=rate)
    assert again.status_code == 422 and "already rated" in again.text
    page = client.get(f"/track/{code}").text
    assert "Rated 4 of 5 stars" in page and "Nhanh, cảm ơn" not in page

    assert client.post(f"/track/{code}/reopen", data={**reopen, "reason": " "}).status_code == 422
    done = client.post(f"/track/{code}/reopen", data=reopen, follow_redirects=False)
    assert done.status_code == 303
    incident = in_app(client, Incident.objects().get(Incident.id == incident_id).run)
    assert incident.status == "reopened"
    event = in_app(
        client,
        IncidentEvent.select(IncidentEvent.actor, IncidentEvent.note)
        .where(IncidentEvent.incident == incident_id, IncidentEvent.kind == "status")
        .order_by(IncidentEvent.id, ascending=False)
        .first,
    )
    assert event == {"actor": "citizen", "note": "Vẫn tối"}
    assert "Vẫn tối" not in client.get(f"/track/{code}").text, "the citizen's words stay private"

    # Resolved again: they may rate again, but the one reopen allowed is used up.
    resolve(client, incident_id, services)
    mine = client.get(f"/track/{code}?token={private}").text
    assert 'data-testid="rate-form"' in mine and 'data-testid="reopen-limit"' in mine
    limited = client.post(f"/track/{code}/reopen", data=reopen)
    assert limited.status_code == 422 and "reopened 1 times, the most allowed" in limited.text
    report = in_app(client, Report.objects().get(Report.incident == incident_id).run)
    assert report.reopen_count == 1
    status = in_app(
        client, Incident.select(Incident.status).where(Incident.id == incident_id).first
    )
    assert status["status"] == "resolved"


def test_the_public_map_shows_recent_reports_without_personal_data(
    client: TestClient[Any], services: Services
) -> None:
    assert client.get("/reports/map").status_code == 200
    shown, _ = in_app(
        client,
        intake.submit,
        Submission(
            "chieu-sang",
            lat=10.928912,
            lon=108.101734,
            description="Nhà bà Lan số 12",
            email="lan@example.vn",
            first_name="Lan",
            attributes={"kieu-den": ["den-duong"]},
        ),
        LIMITS,
    )
    old, _ = in_app(client, intake.submit, Submission("rac-thai", 10.93, 108.1), LIMITS)
    rejected, _ = in_app(client, intake.submit, Submission("rac-thai", 10.931, 108.1), LIMITS)
    hidden, _ = in_app(client, intake.submit, Submission("rac-thai", 10.932, 108.1), LIMITS)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=120)
    in_app(
        client, Incident.update({Incident.created_at: long_ago}).where(Incident.id == old.id).run
    )
    in_app(client, service.change_status, rejected.id, "rejected", "user:x")
    in_app(client, Report.update({Report.hidden: True}).where(Report.incident == hidden.id).run)

    answer = client.get("/reports/map.geojson?bbox=108.0,10.85,108.2,11.0")
    assert answer.status_code == 200
    features = answer.json()["features"]
    assert [f["properties"]["code"] for f in features] == [shown.code]
    feature = features[0]
    assert feature["geometry"]["coordinates"] == [108.1017, 10.9289], "about 11 m"
    assert set(feature["properties"]) == {"code", "service", "status", "status_label", "created"}
    assert feature["properties"]["service"] == "Street lighting"
    for private_thing in ("Lan", "lan@example.vn", "số 12"):
        assert private_thing not in answer.text
    elsewhere = client.get("/reports/map.geojson?bbox=105.0,20.0,106.0,21.0")
    assert elsewhere.json()["features"] == []
    for bad in ("1,2,3", "a,b,c,d", "108.2,10.85,108.0,11.0"):
        refused = client.get(f"/reports/map.geojson?bbox={bad}")
        assert refused.status_code == 400 and "bbox" in refused.json()["detail"]
    assert client.get("/static/field_reports/portal.js").status_code == 200
