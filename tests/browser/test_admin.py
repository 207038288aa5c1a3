"""An administrator made with `ioc users create` runs the platform from /admin/, in Vietnamese."""

from __future__ import annotations

import re

import httpx

from tests.browser.conftest import LiveServer, require_playwright, sign_in
from tests.processes import ioc

require_playwright()
from playwright.sync_api import Page, expect  # noqa: E402


def menu_link(page: Page, name: str) -> object:
    return page.locator("nav.menu").get_by_role("link", name=name, exact=True)


def flash(page: Page) -> object:
    return page.locator(".flash-success")


def test_modules_and_phases(page: Page, live_server: LiveServer) -> None:
    base = live_server.base
    defined = ioc(
        "phase", "define", "pilot", "sample_reports", "--title", "Giai đoạn 1", env=live_server.env
    )
    assert defined.returncode == 0, defined.stderr
    sign_in(page, base, live_server.admin.username, live_server.admin.password)
    expect(menu_link(page, "Phản ánh mẫu")).to_have_count(0)

    menu_link(page, "Mô-đun").click()
    expect(page.locator("h1")).to_have_text("Mô-đun")
    addon = page.locator('tr[data-plugin="sample_addon"]')
    expect(addon).to_contain_text("đang tắt")
    broken = page.get_by_role("listitem").filter(has_text="sample_future")
    expect(broken).to_contain_text("needs core >=99")

    # A phase, applied in one action after a confirmation that lists what it enables.
    page.get_by_role("row", name=re.compile("Giai đoạn 1")).get_by_role(
        "link", name="Áp dụng"
    ).click()
    expect(page.get_by_test_id("plan")).to_have_text("sample_reports")
    page.get_by_test_id("confirm").click()
    expect(flash(page)).to_contain_text("Đã áp dụng giai đoạn pilot; đã bật: sample_reports.")
    expect(menu_link(page, "Phản ánh mẫu")).to_be_visible()

    # Enabling the add-on: its requirement is on already, so the plan holds it alone.
    addon.get_by_role("link", name="Bật").click()
    expect(page.locator("h1")).to_have_text("Bật Tiện ích mẫu?")
    expect(page.get_by_test_id("plan")).to_have_text("sample_addon")
    page.get_by_test_id("confirm").click()
    expect(flash(page)).to_have_text("Đã bật: sample_addon.")
    expect(addon).to_contain_text("đang bật")
    assert httpx.get(base + "/sample-addon/ping").json() == {"addon": "pong"}

    # Disabling what another enabled module needs is refused, and says which.
    page.locator('tr[data-plugin="sample_reports"]').get_by_role("link", name="Tắt").click()
    expect(page.locator(".flash-error")).to_contain_text("sample_addon")
    expect(page.get_by_test_id("confirm")).to_have_count(0)
    page.get_by_role("link", name="Hủy").click()
    addon.get_by_role("link", name="Tắt").click()
    page.get_by_test_id("confirm").click()
    expect(flash(page)).to_have_text("Đã tắt sample_addon; dữ liệu được giữ nguyên.")
    assert httpx.get(base + "/sample-addon/ping").status_code == 404


def test_departments_users_roles_keys_and_audit(page: Page, live_server: LiveServer) -> None:
    base = live_server.base
    sign_in(page, base, live_server.admin.username, live_server.admin.password)

    # Departments: a city and a ward under it.
    menu_link(page, "Đơn vị").click()
    for code, name, level, parent in (
        ("tp-phan-thiet", "UBND TP Phan Thiết", "city", None),
        ("p-duc-thang", "Phường Đức Thắng", "ward", "UBND TP Phan Thiết"),
    ):
        page.get_by_role("link", name="Thêm đơn vị").click()
        page.get_by_label("Mã").fill(code)
        page.get_by_label("Tên (tiếng Việt)").fill(name)
        page.get_by_label("Cấp").select_option(level)
        if parent:
            page.get_by_label("Trực thuộc").select_option(label=parent)
        page.get_by_role("button", name="Lưu").click()
        expect(flash(page)).to_have_text(f"Đã lưu đơn vị {code}.")
    expect(page.locator(".tree .depth-1")).to_contain_text("Phường Đức Thắng")

    # Users: a short password is refused beside its field, then the officer is created.
    menu_link(page, "Người dùng").click()
    page.get_by_role("link", name="Thêm người dùng").click()
    page.get_by_label("Tên đăng nhập").fill("canbo.lan")
    page.get_by_label("Họ và tên").fill("Nguyễn Thị Lan")
    page.get_by_label("Mật khẩu").fill("ngan")
    page.get_by_label("Cán bộ xử lý").check()
    page.get_by_label("Đơn vị").select_option(label="Phường Đức Thắng")
    page.get_by_role("button", name="Lưu").click()
    expect(page.locator("#e-password")).to_contain_text("Dùng ít nhất 10 ký tự.")
    page.get_by_label("Mật khẩu").fill("Ngập-nước-2026")
    page.get_by_role("button", name="Lưu").click()
    expect(flash(page)).to_have_text("Đã tạo người dùng canbo.lan.")
    page.get_by_label("Tìm kiếm").fill("lan")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("officer")

    # Roles: grant leaders the audit log; a new role appears in the matrix.
    menu_link(page, "Vai trò").click()
    page.get_by_label("leader admin.audit").check()
    page.get_by_role("button", name="Lưu").first.click()
    expect(flash(page)).to_have_text("Đã lưu: leader.")
    expect(page.get_by_label("leader admin.audit")).to_be_checked()
    page.get_by_role("textbox", name="Tên", exact=True).fill("can_bo_phuong")
    page.get_by_label("Tên gọi (tiếng Việt)").fill("Cán bộ phường")
    page.get_by_role("button", name="Tạo").click()
    expect(page.get_by_test_id("matrix")).to_contain_text("can_bo_phuong")

    # API keys: shown once, works at once, revoked at once.
    menu_link(page, "Khóa API").click()
    page.get_by_label("Tên ứng dụng khách").fill("Ứng dụng di động")
    page.get_by_label(re.compile("portal.view")).check()
    page.get_by_role("button", name="Tạo khóa").click()
    key = page.get_by_test_id("new-key").inner_text().strip()
    assert key.startswith("ioc_")
    auth = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    assert httpx.get(base + "/", headers=auth).status_code == 200
    page.get_by_role("link", name="Về danh sách khóa API").click()
    page.get_by_role("button", name="Thu hồi").click()
    expect(flash(page)).to_have_text("Đã thu hồi khóa Ứng dụng di động.")
    assert httpx.get(base + "/", headers=auth).status_code == 401
    expect(page.locator("body")).not_to_contain_text(key[12:])

    # The audit log holds every step, with who did it, and filters by action.
    menu_link(page, "Nhật ký").click()
    for action in (
        "department.save",
        "user.create",
        "role.permissions",
        "role.create",
        "apikey.create",
        "apikey.revoke",
    ):
        expect(page.locator("tbody")).to_contain_text(action)
    expect(page.locator("tbody")).to_contain_text(f"user:{live_server.admin.username}")
    page.get_by_label("Thao tác").select_option("apikey.revoke")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"f_action=apikey.revoke"))
