"""The operations map in a real browser: find an incident, open it, assign it, see the timeline."""

from __future__ import annotations

from tests.browser.conftest import LiveServer, outside_browser_loop, require_playwright, sign_in
from tests.helpers import run
from tests.processes import ioc

require_playwright()
from playwright.sync_api import Page, expect  # noqa: E402

WARDS = "tests/geo/fixtures/wards.geojson"


def seed(server: LiveServer) -> str:
    """Wards, a department and one incident in the north ward; the incident's ticket code."""
    from ioc_core.auth.departments import save_department
    from ioc_core.incidents import service
    from ioc_core.runtime import build_runtime
    from ioc_core.settings import Settings

    assert ioc("areas", "import", WARDS, env=server.env).returncode == 0
    with outside_browser_loop():
        runtime = build_runtime(Settings.load(server.env))
        values = {"code": "p-bac", "name_vi": "Phường Bắc", "level": "ward"}
        run(save_department(values, "test"))
        data = service.NewIncident("test", "Cây đổ chắn đường", lon=108.075, lat=10.945)
        incident = run(service.create_incident(data, "citizen"))
        runtime.broker.close()
    return incident.code


def test_find_open_assign_and_timeline(page: Page, live_server: LiveServer) -> None:
    code = seed(live_server)
    sign_in(page, live_server.base, live_server.admin.username, live_server.admin.password)
    page.locator("nav.menu").get_by_role("link", name="Bản đồ", exact=True).click()
    expect(page.locator("h1")).to_have_text("Bản đồ điều hành")
    # Wards are drawn with no tiles at all (nothing leaves the machine).
    expect(page.locator("#map path.leaflet-interactive").first).to_be_visible()
    cluster = page.locator(".cluster").first
    expect(cluster).to_have_text("1")
    cluster.click()  # zooms in two levels, where single incidents show
    marker = page.locator("path.incident")
    expect(marker).to_have_count(1)
    marker.click()
    page.get_by_role("link", name=f"{code} · Cây đổ chắn đường").click()

    expect(page.locator("h1")).to_contain_text(code)
    timeline = page.get_by_test_id("timeline").locator("li")
    expect(timeline).to_have_count(1)
    page.get_by_label("Đơn vị").select_option(label="Phường Bắc")
    page.get_by_role("button", name="Phân công").click()
    expect(page.get_by_test_id("status")).to_have_text("Đã phân công")
    expect(timeline).to_have_count(2)
    expect(timeline.first).to_contain_text("assigned")
    expect(timeline.first).to_contain_text(f"user:{live_server.admin.username}")
