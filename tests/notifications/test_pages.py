"""The bell and its page as a signed-in user sees them: own notifications only, in the viewer's
language, marked read one by one or all at once."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import TestClient

from ioc_core.auth.apikeys import create_api_key
from ioc_core.auth.users import create_user
from ioc_core.db.transactions import write_transaction
from ioc_core.notifications import service
from ioc_core.notifications.service import notify
from ioc_core.notifications.tables import Notification
from ioc_core.runtime import Runtime
from ioc_core.web.app import create_app
from tests.helpers import run
from tests.notifications.conftest import HELLO

PASSWORD = "Chuông-báo-2026"


def sign_in(client: TestClient[Any], username: str) -> str:
    token = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    form = {"username": username, "password": PASSWORD, "_csrf_token": token.group(1)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    return token.group(1)


def tell(user_id: int, what: str, link: str = "/incidents/7", kind: str = HELLO) -> int:
    async def write() -> int:
        async with write_transaction():
            await notify(
                kind=kind, params={"name": "Lan", "what": what}, link=link, users=[user_id]
            )
        row = (
            await Notification.select(Notification.id)
            .order_by(Notification.id, ascending=False)
            .first()
        )
        assert row is not None
        return int(row["id"])

    return run(write())


# Inside `with TestClient(...)` the database is reached on the app's event loop, where
# PostgreSQL's connection pool lives: `client.blocking_portal.call(...)`.


def bell(html: str) -> str | None:
    found = re.search(r'data-testid="count-/notifications">(\d+)<', html)
    return found.group(1) if found else None


def test_the_bell_counts_unread_and_the_page_marks_them_read(plain_runtime: Runtime) -> None:
    lan = run(create_user("lan", PASSWORD, roles=["officer"], actor="t")).id
    ann = run(create_user("ann", PASSWORD, roles=["viewer"], actor="t", language="en")).id
    first = tell(lan, "PT-1")
    tell(lan, "PT-2", link="")
    tell(lan, "PT-3", kind="nobody.knows")
    theirs = tell(ann, "PT-9")
    with TestClient(create_app(runtime=plain_runtime)) as client:
        token = sign_in(client, "lan")
        home = client.get("/notifications")
        assert home.status_code == 200
        assert bell(home.text) == "3"
        listed = home.text
        # Newest first, worded in the viewer's language; an unknown kind still shows.
        assert listed.index("Có việc mới: PT-2") < listed.index("Có việc mới: PT-1")
        assert "nobody.knows" in listed
        assert "PT-9" not in listed, "another user's notification"

        opened = client.post(
            f"/notifications/{first}/read",
            data={"_csrf_token": token, "open": "1"},
            follow_redirects=False,
        )
        assert (opened.status_code, opened.headers["location"]) == (303, "/incidents/7")
        assert bell(client.get("/notifications").text) == "2"

        # Another user's notification is not there for this one: 404, and it stays unread.
        other = client.post(f"/notifications/{theirs}/read", data={"_csrf_token": token})
        assert other.status_code == 404
        assert client.blocking_portal.call(service.unread_count, ann) == 1

        done = client.post("/notifications/read-all", data={"_csrf_token": token})
        assert done.status_code == 200 and 'data-testid="unread">0' in done.text
        assert client.blocking_portal.call(service.unread_count, lan) == 0
        assert bell(client.get("/notifications").text) is None, "no count when all are read"

    with TestClient(create_app(runtime=plain_runtime)) as client:
        sign_in(client, "ann")
        page = client.get("/notifications")
        assert "Hello Lan" in page.text and "New work: PT-9" in page.text
        assert bell(page.text) == "1"


def test_the_list_is_paginated(plain_runtime: Runtime) -> None:
    lan = run(create_user("lan", PASSWORD, roles=["officer"], actor="t")).id
    for n in range(service.PAGE_SIZE + 3):
        tell(lan, f"PT-{n:03d}")
    with TestClient(create_app(runtime=plain_runtime)) as client:
        sign_in(client, "lan")
        first = client.get("/notifications").text
        second = client.get("/notifications?page=2").text
        assert first.count("data-notification=") == service.PAGE_SIZE
        assert second.count("data-notification=") == 3
        assert "PT-027" in first and "PT-000" in second
        assert client.get("/notifications?page=x").status_code == 200


def test_an_api_key_has_no_notifications(plain_runtime: Runtime) -> None:
    known = plain_runtime.registry.permissions
    _, key = run(create_api_key("app", ["notifications.view"], "t", known))
    with TestClient(create_app(runtime=plain_runtime)) as client:
        answer = client.get("/notifications", headers={"x-api-key": key})
        assert answer.status_code == 403
        assert "API" in answer.json()["detail"]
        assert client.get("/notifications").status_code in (401, 303)


def test_a_link_off_this_site_is_not_followed(plain_runtime: Runtime) -> None:
    lan = run(create_user("lan", PASSWORD, roles=["officer"], actor="t")).id
    away = tell(lan, "PT-5", link="//evil.example/login")
    with TestClient(create_app(runtime=plain_runtime)) as client:
        token = sign_in(client, "lan")
        assert "evil.example" not in client.get("/notifications").text
        opened = client.post(
            f"/notifications/{away}/read",
            data={"_csrf_token": token, "open": "1"},
            follow_redirects=False,
        )
        assert (opened.status_code, opened.headers["location"]) == (303, "/notifications")
