"""One intake for the portal and Open311: checks, all-or-nothing storage, duplicates, limits."""

from __future__ import annotations

import pytest
from field_reports import intake
from field_reports.intake import Limits, Photo, Submission, TooManyReports
from field_reports.tables import Report

from ioc_core.auth.errors import FormError
from ioc_core.incidents.tables import Attachment, Incident, IncidentFollower
from ioc_core.runtime import Runtime
from tests.helpers import run
from tests.plugins.field_reports.conftest import PHAN_THIET, Services

LIMITS = Limits(bounds=(107.95, 10.8, 108.35, 11.15), per_client=3, window_s=600)


def lights(**more: object) -> Submission:
    values: dict[str, object] = {
        "service_code": "chieu-sang",
        "lon": PHAN_THIET[0],
        "lat": PHAN_THIET[1],
        "description": "Ba bóng đèn đường không sáng trên đường Trần Hưng Đạo",
        "attributes": {"kieu-den": ["den-duong"], "so-den": ["3"]},
    }
    return Submission(**(values | more))  # type: ignore[arg-type]


def test_a_report_is_an_incident_routed_with_its_attributes_photo_and_follower(
    services: Services,
) -> None:
    photo = Photo(path="2026/11/abc.jpg", content_type="image/jpeg", size=1234)
    incident, report = run(
        intake.submit(lights(email="dan@example.vn", first_name="Lan", photos=[photo]), LIMITS)
    )
    assert incident.source == "field_reports" and incident.department == services.works
    assert incident.title.startswith("Chiếu sáng: Ba bóng đèn")
    assert incident.sla_due_at is not None and incident.reporter_contact == "dan@example.vn"
    stored = run(Report.objects().get(Report.incident == incident.id).output(load_json=True))
    assert stored is not None and stored.attributes == {"kieu-den": "den-duong", "so-den": 3.0}
    assert stored.token == report.token and len(report.token) >= 20
    assert run(Attachment.count().where(Attachment.incident == incident.id)) == 1
    followers = run(IncidentFollower.select(IncidentFollower.email))
    assert followers == [{"email": "dan@example.vn"}]


def test_every_problem_is_reported_at_once_and_nothing_is_stored(services: Services) -> None:
    bad = lights(
        lon=105.8,  # Hà Nội: outside the city
        attributes={"kieu-den": ["den-tu-dong"], "so-den": ["ba"], "mau": ["đỏ"]},
        email="not-an-address",
        description="x" * 4001,
    )
    with pytest.raises(FormError) as refused:
        run(intake.submit(bad, LIMITS))
    assert set(refused.value.errors) == {
        "location",
        "attribute[kieu-den]",
        "attribute[so-den]",
        "attribute[mau]",
        "email",
        "description",
    }
    with pytest.raises(FormError) as missing:
        run(intake.submit(lights(attributes={}, lat=None, lon=None), LIMITS))
    assert set(missing.value.errors) == {"attribute[kieu-den]", "location"}
    with pytest.raises(FormError) as unknown:
        run(intake.submit(lights(service_code="khong-co"), LIMITS))
    assert "service_code" in unknown.value.errors
    assert run(Incident.count()) == 0 and run(Report.count()) == 0


def test_nearby_open_reports_of_the_same_service_are_offered(services: Services) -> None:
    first, _ = run(intake.submit(lights(), LIMITS))
    near = run(intake.possible_duplicates("chieu-sang", PHAN_THIET[0] + 0.0002, PHAN_THIET[1]))
    assert [r["code"] for r in near] == [first.code]
    assert run(intake.possible_duplicates("chieu-sang", PHAN_THIET[0] + 0.01, PHAN_THIET[1])) == []
    assert run(intake.possible_duplicates("rac-thai", *PHAN_THIET)) == []


def test_the_public_intake_is_rate_limited_per_client(reports_runtime: Runtime) -> None:
    for _ in range(3):
        run(intake.throttle("ip:203.0.113.9", LIMITS))
    with pytest.raises(TooManyReports) as limited:
        run(intake.throttle("ip:203.0.113.9", LIMITS))
    assert 0 < limited.value.retry_after_s <= 600
    run(intake.throttle("ip:203.0.113.10", LIMITS))  # another client is not affected
