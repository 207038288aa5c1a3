"""Sending on the backend under test: e-mail through a local SMTP server in each recipient's
language, retries without duplicates, concurrent senders, other channels, no SMTP at all."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from urllib.parse import quote

from click.testing import CliRunner

from ioc_core.auth.users import create_user
from ioc_core.db.transactions import write_transaction
from ioc_core.notifications import sender
from ioc_core.notifications.commands import notifications_group
from ioc_core.notifications.service import notify
from ioc_core.notifications.tables import OutboundMessage
from ioc_core.runtime import Runtime
from tests.helpers import run, wait_until, worker
from tests.notifications.conftest import HELLO, Texts, platform
from tests.smtp import SMTP_PASSWORD, SMTP_USER, Mailbox

PARAMS = {"name": "Lan", "what": "PT-2026-000001"}
DOWN_BROKER_URL = "redis://127.0.0.1:9/0"


def tell(**kwargs: Any) -> int:
    async def write() -> int:
        async with write_transaction():
            return await notify(kind=HELLO, params=PARAMS, link="/incidents/1", **kwargs)

    return run(write())


def rows() -> list[dict[str, Any]]:
    return run(OutboundMessage.select().order_by(OutboundMessage.id).output(load_json=True))


def send(runtime: Runtime, batch: int = sender.BATCH) -> int:
    return run(sender.send_pending(runtime.states, batch))


def due_now() -> None:
    """As if every backoff had passed."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    run(
        OutboundMessage.update({OutboundMessage.claimed_until: past}).where(
            OutboundMessage.claimed_until.is_not_null()
        )
    )


