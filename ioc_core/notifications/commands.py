"""`ioc notifications`: send what is waiting, try the mail server, start the periodic sender."""

from __future__ import annotations

import click

from ioc_core.clitools import CliError, run_async, runtime_of, start_periodic
from ioc_core.db.transactions import write_transaction
from ioc_core.notifications import sender
from ioc_core.notifications.service import notify
from ioc_core.notifications.wording import TEST_KIND
from ioc_core.plugins.state import PluginStates


@click.group("notifications")
def notifications_group() -> None:
    """Messages to people: e-mail and other channels."""


@notifications_group.command("send")
@click.pass_context
def send_command(ctx: click.Context) -> None:
    """Send the messages that are due now."""
    sent, left = run_async(_send_and_count(runtime_of(ctx).states))
    click.echo(f"sent {_messages(sent)}; {_messages(left)} waiting (retries later or not due)")


async def _send_and_count(states: PluginStates) -> tuple[int, int]:
    sent = await sender.send_pending(states)
    return sent, await sender.pending()


@notifications_group.command("test")
@click.argument("address")
@click.pass_context
def test_command(ctx: click.Context, address: str) -> None:
    """E-mail a test message to ADDRESS now, to check the SMTP settings."""
    runtime = runtime_of(ctx)
    if not runtime.settings.smtp_url:
        raise CliError("IOC_SMTP_URL is not set: no e-mail can be sent")

    async def write_and_send() -> int:
        async with write_transaction():
            written = await notify(kind=TEST_KIND, params={}, emails=[address])
        if not written:
            raise CliError(f"{address!r} is not an e-mail address")
        return await sender.send_pending(runtime.states)

    sent = run_async(write_and_send())
    if not sent:
        raise CliError("not sent; `ioc notifications send` retries it, the log says why")
    click.echo(f"sent a test message to {address}")


@notifications_group.command("start-sender")
def start_sender_command() -> None:
    """Start the periodic sender; running it again while one runs changes nothing."""
    start_periodic(sender.start_sender, "periodic sender", sender.SEND_EVERY_S)


def _messages(count: int) -> str:
    return f"{count} message" if count == 1 else f"{count} messages"
