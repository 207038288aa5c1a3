"""The staff shell in a real browser: sign-in, menu by permission, language, CSRF, htmx, phone."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.browser.conftest import LiveServer, require_playwright, sign_in
from tests.processes import ioc

require_playwright()
from playwright.sync_api import Page, expect  # noqa: E402

SCREENSHOTS = Path(os.environ.get("IOC_SCREENSHOT_DIR", "/tmp"))


def home_url(base: str) -> re.Pattern[str]:
    return re.compile(re.escape(base) + r"/$")


def login_url(base: str) -> re.Pattern[str]:
    return re.compile(re.escape(base) + r"/login(\?.*)?$")


def test_sign_in_through_the_form_in_vietnamese(page: Page, live_server: LiveServer) -> None:
    base, admin, viewer = live_server.base, live_server.admin, live_server.viewer
    page.goto(base + "/")
    expect(page).to_have_url(login_url(base))
    expect(page.locator("nav.menu")).to_have_count(0)

    sign_in(page, base, admin.username, "Sai-mat-khau-99")
    expect(page).to_have_url(login_url(base))
    expect(page.get_by_role("alert")).to_have_text("Sai tên đăng nhập hoặc mật khẩu.")

    sign_in(page, base, admin.username, admin.password)
    expect(page).to_have_url(home_url(base))
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("nav.menu").get_by_role("link", name="Trang chủ")).to_be_visible()

    page.context.clear_cookies()
    sign_in(page, base, viewer.username, viewer.password)
    expect(page).to_have_url(home_url(base))
    expect(page.locator("nav.menu").get_by_role("link", name="Trang chủ")).to_be_visible()
    expect(page.get_by_role("link", name=viewer.username)).to_be_visible()


def test_menu_shows_a_plugin_item_only_once_it_is_enabled(
    page: Page, live_server: LiveServer
) -> None:
    base, admin = live_server.base, live_server.admin
    sign_in(page, base, admin.username, admin.password)
    menu = page.locator("nav.menu")
    expect(menu.get_by_role("link", name="Trang chủ")).to_be_visible()
    expect(menu.get_by_role("link", name="Phản ánh mẫu")).to_have_count(0)

    enabled = ioc("plugins", "enable", "sample_reports", env=live_server.env, timeout=60)
    assert enabled.returncode == 0, enabled.stderr
    page.reload()
    expect(menu.get_by_role("link", name="Phản ánh mẫu")).to_have_attribute(
        "href", "/sample-reports"
    )


def test_language_switch_is_kept_across_reloads(page: Page, live_server: LiveServer) -> None:
    base, admin = live_server.base, live_server.admin
    sign_in(page, base, admin.username, admin.password)
    html = page.locator("html")
    sign_out = page.locator("form[action='/logout'] button")
    expect(sign_out).to_have_text("Đăng xuất")

    page.get_by_test_id("language-en").click()
    expect(html).to_have_attribute("lang", "en")
    expect(sign_out).to_have_text("Sign out")
    expect(page.locator("nav.menu")).to_contain_text("Home")
    page.reload()
    expect(html).to_have_attribute("lang", "en")

    page.get_by_test_id("language-vi").click()
    expect(html).to_have_attribute("lang", "vi")
    expect(sign_out).to_have_text("Đăng xuất")
    page.reload()
    expect(html).to_have_attribute("lang", "vi")
    expect(sign_out).to_have_text("Đăng xuất")


def test_post_without_csrf_token_is_refused_and_the_logout_button_works(
    page: Page, live_server: LiveServer
) -> None:
    base, admin = live_server.base, live_server.admin
    sign_in(page, base, admin.username, admin.password)
    # Same cookies as the page (session and CSRF cookie), but no token in the body or headers.
    refused = page.request.post(base + "/logout", max_redirects=0)
    assert refused.status == 403
    page.reload()  # a refused sign-out leaves the session alone
    expect(page).to_have_url(home_url(base))

    page.locator("form[action='/logout'] button").click()
    expect(page).to_have_url(login_url(base))
    page.goto(base + "/")
    expect(page).to_have_url(login_url(base))


def test_htmx_is_served_locally_and_nothing_leaves_loopback(
    page: Page, live_server: LiveServer
) -> None:
    base, admin = live_server.base, live_server.admin
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, base, admin.username, admin.password)
    page.wait_for_function("typeof htmx === 'object'")
    assert page.evaluate("typeof htmx") == "object"
    assert page.evaluate("htmx.version").startswith("2.0")
    page.get_by_test_id("language-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")

    assert base + "/static/vendor/htmx.min.js" in requested
    assert all(url.startswith(base + "/") for url in requested), requested


def _no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_shell_fits_a_phone_and_a_desktop(
    phone_page: Page, page: Page, live_server: LiveServer
) -> None:
    base, admin = live_server.base, live_server.admin
    enabled = ioc("plugins", "enable", "sample_reports", env=live_server.env, timeout=60)
    assert enabled.returncode == 0, enabled.stderr  # one more menu item to fit in

    sign_in(phone_page, base, admin.username, admin.password)
    assert phone_page.viewport_size == {"width": 390, "height": 844}
    toggle = phone_page.locator("label.nav-toggle-label")
    menu_link = phone_page.locator("nav.menu").get_by_role("link", name="Phản ánh mẫu")
    expect(toggle).to_be_visible()
    expect(menu_link).to_be_hidden()
    assert _no_horizontal_scroll(phone_page)
    phone_page.screenshot(path=str(SCREENSHOTS / "ioc-home-phone.png"), full_page=True)
    toggle.tap()
    expect(menu_link).to_be_visible()
    assert _no_horizontal_scroll(phone_page)
    phone_page.screenshot(path=str(SCREENSHOTS / "ioc-home-phone-menu.png"), full_page=True)

    sign_in(page, base, admin.username, admin.password)
    expect(page.locator("label.nav-toggle-label")).to_be_hidden()
    expect(page.locator("nav.menu").get_by_role("link", name="Phản ánh mẫu")).to_be_visible()
    assert _no_horizontal_scroll(page)
    page.screenshot(path=str(SCREENSHOTS / "ioc-home-desktop.png"), full_page=True)
