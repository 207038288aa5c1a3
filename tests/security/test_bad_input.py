"""The bad-input corpus (tests/corpus/, see its README) against the citizen portal's POST /report
and Open311's POST requests.{json,xml}: each entry gets a 4xx whose message, in Vietnamese (the
default language), says what to do, and leaves no row and no photo file behind. Text that is
only unusual (quotes, `<`, SQL) is a citizen's right: it is stored verbatim and shown escaped
everywhere; a field with a format refuses it."""

from __future__ import annotations

import dataclasses
import functools
import html
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from field_reports import intake, photos
from field_reports.intake import Limits, Submission
from field_reports.tables import Report, ServiceField
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image

from ioc_core.auth.apikeys import create_api_key
from ioc_core.auth.errors import FormError
from ioc_core.auth.tables import User
from ioc_core.auth.users import create_user
from ioc_core.incidents import service as incidents
from ioc_core.incidents.tables import (
    Attachment,
    Incident,
    IncidentEvent,
    IncidentFollower,
    OutboxEvent,
)
from ioc_core.plugins import lifecycle
from ioc_core.runtime import build_runtime
from ioc_core.settings import Settings
from ioc_core.web.app import create_app
from tests.helpers import STAFF_PASSWORD, in_app, run, sign_in
from tests.plugins.field_reports.conftest import PHAN_THIET, seed_services

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
MANIFEST: dict[str, Any] = json.loads((CORPUS / "corpus.json").read_text(encoding="utf-8"))
OPEN311 = "/open311/v2/requests"
MAX_PHOTO_BYTES = 300_000
# What a failed submission must not leave behind.
TABLES = (Incident, Report, Attachment, IncidentEvent, IncidentFollower, OutboxEvent)
NOT_A_FORM = "Địa chỉ này chỉ nhận biểu mẫu"
NOT_UTF8 = "Biểu mẫu không phải văn bản UTF-8"
UNREADABLE = "Không đọc được biểu mẫu"
CONTROL = "chứa ký tự điều khiển"
TOO_MANY_FIELDS = "Biểu mẫu có hơn 1000 trường và tệp"


def corpus_settings(environ: dict[str, str]) -> Settings:
    """No rate limit in the way; small photo limits, reached quickly."""
    return dataclasses.replace(
        Settings.load(environ),
        plugin_settings={
            "field_reports": {
                "rate_limit": 100_000,
                "max_photos": 2,
                "max_photo_bytes": MAX_PHOTO_BYTES,
            }
        },
    )


@dataclass
class Site:
    client: TestClient[Litestar]
    settings: Settings
    key: str
    works: int  # the department the test services are routed to

    def db(self, call: Any, *args: Any) -> Any:
        return in_app(self.client, call, *args)

    def csrf(self) -> str:
        found = re.search(r'name="_csrf_token" value="([^"]+)"', self.client.get("/report").text)
        assert found is not None
        return found.group(1)

    def files(self) -> list[Path]:
        return sorted(p for p in (self.settings.var_dir / "media").rglob("*") if p.is_file())

    def stored(self) -> dict[str, Any]:
        """Rows of every table a report writes, and the photo files."""
        counts: dict[str, Any] = {t._meta.tablename: self.db(t.count().run) for t in TABLES}
        return counts | {"files": self.files()}

    def report(self, files: Any = None, **fields: str) -> httpx.Response:
        """The portal's form, valid unless `fields` say otherwise (None drops a field)."""
        form = {
            "_csrf_token": self.csrf(),
            "service_code": "chieu-sang",
            "attribute[kieu-den]": "den-duong",
            "lat": str(PHAN_THIET[1]),
            "lon": str(PHAN_THIET[0]),
            "description": "Đèn đường không sáng",
            "confirm": "1",
        } | fields
        data = {k: v for k, v in form.items() if v is not None}
        return self.client.post("/report", data=data, files=files)

    def open311(self, fmt: str = "json", **fields: str) -> httpx.Response:
        form = {
            "api_key": self.key,
            "service_code": "chieu-sang",
            "attribute[kieu-den]": "den-duong",
            "lat": str(PHAN_THIET[1]),
            "long": str(PHAN_THIET[0]),
            "description": "Đèn đường không sáng",
        } | fields
        return self.client.post(f"{OPEN311}.{fmt}", data=form)

    def raw(self, path: str, body: bytes, content_type: str, **headers: str) -> httpx.Response:
        return self.client.post(
            path, content=body, headers={"content-type": content_type, **headers}
        )


