"""Escalation in a real browser: an officer escalates with a reason, the city's leader approves
it from the queue, and the incident shows the new expected date."""

from __future__ import annotations

import datetime as dt

from tests.browser.conftest import LiveServer, outside_browser_loop, require_playwright, sign_in
from tests.helpers import run

require_playwright()
from playwright.sync_api import Page, expect  # noqa: E402

PASSWORD = "Mat-khau-can-bo-42"


def seed(server: LiveServer) -> tuple[int, str]:
    """City leadership above the urban works department, an officer in each, one incident."""
    from ioc_core.auth.tables import Department
    from ioc_core.auth.users import create_user
    from ioc_core.incidents import service
    from ioc_core.runtime import build_runtime
    from ioc_core.settings import Settings

    with outside_browser_loop():
        runtime = build_runtime(Settings.load(server.env))

        async def build() -> tuple[int, str]:
            city = Department(code="tp", name_vi="UBND thành phố", level="city")
            await city.save()
            works = Department(code="qldt", name_vi="Phòng Quản lý đô thị", parent=city.id)
            await works.save()
            await create_user("canbo", PASSWORD, roles=["officer"], departments=["qldt"], actor="t")
            await create_user("lanhdao", PASSWORD, roles=["leader"], departments=["tp"], actor="t")
            data = service.NewIncident("test", "Cống thoát nước bị sập", lon=108.1, lat=10.93)
            incident = await service.create_incident(data, "citizen")
            await service.assign(incident.id, "test", department_id=works.id)
            return incident.id, incident.code

        made = run(build())
        runtime.broker.close()
    return made


def test_escalate_with_a_reason_and_the_leader_approves_from_the_queue(
    page: Page, live_server: LiveServer
) -> None:
    incident_id, code = seed(live_server)
    base = live_server.base
    sign_in(page, base, "canbo", PASSWORD)
    page.goto(f"{base}/incidents/{incident_id}")
    page.get_by_text("Chuyển lên cấp trên").click()
    form = page.get_by_test_id("escalate-form")
    form.get_by_label("Lý do").select_option(label="Cần kinh phí")
    form.get_by_label("Ghi chú cho cấp trên").fill("Cần 40 triệu đồng để xây lại cống")
    form.get_by_role("button", name="Chuyển cấp trên").click()
    expect(page.get_by_test_id("escalated-to")).to_contain_text("UBND thành phố")
    expect(page.get_by_test_id("escalations")).to_contain_text("Cần kinh phí")
    expect(page.get_by_test_id("timeline").locator("li").first).to_contain_text("escalated")
    page.get_by_role("button", name="Đăng xuất").click()

    sign_in(page, base, "lanhdao", PASSWORD)
    queue_link = page.locator("nav.menu").get_by_role("link", name="Chuyển lên tôi")
    expect(queue_link.get_by_test_id("count-/sla/queues/escalated")).to_have_text("1")
    queue_link.click()
    expect(page.locator("h1")).to_have_text("Chuyển lên tôi")
    page.get_by_role("row").filter(has_text=code).get_by_role("checkbox").check()
    decide = page.locator("#bulk-decide")
    decide.get_by_label("Quyết định").select_option(label="Phê duyệt")
    expected = dt.date.today() + dt.timedelta(days=30)
    decide.get_by_label("Ngày dự kiến mới (khi phê duyệt)").fill(expected.isoformat())
    decide.get_by_label("Chỉ đạo hoặc ghi chú").fill("Đồng ý, triển khai ngay")
    decide.get_by_role("button", name="Quyết định").click()
    expect(page.locator(".flash-success")).to_contain_text("Đã quyết định 1 trong 1 sự vụ.")
    expect(page.get_by_test_id("count-/sla/queues/escalated")).to_have_text("0")

    page.goto(f"{base}/incidents/{incident_id}")
    expect(page.get_by_test_id("escalations")).to_contain_text("Phê duyệt")
    expect(page.locator("dl.facts")).to_contain_text(expected.strftime("%d/%m/%Y"))
    expect(page.locator("dl.facts")).to_contain_text("Đã được cấp có thẩm quyền phê duyệt")