def test_email_arrives_in_the_recipients_language(
    mail_runtime: Runtime, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    ann = run(
        create_user(
            "ann", "Chuông-báo-2026", roles=["viewer"], actor="t", email="ann@x.vn", language="en"
        )
    )
    tell(users=[ann.id], emails=["dan@example.vn"])
    assert send(mail_runtime) == 2
    [english] = box.to("ann@x.vn")
    [vietnamese] = box.to("dan@example.vn")
    assert english["Subject"] == "Hello Lan"
    assert vietnamese["Subject"] == "Xin chào Lan"
    body = vietnamese.get_content()
    assert "Có việc mới: PT-2026-000001" in body
    assert f"{mail_runtime.settings.public_url}/incidents/1" in body
    assert vietnamese["From"] == mail_runtime.settings.smtp_from
    assert all(r["sent_at"] is not None and r["attempts"] == 1 for r in rows())
    assert send(mail_runtime) == 0, "sent messages are not sent again"
    assert len(box.received) == 2


def test_a_refused_email_is_retried_later_and_sent_once(
    mail_runtime: Runtime, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    box.refuse = 1
    tell(emails=["dan@example.vn"])
    assert send(mail_runtime) == 0
    [row] = rows()
    assert row["sent_at"] is None and row["failed_at"] is None
    assert row["attempts"] == 1 and "451" in row["last_error"]
    assert row["claimed_until"] > dt.datetime.now(dt.UTC), "backs off"
    assert send(mail_runtime) == 0, "not before its backoff ends"
    due_now()
    assert send(mail_runtime) == 1
    assert send(mail_runtime) == 0
    due_now()
    assert send(mail_runtime) == 0, "a sent message is not due again"
    assert len(box.to("dan@example.vn")) == 1
    [row] = rows()
    assert (row["attempts"], row["last_error"], row["claimed_until"]) == (2, "", None)


def test_a_message_is_given_up_after_its_last_try(
    mail_runtime: Runtime, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    box.refuse = 1
    tell(emails=["dan@example.vn"])
    run(OutboundMessage.update({OutboundMessage.attempts: sender.MAX_ATTEMPTS - 1}, force=True))
    assert send(mail_runtime) == 0
    [row] = rows()
    assert row["failed_at"] is not None and row["attempts"] == sender.MAX_ATTEMPTS
    due_now()
    assert send(mail_runtime) == 0 and box.received == []
    assert run(sender.pending()) == 0


def test_two_concurrent_senders_send_each_message_once(
    mail_runtime: Runtime, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    box.delay_s = 0.05  # so that the two senders overlap
    addresses = [f"p{n}@example.vn" for n in range(12)]
    tell(emails=addresses)

    async def both() -> list[int]:
        return list(
            await asyncio.gather(
                sender.send_pending(mail_runtime.states, 3),
                sender.send_pending(mail_runtime.states, 3),
            )
        )

    counts = run(both())
    assert sum(counts) == 12 and all(counts), counts
    assert sorted(m["To"] for m in box.received) == sorted(addresses)


def test_workers_send_soon_each_message_once(
    mail_runtime: Runtime, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    box.delay_s = 0.02
    addresses = [f"w{n}@example.vn" for n in range(8)]
    tell(emails=addresses)
    with worker(mail_runtime):
        assert run(sender.send_soon())
        assert run(sender.send_soon())
        assert wait_until(lambda: len(box.received) >= len(addresses))
        mail_runtime.broker.join("notifications.send", timeout=15_000)
    assert sorted(m["To"] for m in box.received) == sorted(addresses)
    assert run(sender.pending()) == 0


def test_send_soon_with_the_broker_down_does_not_raise(
    environ: dict[str, str], texts: Texts
) -> None:
    down = platform(environ, texts, IOC_BROKER_URL=DOWN_BROKER_URL)
    try:
        assert run(sender.send_soon()) is False
    finally:
        down.broker.close()


def test_another_plugins_channel_gets_its_messages(mail_runtime: Runtime, texts: Texts) -> None:
    tell(addresses={"sms": ["+84901234567"], "fax": ["028 3829 0000"]})
    assert send(mail_runtime) == 1
    assert texts.sent == [
        (
            "+84901234567",
            "Xin chào Lan",
            f"Có việc mới: PT-2026-000001\n\n{mail_runtime.settings.public_url}/incidents/1",
        )
    ]
    fax = next(r for r in rows() if r["channel"] == "fax")
    assert fax["failed_at"] is not None and "'fax'" in fax["last_error"]
    due_now()
    assert send(mail_runtime) == 0
    assert len(texts.sent) == 1
    assert next(r for r in rows() if r["channel"] == "fax")["attempts"] == 1, "never retried"


def test_without_smtp_email_is_marked_not_sent(plain_runtime: Runtime, texts: Texts) -> None:
    tell(emails=["dan@example.vn"], addresses={"sms": ["+84901234567"]})
    assert send(plain_runtime) == 1, "the other channel still works"
    email = next(r for r in rows() if r["channel"] == "email")
    assert email["sent_at"] is None and email["failed_at"] is not None
    assert "'email'" in email["last_error"]
    assert send(plain_runtime) == 0
    assert run(sender.pending()) == 0


def test_login_and_a_refused_starttls(
    environ: dict[str, str], texts: Texts, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    user = f"{SMTP_USER}:{quote(SMTP_PASSWORD, safe='')}"
    for url, arrives in (
        (f"smtp://{user}@127.0.0.1:{port}", True),
        (f"smtp://{SMTP_USER}:wrong@127.0.0.1:{port}", False),
        # The server offers no STARTTLS: nothing may go out in clear text.
        (f"smtp+starttls://{user}@127.0.0.1:{port}", False),
    ):
        built = platform(environ, texts, IOC_SMTP_URL=url)
        try:
            run(OutboundMessage.delete(force=True))
            tell(emails=["dan@example.vn"])
            before = len(box.received)
            assert send(built) == int(arrives), url
            assert len(box.received) == before + int(arrives)
            if not arrives:
                assert rows()[0]["last_error"], url
        finally:
            built.broker.close()


def test_cli_sends_what_is_due(mail_runtime: Runtime, mailbox: tuple[Mailbox, int]) -> None:
    tell(emails=["dan@example.vn", "lan@example.vn"])
    result = CliRunner().invoke(notifications_group, ["send"], obj={"runtime": mail_runtime})
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "sent 2 messages; 0 messages waiting (retries later or not due)"
    ]
    assert len(mailbox[0].received) == 2
    test = CliRunner().invoke(
        notifications_group, ["test", "ops@example.vn"], obj={"runtime": mail_runtime}
    )
    assert test.exit_code == 0, test.output
    assert len(mailbox[0].to("ops@example.vn")) == 1


def test_cli_test_without_smtp_says_so(plain_runtime: Runtime) -> None:
    result = CliRunner().invoke(
        notifications_group, ["test", "ops@example.vn"], obj={"runtime": plain_runtime}
    )
    assert result.exit_code == 2 and "IOC_SMTP_URL" in result.output
