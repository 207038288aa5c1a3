"""A local SMTP server for tests that send e-mail: aiosmtpd on 127.0.0.1, keeping what it got."""

from __future__ import annotations

import asyncio
import email
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ioc_core.plugins import lifecycle
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings
from tests.helpers import run
from tests.processes import free_port

SMTP_USER, SMTP_PASSWORD = "ioc", "p@ss w:rd/42"


class Mailbox:
    """An aiosmtpd handler keeping what it accepted; it can refuse messages, or take its time."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse = 0
        self.delay_s = 0.0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        await asyncio.sleep(self.delay_s)
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    # handled=False: aiosmtpd answers 535 itself on a failure.
    return AuthResult(success=ok, handled=False)


@contextmanager
def local_smtp() -> Iterator[tuple[Mailbox, int]]:
    """A local SMTP server (no STARTTLS; AUTH allowed in clear, on 127.0.0.1 only)."""
    handler = Mailbox()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@contextmanager
def mailing_runtime(
    environ: dict[str, str], port: int, plugins: tuple[str, ...] = ()
) -> Iterator[Runtime]:
    """A migrated platform e-mailing through the local SMTP server on `port`, with `plugins`
    enabled."""
    built = build_runtime(
        Settings.load(environ | {"IOC_SMTP_URL": f"smtp://127.0.0.1:{port}"}), park_delay_ms=200
    )
    run(lifecycle.migrate_enabled(built.registry))
    for plugin in plugins:
        run(lifecycle.enable(built.registry, plugin, "test"))
    try:
        yield built
    finally:
        built.broker.close()
