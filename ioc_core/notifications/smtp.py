"""The "email" channel: one SMTP conversation per message, in a thread, with a timeout.

IOC_SMTP_URL chooses the server: `smtp://host:25` (plain), `smtp+starttls://user:pass@host:587`
(STARTTLS, refused when the server does not offer it), `smtps://user:pass@host:465` (TLS from
the first byte). A user name makes the sender log in; user and password are percent-decoded.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import unquote, urlsplit

from ioc_core.settings import Settings

Channel = Callable[[str, str, str], Awaitable[None]]

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
# Each network step (connect, each command) fails after this long: a hung server must not hold
# the sender's claim on its messages for long.
TIMEOUT_S = 20.0


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    starttls: bool
    implicit_tls: bool
    user: str
    password: str = field(repr=False)


def server_of(url: str) -> SmtpServer:
    """IOC_SMTP_URL as parts; the URL was checked when the settings were loaded."""
    parts = urlsplit(url)
    return SmtpServer(
        host=parts.hostname or "",
        port=parts.port or DEFAULT_PORTS[parts.scheme],
        starttls=parts.scheme == "smtp+starttls",
        implicit_tls=parts.scheme == "smtps",
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


def email_channel(settings: Settings) -> Channel | None:
    """The channel for the settings' server; None when no server is configured."""
    if not settings.smtp_url:
        return None
    server = server_of(settings.smtp_url)
    sender = settings.smtp_from

    async def send_email(address: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = address
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
        message.set_content(body)
        await asyncio.to_thread(_send, server, message)

    return send_email


def _send(server: SmtpServer, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    connection: smtplib.SMTP
    if server.implicit_tls:
        connection = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT_S, context=context)
    else:
        connection = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_S)
    with connection:
        if server.starttls:
            connection.starttls(context=context)
        if server.user:
            connection.login(server.user, server.password)
        # Raises when the server refused the recipient or the message: the sender retries.
        connection.send_message(message)
