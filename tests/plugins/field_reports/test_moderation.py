"""Moderation: the report's panel, hide and show, redact a photo, correct the text, merge a
duplicate; each a change of the incident in its timeline."""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import Any

import pytest
from field_reports import intake, moderation
from field_reports.intake import Limits, Photo, Submission
from field_reports.tables import Report
from litestar.testing import TestClient
from PIL import Image

from ioc_core.auth.errors import FormError
from ioc_core.auth.principal import Principal
from ioc_core.auth.users import create_user
from ioc_core.incidents import service as incidents
from ioc_core.incidents.tables import Attachment, Incident, IncidentEvent, IncidentFollower
from ioc_core.runtime import Runtime
from ioc_core.web.app import create_app
from tests.helpers import STAFF_PASSWORD, in_app, run, sign_in
from tests.plugins.field_reports.conftest import PHAN_THIET, Services

LIMITS = Limits(bounds=(107.95, 10.8, 108.35, 11.15), per_client=100, window_s=600)
MODERATOR = Principal(kind="user", id=1, name="dieuphoi", all_permissions=True)


def photo(media: Path, name: str) -> Photo:
    """A detailed photo (every pixel differs from its neighbours) under the media folder."""
    image = Image.new("RGB", (320, 240))
    image.putdata(
        [((x * 7) % 256, (y * 5) % 256, (x * y) % 256) for y in range(240) for x in range(320)]
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    path = media / "reports" / "2026" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
    return Photo(f"reports/2026/{name}", "image/jpeg", len(out.getvalue()))


def report(media: Path | None = None, **more: Any) -> Incident:
    values: dict[str, Any] = {
        "service_code": "rac-thai",
        "lon": PHAN_THIET[0],
        "lat": PHAN_THIET[1],
        "description": "Rác đổ trước số 12, gọi 0901 234 567",
        "email": "lan@example.vn",
        "phone": "0901 234 567",
        "first_name": "Lan",
    }
    if media is not None:
        values["photos"] = [photo(media, f"{secrets.token_hex(8)}.jpg")]
    incident, _ = run(intake.submit(Submission(**(values | more)), LIMITS))
    return incident


def events(incident_id: int, kind: str) -> list[dict[str, Any]]:
    return run(
        IncidentEvent.select()
        .where(IncidentEvent.incident == incident_id, IncidentEvent.kind == kind)
        .order_by(IncidentEvent.id)
        .output(load_json=True)
    )


def media_of(runtime: Runtime) -> Path:
    return runtime.settings.var_dir / "media"


def test_hide_redact_and_correct_are_changes_in_the_timeline(
    reports_runtime: Runtime, services: Services
) -> None:
    media = media_of(reports_runtime)
    incident = report(media)
    attachment = run(Attachment.objects().get(Attachment.incident == incident.id))
    original = (media / attachment.path).read_bytes()

    run(moderation.set_hidden(incident.id, "user:dieuphoi", True, "Ảnh có biển số xe"))
    assert run(Report.select(Report.hidden).first())["hidden"] is True
    [hidden] = events(incident.id, "report_hidden")
    assert (hidden["before"], hidden["after"], hidden["actor"]) == (
        {"hidden": False},
        {"hidden": True},
        "user:dieuphoi",
    )
    assert hidden["note"] == "Ảnh có biển số xe"
    with pytest.raises(FormError):
        run(moderation.set_hidden(incident.id, "user:dieuphoi", True))
    run(moderation.set_hidden(incident.id, "user:dieuphoi", False))
    assert len(events(incident.id, "report_shown")) == 1

    run(moderation.redact_photo(incident.id, attachment.id, "user:dieuphoi", media))
    stored = run(Attachment.objects().get(Attachment.id == attachment.id))
    assert stored is not None and stored.public is False
    redacted = (media / attachment.path).read_bytes()
    assert redacted != original and stored.size == len(redacted)
    with Image.open(io.BytesIO(redacted)) as image:
        assert image.size == (320, 240)
        # 16 blocks across: neighbouring pixels inside a block are the same colour.
        assert image.getpixel((1, 1)) == image.getpixel((5, 5))
    [event] = events(incident.id, "photo_redacted")
    assert event["after"] == {
        "attachment": attachment.id,
        "public": False,
        "size": len(redacted),
        "file": "pixelated",
    }
    with pytest.raises(FormError):
        run(moderation.redact_photo(incident.id, attachment.id, "user:dieuphoi", media))
    other = report()
    with pytest.raises(FormError):
        run(moderation.redact_photo(other.id, attachment.id, "user:dieuphoi", media))

    run(moderation.edit_text(incident.id, "user:dieuphoi", incident.title, "Rác đổ trước số 12"))
    [edited] = events(incident.id, "edited")
    assert edited["before"] == {"description": "Rác đổ trước số 12, gọi 0901 234 567"}
    assert edited["after"] == {"description": "Rác đổ trước số 12"}
    with pytest.raises(FormError) as unchanged:
        run(
            moderation.edit_text(incident.id, "user:dieuphoi", incident.title, "Rác đổ trước số 12")
        )
    assert set(unchanged.value.errors) == {"moderate_description"}
    with pytest.raises(FormError) as untitled:
        run(moderation.edit_text(incident.id, "user:dieuphoi", "", "x"))
    assert set(untitled.value.errors) == {"moderate_title"}


def test_a_file_that_is_no_photo_is_deleted_when_redacted(
    reports_runtime: Runtime, services: Services
) -> None:
    media = media_of(reports_runtime)
    incident = report(media)
    attachment = run(Attachment.objects().get(Attachment.incident == incident.id))
    (media / attachment.path).write_bytes(b"not a photo")
    run(moderation.redact_photo(incident.id, attachment.id, "user:dieuphoi", media))
    assert not (media / attachment.path).exists()
    assert events(incident.id, "photo_redacted")[0]["after"]["file"] == "deleted"


def test_merging_moves_followers_once_and_both_timelines_name_the_other(
    services: Services,
) -> None:
    kept = report(email="Minh@Example.vn")
    duplicate = report()  # lan@example.vn follows it
    staff = run(create_user("theodoi", STAFF_PASSWORD, roles=["viewer"], actor="t"))
    staff_id = staff.id
    run(incidents.follow(duplicate.id, staff_id))
    run(incidents.follow(kept.id, staff_id))
    run(
        IncidentFollower.insert(
            IncidentFollower(
                incident=duplicate.id, email="minh@example.vn", created_at=kept.created_at
            )
        )
    )

    run(moderation.merge_duplicate(duplicate.id, MODERATOR, kept.code.lower(), "Cùng một đống rác"))
    closed = run(Incident.objects().get(Incident.id == duplicate.id))
    assert closed is not None and closed.status == "duplicate" and closed.duplicate_of == kept.id
    assert closed.closed_at is not None
    assert run(IncidentFollower.count().where(IncidentFollower.incident == duplicate.id)) == 0
    followers = run(
        IncidentFollower.select(IncidentFollower.user, IncidentFollower.email).where(
            IncidentFollower.incident == kept.id
        )
    )
    assert sorted((f["user"] or 0, f["email"]) for f in followers) == [
        (0, "Minh@Example.vn"),
        (0, "lan@example.vn"),
        (staff_id, ""),
    ]
    [status] = events(duplicate.id, "status")
    assert status["after"] == {
        "status": "duplicate",
        "duplicate_of": kept.id,
        "duplicate_of_code": kept.code,
    }
    assert status["public"] and status["note"] == "Cùng một đống rác"
    [merged] = events(kept.id, "duplicate_merged")
    assert merged["after"] == {
        "duplicate": duplicate.id,
        "duplicate_code": duplicate.code,
        "followers_moved": 1,
    }
    assert len(events(kept.id, "created")) == 1, "each timeline keeps its events"


def test_merging_is_refused_clearly_and_changes_nothing(services: Services) -> None:
    kept, duplicate, third = report(), report(), report()
    run(moderation.merge_duplicate(third.id, MODERATOR, kept.code))
    count = run(IncidentEvent.count())
    for incident_id, code in (
        (duplicate.id, duplicate.code),  # itself
        (duplicate.id, "PT-1999-000001"),  # no such ticket
        (duplicate.id, third.code),  # a duplicate is not kept
    ):
        with pytest.raises(FormError) as refused:
            run(moderation.merge_duplicate(incident_id, MODERATOR, code))
        assert set(refused.value.errors) == {"duplicate_of"}
    run(incidents.change_status(duplicate.id, "assigned", "t"))
    run(incidents.change_status(duplicate.id, "in_progress", "t"))
    with pytest.raises(FormError) as working:
        run(moderation.merge_duplicate(duplicate.id, MODERATOR, kept.code))
    assert set(working.value.errors) == {"duplicate_of"}
    assert run(IncidentEvent.count()) == count + 2
    assert run(Incident.select(Incident.status).where(Incident.id == duplicate.id).first()) == {
        "status": "in_progress"
    }


def test_the_panel_and_its_forms_on_the_incident_page(
    reports_runtime: Runtime, services: Services
) -> None:
    media = media_of(reports_runtime)
    incident, kept = report(media), report()
    attachment = run(Attachment.objects().get(Attachment.incident == incident.id))
    run(
        create_user(
            "dieuphoi", STAFF_PASSWORD, roles=["dispatcher"], departments=["qldt"], actor="t"
        )
    )
    run(create_user("canbo", STAFF_PASSWORD, roles=["officer"], departments=["qldt"], actor="t"))
    page_path = f"/incidents/{incident.id}"
    base = f"/field-reports/incidents/{incident.id}"
    with TestClient(create_app(runtime=reports_runtime)) as client:
        token = sign_in(client, "canbo")
        page = client.get(page_path).text
        assert 'data-testid="report-panel"' in page and 'data-testid="contact"' not in page
        assert 'data-testid="duplicate-form"' not in page
        assert client.get(f"/field-reports/attachments/{attachment.id}").status_code == 200
        for path in ("/visibility", "/text", "/duplicate", f"/photos/{attachment.id}/redact"):
            assert client.post(base + path, data={"_csrf_token": token}).status_code == 403

    with TestClient(create_app(runtime=reports_runtime)) as client:
        token = sign_in(client, "dieuphoi")
        page = client.get(page_path).text
        assert 'data-testid="contact"' in page and "0901 234 567" in page
        assert f"/field-reports/attachments/{attachment.id}" in page
        redacted = client.post(
            f"{base}/photos/{attachment.id}/redact",
            data={"_csrf_token": token},
            follow_redirects=False,
        )
        assert redacted.status_code == 303 and redacted.headers["location"] == page_path
        assert 'data-testid="redacted"' in client.get(page_path).text
        staff_view = client.get(f"/field-reports/attachments/{attachment.id}")
        assert staff_view.status_code == 200 and staff_view.headers["content-type"] == "image/jpeg"
        assert client.get(f"/report-photos/{attachment.id}").status_code == 404, "not public"
        assert client.get("/field-reports/attachments/999999").status_code == 404

        hide = client.post(
            f"{base}/visibility", data={"_csrf_token": token, "hidden": "1"}, follow_redirects=False
        )
        assert hide.status_code == 303
        assert 'data-testid="report-hidden"' in client.get(page_path).text

        refused = client.post(
            f"{base}/duplicate", data={"_csrf_token": token, "duplicate_of": incident.code}
        )
        assert refused.status_code == 422 and 'data-testid="duplicate-form"' in refused.text
        assert 'id="e-duplicate_of"' in refused.text
        merged = client.post(
            f"{base}/duplicate",
            data={"_csrf_token": token, "duplicate_of": kept.code},
            follow_redirects=False,
        )
        assert merged.status_code == 303
        after = in_app(client, Incident.objects().get(Incident.id == incident.id).run)
        assert after.status == "duplicate" and after.duplicate_of == kept.id
        assert incident.code in client.get(f"/incidents/{kept.id}").text
