"""Security headers on every response the app sends, error pages and static files included.

The Content-Security-Policy allows scripts and styles from this origin only: the portal's
scripts are files (htmx, Leaflet, map.js, the plugins' static JS) and no template carries an
inline script, event handler or style attribute, so neither `unsafe-inline` nor `unsafe-eval` is
needed. htmx is told not to insert its indicator `<style>` (`includeIndicatorStyles` in
base.html); ioc.css styles the indicators instead. Images may also come from the map's tile
server (IOC_MAP_TILES) and from `data:` URLs (Leaflet's and the browser's own small images).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from ioc_core.settings import Settings

# A year, as browsers' preload lists expect; sent only when the public address is https, since
# over plain http a browser ignores it and a city testing on http would be locked out later.
HSTS = "max-age=31536000; includeSubDomains"


def tile_source(tiles: str) -> str | None:
    """The CSP source of a tile URL template: its origin, `{s}` subdomains as a wildcard."""
    if not tiles:
        return None
    parts = urlsplit(tiles.replace("{s}", "*"))
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    images = " ".join(filter(None, ["'self'", "data:", tile_source(settings.map_tiles)]))
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(settings: Settings) -> Any:
    """A Litestar `before_send` hook adding the headers to every response start."""
    fixed = {
        "content-security-policy": content_security_policy(settings),
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "same-origin",
        "cross-origin-opener-policy": "same-origin",
        # The citizen portal may ask for the phone's position; nothing asks for more.
        "permissions-policy": "geolocation=(self), camera=(), microphone=(), payment=()",
    }
    if settings.https:
        fixed["strict-transport-security"] = HSTS

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        for name, value in fixed.items():
            headers.setdefault(name, value)
        # What a signed-in user or API client sees is theirs: no shared or browser cache keeps
        # it (the back button after sign-out, a proxy between a ward office and the center).
        if scope.get("auth") and "cache-control" not in headers:
            headers["cache-control"] = "no-store"

    return add_headers