@contextmanager
def platform(settings: Settings) -> Iterator[Site]:
    """field_reports enabled with its two test services, free-text custom fields too, an API
    key and an administrator; visitors read Vietnamese (no language cookie)."""
    runtime = build_runtime(settings, park_delay_ms=200)
    run(lifecycle.migrate_enabled(runtime.registry))
    run(lifecycle.enable(runtime.registry, "field_reports", "test"))
    services = run(seed_services())
    run(
        ServiceField.insert(
            ServiceField(
                service=services.lights,
                code="ghi-chu",
                datatype="string",
                position=3,
                label_vi="Ghi chú",
            ),
            ServiceField(
                service=services.lights,
                code="mo-ta-them",
                datatype="text",
                position=4,
                label_vi="Mô tả thêm",
            ),
            ServiceField(
                service=services.lights,
                code="thoi-diem",
                datatype="datetime",
                position=5,
                label_vi="Thời điểm",
            ),
            ServiceField(
                service=services.lights,
                code="noi-hong",
                datatype="multivaluelist",
                position=6,
                label_vi="Chỗ hỏng",
                options=[{"key": "bong", "name_vi": "Bóng"}, {"key": "day", "name_vi": "Dây"}],
            ),
        )
    )
    known = set(runtime.registry.permissions)
    _, key = run(create_api_key("mobile app", ["field_reports.submit"], "test", known))
    run(create_user("quantri", STAFF_PASSWORD, roles=["admin"], actor="test"))
    # A server error is a status like any other here: the tests say which one they expect.
    app = create_app(runtime=runtime)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Site(client, settings, key, services.works)
    runtime.broker.close()


@pytest.fixture(scope="module")
def site(module_environ: dict[str, str]) -> Iterator[Site]:
    """One platform for the module: every test compares what is stored before and after."""
    with platform(corpus_settings(module_environ)) as shared:
        yield shared


def said(response: httpx.Response) -> str:
    """Every message of an answer as a person reads it: a page's text, JSON's `detail`, or
    Open311's error descriptions (JSON or XML)."""
    kind = response.headers.get("content-type", "")
    if kind.startswith("application/json"):
        body = response.json()
        if isinstance(body, list):
            return " ".join(e["description"] for e in body)
        return str(body["detail"])
    if kind.startswith("text/xml"):
        return " ".join(e.findtext("description") or "" for e in ET.fromstring(response.content))
    return html.unescape(response.text)


def refused(
    site: Site, before: dict[str, Any], response: httpx.Response, status: int, *texts: str
) -> None:
    assert response.status_code == status, (response.status_code, said(response)[:500])
    message = said(response)
    for text in texts:
        assert text in message, (text, message[:2000])
    assert site.stored() == before, "nothing of a refused report is stored"


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


# ------------------------------------------------------------------------------------- photos

PHOTOS = MANIFEST["photos"]


@pytest.mark.parametrize("entry", PHOTOS, ids=[f"{p['file']}-{p['content_type']}" for p in PHOTOS])
def test_each_corpus_photo_is_refused_or_kept_as_pixels_only(
    site: Site, entry: dict[str, Any]
) -> None:
    data = (CORPUS / "photos" / entry["file"]).read_bytes()
    before = site.stored()
    answer = site.report(files=[("photos", (entry["file"], data, entry["content_type"]))])
    if entry["outcome"] == "refused":
        refused(site, before, answer, 422, entry["file"], entry["message"])
        return
    assert answer.status_code == 201, said(answer)[:2000]
    (photo,) = [p for p in site.files() if p not in before["files"]]
    kept = photo.read_bytes()
    if entry["payload"]:
        assert entry["payload"].encode() in data
        assert entry["payload"].encode() not in kept, "nothing but the pixels is kept"
    image = Image.open(io.BytesIO(kept))
    image.load()
    expected = entry.get("stored_as", "image/jpeg")
    assert Image.MIME[str(image.format)] == expected
    row = site.db(Attachment.select().where(Attachment.path.like(f"%{photo.name}")).first().run)
    assert row["content_type"] == expected and row["size"] == len(kept)
    served = site.client.get(f"/report-photos/{row['id']}")
    assert served.status_code == 200 and served.content == kept
    assert served.headers["content-type"] == expected
    assert served.headers["x-content-type-options"] == "nosniff"


