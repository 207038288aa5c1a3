"""Security headers on every kind of response: pages, JSON, static files, errors."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from ioc_core.auth.users import create_user
from ioc_core.runtime import Runtime
from ioc_core.settings import Settings
from ioc_core.web.app import create_app
from ioc_core.web.security_headers import content_security_policy, tile_source
from tests.helpers import run, sign_in

# One of each: a page, the liveness probe, a static file, an unknown path, an API error.
PATHS = ["/login", "/healthz", "/static/ioc.css", "/no-such-page", "/api/incidents.geojson"]


def directives(policy: str) -> dict[str, list[str]]:
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_headers(runtime: Runtime, path: str) -> None:
    with TestClient(create_app(runtime=runtime)) as client:
        response = client.get(path)
    headers = response.headers
    policy = directives(headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"], "no unsafe-inline, no unsafe-eval"
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in headers, "HSTS only behind https"


def test_hsts_when_the_public_address_is_https(environ: dict[str, str]) -> None:
    settings = Settings.load({**environ, "IOC_PUBLIC_URL": "https://ioc.phanthiet.example.vn"})
    with TestClient(create_app(settings)) as client:
        hsts = client.get("/healthz").headers["strict-transport-security"]
    assert hsts.startswith("max-age=31536000")


def test_signed_in_pages_are_not_cached(runtime: Runtime) -> None:
    run(create_user("quantri", "Mat-khau-quan-tri-42", roles=["admin"], actor="test"))
    with TestClient(create_app(runtime=runtime)) as client:
        assert "cache-control" not in client.get("/login").headers
        sign_in(client, "quantri", "Mat-khau-quan-tri-42")
        assert client.get("/admin/users").headers["cache-control"] == "no-store"


def test_map_tiles_are_the_only_foreign_images(environ: dict[str, str]) -> None:
    tiles = "https://{s}.tile.example.vn/{z}/{x}/{y}.png"
    assert tile_source(tiles) == "https://*.tile.example.vn"
    policy = directives(content_security_policy(Settings.load({**environ, "IOC_MAP_TILES": tiles})))
    assert policy["img-src"] == ["'self'", "data:", "https://*.tile.example.vn"]
    assert directives(content_security_policy(Settings.load(environ)))["img-src"] == [
        "'self'",
        "data:",
    ]
