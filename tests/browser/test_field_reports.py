"""The citizen portal in a real browser: a citizen reports with a photo and a pin placed on the
map, staff resolve it in the staff portal, the citizen opens the private link and rates it; on
a phone, the pin follows the browser's location."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.conftest import LiveServer, outside_browser_loop, require_playwright, sign_in
from tests.helpers import run
from tests.plugins.field_reports.test_photos import picture
from tests.processes import ioc

require_playwright()
from playwright.sync_api import Browser, Page, expect  # noqa: E402


@pytest.fixture
def portal(live_server: LiveServer) -> Iterator[LiveServer]:
    """The live server with field_reports enabled (seen without a restart) and two services."""
    from field_reports.tables import Report

    from ioc_core.runtime import build_runtime
    from ioc_core.settings import Settings
    from tests.plugins.field_reports.conftest import seed_services

    enabled = ioc("plugins", "enable", "field_reports", env=live_server.env)
    assert enabled.returncode == 0, enabled.stderr
    with outside_browser_loop():
        runtime = build_runtime(Settings.load(live_server.env))
        run(seed_services())
        assert run(Report.count()) == 0
        runtime.broker.close()
    yield live_server


def incident_id(server: LiveServer, code: str) -> int:
    from ioc_core.incidents.tables import Incident
    from ioc_core.runtime import build_runtime
    from ioc_core.settings import Settings

    with outside_browser_loop():
        runtime = build_runtime(Settings.load(server.env))
        row = run(Incident.select(Incident.id).where(Incident.code == code).first())
        runtime.broker.close()
    assert row is not None
    return int(row["id"])


def test_report_with_a_photo_staff_resolve_the_citizen_rates(
    page: Page, browser: Browser, portal: LiveServer
) -> None:
    base = portal.base
    page.goto(f"{base}/report")
    page.select_option("#f-service_code", "chieu-sang")
    # HTMX brings the service's own fields.
    page.locator("#service-fields select").select_option("den-duong")
    page.set_input_files(
        "#f-photos",
        files=[{"name": "IMG_0042.jpg", "mimeType": "image/jpeg", "buffer": picture(gps=True)}],
    )
    # The photo's GPS is read in the browser and offered; the citizen places the pin instead.
    expect(page.get_by_test_id("photo-place")).to_contain_text("10.928889, 108.101667")
    expect(page.locator("#f-lat")).to_have_value("")
    pin_map = page.get_by_test_id("pin-map")
    pin_map.click(position={"x": 200, "y": 150})
    expect(page.locator(".report-pin")).to_have_count(1)
    latitude = float(page.locator("#f-lat").input_value())
    assert 10.8 < latitude < 11.05
    page.fill("#f-description", "Đèn đường tắt cả tuần nay")
    page.fill("#f-email", "dan@example.vn")
    page.get_by_test_id("send-report").click()

    code = page.get_by_test_id("ticket-code").inner_text()
    assert code.startswith("PT-")
    link = page.get_by_test_id("tracking-link").get_attribute("href")
    assert link and link.startswith(f"/track/{code}?token=")

    # Staff resolve it in the staff portal, in a browser session of their own.
    staff_context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    staff = staff_context.new_page()
    try:
        sign_in(staff, base, portal.admin.username, portal.admin.password)
        staff.goto(f"{base}/incidents/{incident_id(portal, code)}")
        expect(staff.locator("h1")).to_contain_text(code)
        for status in ("assigned", "resolved"):
            staff.locator("#f-status").select_option(status)
            staff.locator("form[action$='/status'] button[type=submit]").click()
            expect(staff.get_by_test_id("status")).to_have_attribute(
                "class", f"badge status-{status}"
            )
    finally:
        staff_context.close()

    page.goto(base + link)
    expect(page.get_by_test_id("status")).to_have_class("badge status-resolved")
    expect(page.locator(".report-photos img")).to_have_count(1)
    rate = page.get_by_test_id("rate-form")
    rate.locator("input[name=rating][value='5']").check()
    rate.locator("textarea[name=comment]").fill("Sửa nhanh, cảm ơn")
    page.get_by_test_id("send-rating").click()
    expect(page.get_by_test_id("done")).to_be_visible()
    expect(page.get_by_test_id("rating")).to_have_text("★★★★★")
    expect(page.get_by_test_id("rate-form")).to_have_count(0)
    expect(page.get_by_test_id("timeline").locator("li").last).to_contain_text("5")

    # The public map shows it, with nothing about who reported it.
    page.goto(f"{base}/reports/map")
    expect(page.get_by_test_id("reports-map")).to_have_attribute("data-loaded", "1")
    page.locator("path.incident").click()
    expect(page.locator(".leaflet-popup-content")).to_contain_text(code)
    expect(page.locator(".leaflet-popup-content")).not_to_contain_text("dan@example.vn")


def test_on_a_phone_the_pin_follows_the_browsers_location(
    phone_page: Page, portal: LiveServer
) -> None:
    phone_page.context.grant_permissions(["geolocation"], origin=portal.base)
    phone_page.context.set_geolocation({"latitude": 10.9401, "longitude": 108.0952})
    phone_page.goto(f"{portal.base}/report")
    phone_page.get_by_test_id("use-location").tap()
    expect(phone_page.locator("#f-lat")).to_have_value("10.940100")
    expect(phone_page.locator("#f-lon")).to_have_value("108.095200")
    expect(phone_page.locator(".report-pin")).to_have_count(1)
    # Typing the numbers moves the pin too: the inputs stay the truth.
    phone_page.fill("#f-lat", "10.95")
    phone_page.locator("#f-lat").dispatch_event("change")
    phone_page.get_by_test_id("pin-map").tap(position={"x": 120, "y": 100})
    assert phone_page.locator("#f-lat").input_value() != "10.95"