def test_an_oversize_photo_and_too_many_photos_are_refused(site: Site) -> None:
    before = site.stored()
    # A valid photo padded past the limit: the size is refused before any decoding.
    big = jpeg() + b"\0" * MAX_PHOTO_BYTES
    answer = site.report(files=[("photos", ("lon.jpg", big, "image/jpeg"))])
    refused(site, before, answer, 422, "lon.jpg lớn hơn 0.3 MB.")
    three = [("photos", (f"anh-{i}.jpg", jpeg(), "image/jpeg")) for i in range(3)]
    refused(site, before, site.report(files=three), 422, "Tối đa 2 ảnh.")


def test_a_failure_after_the_photos_were_written_removes_them(site: Site) -> None:
    """The intake refuses the report once the photos are on disk: they are removed again."""
    checked = photos.check_all([("den.jpg", jpeg())], photos.PhotoLimits(2, MAX_PHOTO_BYTES))
    before = site.stored()
    root = photos.media_root(site.settings)
    limits = Limits.of(site.client.app.state.runtime.registry.plugin_settings("field_reports"))

    async def file_it() -> None:
        with photos.stored(checked, root) as written:
            assert (root / written[0].path).is_file()
            await intake.submit(Submission(service_code="khong-co", photos=written), limits)

    with pytest.raises(FormError):
        site.db(file_it)
    assert site.stored() == before


def test_a_database_failure_inside_the_transaction_leaves_no_rows_and_no_files(
    site: Site,
) -> None:
    """The follower row is written last, after the incident, the report and its photos: with
    its table away the transaction fails there, and all of it is undone."""
    before = site.stored()
    before.pop(IncidentFollower._meta.tablename)
    away = IncidentFollower.raw("ALTER TABLE incident_follower RENAME TO incident_follower_away")
    site.db(away.run)
    try:
        answer = site.report(
            files=[("photos", ("den.jpg", jpeg(), "image/jpeg"))], email="lan@example.vn"
        )
    finally:
        back = IncidentFollower.raw(
            "ALTER TABLE incident_follower_away RENAME TO incident_follower"
        )
        site.db(back.run)
    assert answer.status_code == 500
    kept = [t for t in TABLES if t is not IncidentFollower]
    after = {t._meta.tablename: site.db(t.count().run) for t in kept}
    assert after | {"files": site.files()} == before


# ------------------------------------------------------------------------------ request bodies


def multipart(parts: list[tuple[bytes, bytes]], boundary: bytes = b"corpus") -> bytes:
    """A multipart body from raw (Content-Disposition parameters, content) pairs: bytes, so
    that invalid UTF-8 reaches the server as sent."""
    body = b""
    for disposition, content in parts:
        body += b"--" + boundary + b"\r\nContent-Disposition: form-data; " + disposition
        body += b"\r\n\r\n" + content + b"\r\n"
    return body + b"--" + boundary + b"--\r\n"


def form_parts(fields: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(b'name="' + k.encode() + b'"', v.encode()) for k, v in fields.items()]


def portal_fields(site: Site) -> dict[str, str]:
    return {
        "_csrf_token": site.csrf(),
        "service_code": "chieu-sang",
        "attribute[kieu-den]": "den-duong",
        "lat": str(PHAN_THIET[1]),
        "lon": str(PHAN_THIET[0]),
        "confirm": "1",
    }


def open311_fields(site: Site) -> dict[str, str]:
    return {
        "api_key": site.key,
        "service_code": "chieu-sang",
        "attribute[kieu-den]": "den-duong",
        "lat": str(PHAN_THIET[1]),
        "long": str(PHAN_THIET[0]),
    }


