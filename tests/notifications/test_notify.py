"""`notify` on the backend under test: rows in the caller's transaction, each person once."""

from __future__ import annotations

from typing import Any

import pytest
from piccolo.engine import engine_finder

from ioc_core import i18n
from ioc_core.auth.tables import User
from ioc_core.auth.users import create_user
from ioc_core.db.transactions import write_transaction
from ioc_core.notifications import service
from ioc_core.notifications.service import notify
from ioc_core.notifications.tables import Notification, OutboundMessage
from ioc_core.runtime import Runtime
from tests.helpers import run
from tests.notifications.conftest import HELLO, hello

PASSWORD = "Chuông-báo-2026"
PARAMS = {"name": "Lan", "what": "PT-2026-000001"}


def people() -> dict[str, int]:
    made = {
        "lan": run(create_user("lan", PASSWORD, roles=["officer"], actor="t", email="Lan@x.vn")),
        "ann": run(
            create_user(
                "ann", PASSWORD, roles=["officer"], actor="t", email="ann@x.vn", language="en"
            )
        ),
        "noemail": run(create_user("noemail", PASSWORD, roles=["viewer"], actor="t")),
        "gone": run(create_user("gone", PASSWORD, roles=["viewer"], actor="t", email="g@x.vn")),
    }
    run(User.update({User.is_active: False}).where(User.id == made["gone"].id))
    return {name: int(user.id) for name, user in made.items()}


def notify_committed(**kwargs: Any) -> int:
    async def write() -> int:
        async with write_transaction():
            return await notify(kind=HELLO, params=PARAMS, link="/incidents/1", **kwargs)

    return run(write())


def messages() -> list[tuple[str, str, str]]:
    rows = run(
        OutboundMessage.select(
            OutboundMessage.channel, OutboundMessage.address, OutboundMessage.language
        ).order_by(OutboundMessage.id)
    )
    return [(r["channel"], r["address"], r["language"]) for r in rows]


def test_notify_writes_the_bell_and_the_messages_once_each(runtime: Runtime) -> None:
    ids = people()
    written = notify_committed(
        users=[ids["lan"], ids["ann"], ids["lan"], ids["noemail"], ids["gone"]],
        emails=["lan@X.vn", " citizen@example.vn ", "citizen@example.vn", "", "not-an-address"],
        addresses={"sms": ["+84901234567", "+84901234567"]},
    )
    bell = run(
        Notification.select(
            Notification.user, Notification.kind, Notification.params, Notification.link
        )
        .order_by(Notification.user)
        .output(load_json=True)
    )
    assert [row["user"] for row in bell] == sorted([ids["lan"], ids["ann"], ids["noemail"]])
    assert all((r["kind"], r["params"], r["link"]) == (HELLO, PARAMS, "/incidents/1") for r in bell)
    # The users' own addresses in their language; the bare one in Vietnamese; each once.
    assert messages() == [
        ("email", "Lan@x.vn", "vi"),
        ("email", "ann@x.vn", "en"),
        ("email", "citizen@example.vn", "vi"),
        ("sms", "+84901234567", "vi"),
    ]
    assert written == 3 + 4
    assert run(service.unread_count(ids["lan"])) == 1
    assert run(service.unread_count(ids["gone"])) == 0


def test_notify_refuses_outside_a_transaction_and_rolls_back_with_it(runtime: Runtime) -> None:
    ids = people()

    class Rollback(Exception):
        pass

    async def scenario() -> None:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await notify(kind=HELLO, params=PARAMS, users=[ids["lan"]])
        engine = engine_finder()
        assert engine is not None
        with pytest.raises(Rollback):
            async with engine.transaction():
                assert await notify(kind=HELLO, params=PARAMS, users=[ids["lan"]]) == 2
                raise Rollback
        async with engine.transaction():
            with pytest.raises(ValueError, match="kind"):
                await notify(kind="", params=PARAMS, users=[ids["lan"]])

    run(scenario())
    assert run(Notification.count()) == 0
    assert run(OutboundMessage.count()) == 0


def test_nobody_to_tell_writes_nothing(runtime: Runtime) -> None:
    assert notify_committed() == 0
    assert notify_committed(users=[999_999], emails=[" "]) == 0


def test_wording_in_the_current_language_and_a_fallback_that_never_raises() -> None:
    wording = {HELLO: hello}
    with i18n.language("en"):
        assert service.render(wording, HELLO, PARAMS) == ("Hello Lan", "New work: PT-2026-000001")
    with i18n.language("vi"):
        assert service.render(wording, HELLO, PARAMS)[0] == "Xin chào Lan"
    with i18n.language("xx"):
        assert i18n.current_language.get() == "vi", "an unknown language falls back"
    assert i18n.current_language.get() == "vi"
    title, body = service.render(wording, "nobody.knows", {})
    assert "nobody.knows" in title and body == ""
    title, _ = service.render(wording, HELLO, {"missing": "params"})
    assert HELLO in title, "a wording that raises falls back"
