"""One template serves the full page and, for HTMX, only its content block."""

import re

from litestar.testing import TestClient

from ioc_core.auth.users import create_user
from ioc_core.runtime import Runtime
from ioc_core.web.app import create_app
from tests.helpers import STAFF_PASSWORD, run, sign_in

PASSWORD = STAFF_PASSWORD


def test_full_page_and_fragment_from_one_template(runtime: Runtime) -> None:
    run(create_user("quantri", PASSWORD, roles=["admin"], actor="test"))
    with TestClient(create_app(runtime=runtime)) as client:
        sign_in(client, "quantri")
        full = client.get("/admin/users?q=quan")
        assert full.text.startswith("<!doctype html>")
        assert '<main id="content">' in full.text
        fragment = client.get("/admin/users?q=quan", headers={"HX-Request": "true"})
        assert "<html" not in fragment.text and "<nav" not in fragment.text
        # The block's imported table macro and its cell macros ran: the row is there.
        assert re.findall(r'<a href="/admin/users/\d+">([^<]+)</a>', fragment.text) == ["quantri"]
        assert fragment.text.strip().startswith("<h1>Người dùng</h1>")
        boosted = client.get("/admin/users", headers={"HX-Request": "true", "HX-Boosted": "true"})
        assert boosted.text.startswith("<!doctype html>")


def test_sort_filter_and_paginate(runtime: Runtime) -> None:
    run(create_user("quantri", PASSWORD, roles=["admin"], actor="test"))
    for n in range(30):
        run(create_user(f"canbo{n:02d}", PASSWORD + "x", roles=["officer"], actor="test"))
    with TestClient(create_app(runtime=runtime)) as client:
        sign_in(client, "quantri")

        def names(query: str) -> list[str]:
            text = client.get(f"/admin/users?{query}").text
            return re.findall(r'<a href="/admin/users/\d+">([^<]+)</a>', text)

        first = names("sort=username")
        assert len(first) == 25 and first[0] == "canbo00" and first[-1] == "canbo24"
        assert names("sort=username&page=2") == [*(f"canbo{n}" for n in range(25, 30)), "quantri"]
        assert names("sort=username&dir=desc")[0] == "quantri"
        assert names("q=BO1") == [f"canbo1{n}" for n in range(10)], "search ignores case"
        assert names("sort=password_hash") == first, "only listed columns sort"
        assert names("page=99&sort=username")[-1] == "quantri", "a page past the end is the last"