MULTIPART = "multipart/form-data; boundary=corpus"
URLENCODED = "application/x-www-form-urlencoded"
TARGETS = {"portal": ("/report", portal_fields), "open311": (f"{OPEN311}.json", open311_fields)}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("hex_bytes", MANIFEST["invalid_utf8_hex"])
def test_invalid_utf8_in_a_field_a_field_name_or_a_filename_is_refused(
    site: Site, target: str, hex_bytes: str
) -> None:
    path, fields = TARGETS[target]
    bad = bytes.fromhex(hex_bytes)
    before = site.stored()
    base = fields(site)
    encoded = "&".join(f"{k}={v}" for k, v in base.items()).encode()
    escaped = "".join(f"%{b:02X}" for b in bad).encode()
    answer = site.raw(path, encoded + b"&description=" + escaped, URLENCODED)
    refused(site, before, answer, 400, NOT_UTF8)
    answer = site.raw(path, encoded + b"&description=x" + bad, URLENCODED)
    refused(site, before, answer, 400, NOT_UTF8)
    in_value = multipart([*form_parts(base), (b'name="description"', b"x" + bad)])
    refused(site, before, site.raw(path, in_value, MULTIPART), 400, NOT_UTF8)
    in_name = multipart([*form_parts(base), (b'name="x' + bad + b'"', b"x")])
    refused(site, before, site.raw(path, in_name, MULTIPART), 400, UNREADABLE)
    in_filename = multipart(
        [*form_parts(base), (b'name="photos"; filename="a' + bad + b'.jpg"', jpeg())]
    )
    refused(site, before, site.raw(path, in_filename, MULTIPART), 400, UNREADABLE)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("control", MANIFEST["control_characters"], ids=repr)
def test_nul_and_control_characters_are_refused_in_values_names_and_filenames(
    site: Site, target: str, control: str
) -> None:
    path, fields = TARGETS[target]
    before = site.stored()
    base = fields(site)
    answer = site.client.post(path, data=base | {"description": f"Đèn {control} hỏng"})
    refused(site, before, answer, 400, "description", CONTROL)
    answer = site.client.post(path, data=base | {"address": control})
    refused(site, before, answer, 400, "address", CONTROL)
    answer = site.client.post(path, data=base | {f"x{control}": "1"})
    refused(site, before, answer, 400, CONTROL)
    named = multipart(
        [*form_parts(base), (b'name="photos"; filename="a' + control.encode() + b'.jpg"', jpeg())]
    )
    refused(site, before, site.raw(path, named, MULTIPART), 400, "photos", CONTROL)


