"""The Content-Security-Policy as Chromium applies it: what a page may not do, it cannot.

(Every other browser test checks the other side: the portal's own pages break no rule.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.browser.conftest import LiveServer, require_playwright

require_playwright()

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# What an injected string would try once it reached a page unescaped.
INJECT_SCRIPT = """() => {
  const script = document.createElement('script');
  script.textContent = 'window.injected = true';
  document.body.appendChild(script);
  const style = document.createElement('style');
  style.textContent = 'body { display: none }';
  document.head.appendChild(style);
  const image = document.createElement('img');
  image.src = 'http://192.0.2.1/beacon.png';
  document.body.appendChild(image);
}"""


def test_injected_script_style_and_beacon_are_refused(
    browser: Browser, live_server: LiveServer
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        answered: list[str] = []
        page.on("response", lambda response: answered.append(response.url))
        page.goto(live_server.base + "/login")
        page.evaluate(INJECT_SCRIPT)
        page.wait_for_timeout(300)
        assert page.evaluate("window.injected === undefined"), "inline script ran"
        assert page.evaluate("getComputedStyle(document.body).display") != "none"
        assert not [url for url in answered if "192.0.2.1" in url], "the beacon was fetched"
        refusals = [text for text in console if "Content Security Policy" in text]
        assert any("script" in text for text in refusals), console
        assert any("style" in text for text in refusals), console
        assert any("img-src" in text for text in refusals), console
    finally:
        context.close()


def test_no_other_site_can_frame_the_portal(browser: Browser, live_server: LiveServer) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        # Another origin (the page's own about:blank) framing the sign-in page: a clickjacking try.
        page.set_content(f'<iframe id="frame" src="{live_server.base}/login"></iframe>')
        page.wait_for_timeout(1000)
        frame = page.frame_locator("#frame")
        assert frame.locator("#f-username").count() == 0, "the login form was framed"
    finally:
        context.close()
