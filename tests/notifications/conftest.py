"""A local SMTP server, a plugin with its own kind and channel, and a platform using both."""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from types import ModuleType
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ioc_core import __version__, i18n
from ioc_core.hookspecs import hookimpl
from ioc_core.plugins import lifecycle
from ioc_core.plugins.spec import PluginSpec
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings
from tests.helpers import run

HELLO = "probe.hello"
# Worded without the catalog, so the test sees which language the wording was asked in.
WORDS = {
    "vi": ("Xin chào {name}", "Có việc mới: {what}"),
    "en": ("Hello {name}", "New work: {what}"),
}
SMTP_USER, SMTP_PASSWORD = "ioc", "p@ss w:rd/42"


def hello(params: dict[str, Any]) -> tuple[str, str]:
    title, body = WORDS[i18n.current_language.get()]
    return title.format(**params), body.format(**params)


def broken(params: dict[str, Any]) -> tuple[str, str]:
    raise KeyError("the wording of this kind is broken")


@dataclass
class Texts:
    """What the probe's "sms" channel was given: (address, subject, body)."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)


def probe_plugin(texts: Texts) -> ModuleType:
    """A plugin registered in code with a kind of its own and an "sms" channel."""
    module = ModuleType("tests_notifications_probe")
    module.SPEC = PluginSpec(  # type: ignore[attr-defined]
        name="probe_notes",
        title_vi="probe",
        title_en="probe",
        version="1.0.0",
        core_versions=f"=={__version__}",
    )

    async def send_text(address: str, subject: str, body: str) -> None:
        texts.sent.append((address, subject, body))

    def notification_kinds() -> dict[str, Any]:
        return {HELLO: hello, "probe.broken": broken}

    def notification_channels() -> dict[str, Any]:
        return {"sms": send_text}

    module.notification_kinds = hookimpl(notification_kinds)  # type: ignore[attr-defined]
    module.notification_channels = hookimpl(notification_channels)  # type: ignore[attr-defined]
    return module


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
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
    yield handler, port
    controller.stop()


@pytest.fixture
def texts() -> Texts:
    return Texts()


def platform(environ: dict[str, str], texts: Texts, **more: str) -> Runtime:
    """A migrated platform with the probe plugin enabled; `more` adds settings."""
    built = build_runtime(
        Settings.load(environ | more), extra_plugins=[probe_plugin(texts)], park_delay_ms=200
    )
    run(lifecycle.migrate_enabled(built.registry))
    run(lifecycle.enable(built.registry, "probe_notes", "test"))
    return built


@pytest.fixture
def mail_runtime(
    environ: dict[str, str], texts: Texts, mailbox: tuple[Mailbox, int]
) -> Iterator[Runtime]:
    """The platform e-mailing through the local SMTP server."""
    built = platform(environ, texts, IOC_SMTP_URL=f"smtp://127.0.0.1:{mailbox[1]}")
    yield built
    built.broker.close()


@pytest.fixture
def plain_runtime(environ: dict[str, str], texts: Texts) -> Iterator[Runtime]:
    """The platform with no SMTP server configured."""
    built = platform(environ, texts)
    yield built
    built.broker.close()