@pytest.mark.parametrize("target", TARGETS)
def test_broken_multipart_bodies_are_refused(site: Site, target: str) -> None:
    path, fields = TARGETS[target]
    before = site.stored()
    whole = multipart(form_parts(fields(site)))
    cut = whole[: len(whole) // 2]
    refused(site, before, site.raw(path, cut, MULTIPART), 400, UNREADABLE)
    refused(site, before, site.raw(path, whole, "multipart/form-data"), 400, UNREADABLE)
    garbage = b"--corpus\r\nthis is not a header\r\n\r\n\r\n--corpus--\r\n"
    refused(site, before, site.raw(path, garbage, MULTIPART), 400, UNREADABLE)


@pytest.mark.parametrize("target", TARGETS)
def test_a_huge_form_is_refused(site: Site, target: str) -> None:
    path, fields = TARGETS[target]
    before = site.stored()
    many = fields(site) | {f"f{i}": "x" for i in range(1500)}
    refused(site, before, site.client.post(path, data=many), 413, TOO_MANY_FIELDS)
    as_parts = multipart(form_parts(many))
    refused(site, before, site.raw(path, as_parts, MULTIPART), 413, TOO_MANY_FIELDS)


def nested(depth: int) -> bytes:
    return b'{"service_code": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("target", TARGETS)
def test_json_and_deeply_nested_json_sent_to_a_form_endpoint_are_refused(
    site: Site, target: str
) -> None:
    """Neither the portal nor Open311 takes JSON (GeoReport v2 posts forms)."""
    path, _ = TARGETS[target]
    before = site.stored()
    # Past the form check: the portal's CSRF token in its header, Open311's key in its header.
    headers = {"x-csrftoken": site.csrf(), "x-api-key": site.key}
    for body in (b'{"service_code": "chieu-sang"}', nested(100_000)):
        answer = site.raw(path, body, "application/json", **headers)
        refused(site, before, answer, 415, NOT_A_FORM, "application/json")
    answer = site.raw(path, b"<request/>", "text/xml", **headers)
    refused(site, before, answer, 415, NOT_A_FORM, "text/xml")


def test_deeply_nested_json_and_yaml_in_the_catalog_import_are_refused(site: Site) -> None:
    """The one upload that takes JSON (and YAML): staff importing the service catalogue."""
    token = sign_in(site.client, "quantri")
    for name, body in (
        ("catalog.json", b"[" * 100_000 + b"]" * 100_000),
        ("catalog.json", nested(50_000)),
        ("catalog.yaml", b"[" * 100_000 + b"]" * 100_000),
    ):
        answer = site.client.post(
            "/field-reports/services/catalog",
            data={"_csrf_token": token},
            files=[("catalog", (name, body, "application/json"))],
        )
        assert answer.status_code == 422, said(answer)[:2000]
        assert "Tệp lồng nhau quá sâu" in said(answer), said(answer)[:2000]


def test_a_body_over_the_size_limit_gets_a_clear_413(site: Site) -> None:
    before = site.stored()
    # Announced: refused before a byte is read.
    announced = {"content-length": str(64_000_001)}
    answer = site.raw("/report", b"x", MULTIPART, **announced)
    refused(site, before, answer, 413, "lớn hơn 64 MB")
    # Not announced (chunked): refused once 64 MB have arrived.
    chunk = b"x" * 1_000_000

    def chunks() -> Iterator[bytes]:
        yield from (chunk for _ in range(65))

    answer = site.client.post("/report", content=chunks(), headers={"content-type": MULTIPART})
    refused(site, before, answer, 413, "lớn hơn 64 MB", "Hãy gửi ít ảnh")
    answer = site.client.post(
        "/report", content=chunks(), headers={"content-type": MULTIPART, "accept": "text/html"}
    )
    refused(site, before, answer, 413, "Quá lớn", "lớn hơn 64 MB")
    # Open311 keeps the platform's default limit (10 MB).
    answer = site.raw(f"{OPEN311}.json", b"x", URLENCODED, **{"content-length": "10000001"})
    refused(site, before, answer, 413, "lớn hơn 10 MB")


def test_a_form_without_a_valid_csrf_token_is_refused_in_vietnamese(site: Site) -> None:
    before = site.stored()
    answer = site.report(_csrf_token="giả")
    refused(site, before, answer, 403, "Biểu mẫu đã hết hạn")


@pytest.mark.parametrize(
    "path", ["/track/PT%00", "/report?service_code=a%00b", "/report/fields?service_code=%00"]
)
def test_a_nul_in_the_address_is_refused(site: Site, path: str) -> None:
    answer = site.client.get(path)
    assert answer.status_code == 400 and "ký tự NUL" in said(answer)
    answer = site.client.get("/open311/v2/requests.json?service_request_id=a%00b")
    assert answer.status_code == 400 and "ký tự NUL" in said(answer)
    assert answer.json()[0]["code"] == 400


# -------------------------------------------------------------------------------- field values

COORDINATES = MANIFEST["coordinates"]


@pytest.mark.parametrize("point", COORDINATES, ids=[f"{c['lat']},{c['lon']}" for c in COORDINATES])
def test_coordinates_out_of_range_or_outside_the_city_are_refused(
    site: Site, point: dict[str, str]
) -> None:
    before = site.stored()
    answer = site.report(lat=point["lat"], lon=point["lon"])
    refused(site, before, answer, 422, point["message"])
    answer = site.open311(lat=point["lat"], long=point["lon"])
    refused(site, before, answer, 400, point["message"])
    answer = site.open311("xml", lat=point["lat"], long=point["lon"])
    refused(site, before, answer, 400, point["message"])


def test_over_long_fields_are_refused_with_their_limit(site: Site) -> None:
    before = site.stored()
    for field, limit in (
        ("description", 4000),
        ("address", 500),
        ("name", 100),
        ("attribute[ghi-chu]", 500),
        ("attribute[mo-ta-them]", 4000),
    ):
        answer = site.report(**{field: "a" * (limit + 1)})
        refused(site, before, answer, 422, f"Tối đa {limit} ký tự.")
    for field, limit in (
        ("description", 4000),
        ("address_string", 500),
        ("first_name", 100),
        ("last_name", 100),
        ("account_id", 64),
        ("device_id", 128),
    ):
        refused(
            site, before, site.open311(**{field: "a" * (limit + 1)}), 400, f"Tối đa {limit} ký tự."
        )
    answer = site.report(email="a" * 250 + "@example.vn")
    refused(site, before, answer, 422, "Nhập địa chỉ thư điện tử")


INJECTION: list[str] = MANIFEST["injection"]


@pytest.mark.parametrize("payload", INJECTION)
def test_a_field_with_a_format_refuses_injection_strings(site: Site, payload: str) -> None:
    before = site.stored()
    portal = {
        "email": "Nhập địa chỉ thư điện tử dạng ten@example.vn.",
        "phone": "Nhập số điện thoại dạng 0901 234 567.",
        "attribute[so-den]": "Nhập một số.",
        "attribute[kieu-den]": "Chọn trong danh sách.",
        "attribute[thoi-diem]": "Nhập ngày giờ dạng 2027-01-15T08:30.",
        "attribute[noi-hong]": "Chọn trong danh sách.",
        "lat": "Nhập vị trí bằng hai số",
        "service_code": "Không có lĩnh vực",
    }
    for field, message in portal.items():
        refused(site, before, site.report(**{field: payload}), 422, message)
    open311 = {
        "email": "email: Nhập địa chỉ thư điện tử dạng ten@example.vn.",
        "phone": "phone: Nhập số điện thoại dạng 0901 234 567.",
        "media_url": "media_url: Nhập địa chỉ web bắt đầu bằng https://",
        "attribute[so-den]": "Nhập một số.",
        "attribute[kieu-den]": "Chọn trong danh sách.",
        "attribute[noi-hong][]": "Chọn trong danh sách.",
        "attribute[thoi-diem]": "Nhập ngày giờ dạng 2027-01-15T08:30.",
        "long": "lat và long: nhập số đo bằng độ (WGS84).",
    }
    for field, message in open311.items():
        refused(site, before, site.open311(**{field: payload}), 400, message)
    answer = site.open311(service_code=payload)
    refused(site, before, answer, 404, "Không có lĩnh vực")


class Markup(HTMLParser):
    """What a browser would run in a page: script texts and event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def assert_shown_escaped(page: httpx.Response, payload: str, *, shown: bool = True) -> None:
    assert page.status_code == 200, page.status_code
    markup = Markup()
    markup.feed(page.text)
    assert not any("alert(" in s for s in markup.scripts), "no script of the payload runs"
    handlers = [(t, a) for t, a in markup.tags if any(k.startswith("on") for k in a)]
    assert not handlers, handlers
    # The elements the payloads would inject (`<injected/>`, `<img src=x …>`) are not markup.
    assert not [(t, a) for t, a in markup.tags if t == "injected" or a.get("src") == "x"]
    if shown:
        assert payload in html.unescape(page.text), "the text is shown as written"


@pytest.mark.parametrize("payload", INJECTION)
def test_injection_strings_are_stored_verbatim_and_shown_escaped(site: Site, payload: str) -> None:
    """SQL is data (parameterised queries): the tables stay, the text comes back exactly. HTML
    is text: escaped in every page and answer that shows it."""
    users = site.db(User.count().run)
    filed = site.report(
        description=payload,
        address=payload,
        name=payload,
        **{"attribute[ghi-chu]": payload, "attribute[mo-ta-them]": payload},
    )
    assert filed.status_code == 201, said(filed)[:2000]
    code = re.search(r'data-testid="ticket-code">([^<]+)<', filed.text)
    token = re.search(r"/track/[^?]+\?token=([\w-]+)", filed.text)
    assert code and token
    by_api = site.open311(
        description=payload,
        address_string=payload,
        first_name=payload,
        last_name=payload,
        account_id=payload,
        device_id=payload,
        **{"attribute[ghi-chu]": payload},
    )
    assert by_api.status_code in (200, 201), said(by_api)
    api_code = by_api.json()[0]["service_request_id"]

    rows = site.db(
        Incident.select(
            Incident.id,
            Incident.code,
            Incident.description,
            Incident.address,
            Incident.reporter_name,
        )
        .where(Incident.code.is_in([code.group(1), api_code]))
        .order_by(Incident.id)
        .run
    )
    assert [r["code"] for r in rows] == [code.group(1), api_code], "both tables intact"
    portal_row, api_row = rows
    assert portal_row["description"] == portal_row["address"] == payload
    assert portal_row["reporter_name"] == payload
    assert api_row["description"] == api_row["address"] == payload
    assert api_row["reporter_name"] == f"{payload} {payload}"
    filed_now = Report.incident.is_in([r["id"] for r in rows])
    reports = site.db(
        Report.select(Report.attributes, Report.account_id, Report.device_id)
        .where(filed_now)
        .order_by(Report.id)
        .output(load_json=True)
        .run
    )
    assert reports[0]["attributes"] == {
        "kieu-den": "den-duong",
        "ghi-chu": payload,
        "mo-ta-them": payload,
    }
    assert reports[1]["account_id"] == reports[1]["device_id"] == payload
    # The tables the payloads name are all there, with what they held.
    assert site.db(Report.count().where(filed_now).run) == 2
    assert (
        site.db(Attachment.count().where(Attachment.incident.is_in([r["id"] for r in rows])).run)
        == 0
    )
    assert site.db(User.count().run) == users

    # Staff write the same text as a public comment and the note shown to the citizen.
    staff_token = sign_in(site.client, "quantri")
    incident = portal_row["id"]
    for path, form in (
        ("comment", {"comment": payload, "public": "on"}),
        ("public-note", {"public_note": payload}),
    ):
        done = site.client.post(
            f"/incidents/{incident}/{path}",
            data={"_csrf_token": staff_token, **form},
            follow_redirects=False,
        )
        assert done.status_code == 303, said(done)[:2000]
    notes = site.db(
        IncidentEvent.select(IncidentEvent.note)
        .where(IncidentEvent.incident == incident, IncidentEvent.kind == "commented")
        .run
    )
    assert [n["note"] for n in notes] == [payload]
    noted = site.db(
        Incident.select(Incident.public_note).where(Incident.id == incident).first().run
    )
    assert noted["public_note"] == payload

    # Resolved with the same text as the status note; the citizen rates and reopens with it.
    site.db(functools.partial(incidents.assign, department_id=site.works), incident, "user:t")
    done = site.client.post(
        f"/incidents/{incident}/status",
        data={"_csrf_token": staff_token, "status": "resolved", "note": payload},
        follow_redirects=False,
    )
    assert done.status_code == 303, said(done)[:2000]
    site.client.cookies.clear()
    track = f"/track/{code.group(1)}"
    private = {"_csrf_token": site.csrf(), "token": token.group(1)}
    for action, form in (
        ("rate", {"rating": "4", "comment": payload}),
        ("reopen", {"reason": payload}),
    ):
        done = site.client.post(f"{track}/{action}", data=private | form, follow_redirects=False)
        assert done.status_code == 303, said(done)[:2000]
    rated = site.db(
        Report.select(Report.rating_comment).where(Report.incident == incident).first().run
    )
    assert rated["rating_comment"] == payload
    changes = site.db(
        IncidentEvent.select(IncidentEvent.note)
        .where(IncidentEvent.incident == incident, IncidentEvent.kind == "status")
        .order_by(IncidentEvent.id)
        .run
    )
    assert [c["note"] for c in changes][-2:] == [payload, payload], "resolved, then reopened"

    assert_shown_escaped(site.client.get(f"{track}?token={token.group(1)}"), payload)
    assert_shown_escaped(site.client.get(track), payload)
    sign_in(site.client, "quantri")
    assert_shown_escaped(site.client.get(f"/incidents/{incident}"), payload)
    assert_shown_escaped(site.client.get(f"/incidents/{api_row['id']}"), payload)
    assert_shown_escaped(site.client.get("/incidents"), payload, shown=False)

    answered = site.client.get(f"/open311/v2/requests/{code.group(1)}.json").json()[0]
    assert answered["description"] == answered["address"] == payload
    assert answered["service_notice"] == payload
    xml = site.client.get(f"/open311/v2/requests/{code.group(1)}.xml")
    request = ET.fromstring(xml.content).find("request")
    assert request is not None
    assert request.findtext("description") == request.findtext("address") == payload
    assert request.findtext("service_notice") == payload
    assert b"<injected" not in xml.content and b"<script>" not in xml.content
    updates = site.client.get("/open311/v2/servicerequestupdates.xml")
    texts = [e.findtext("description") for e in ET.fromstring(updates.content)]
    assert payload in texts and b"<injected" not in updates.content
