"""`ioc outbox`: re-send domain events by hand, and start the periodic sweeper."""

from __future__ import annotations

import click

from ioc_core.clitools import run_async, start_periodic
from ioc_core.incidents import outbox


@click.group("outbox")
def outbox_group() -> None:
    """Domain events waiting in the outbox."""


@outbox_group.command("sweep")
@click.option(
    "--older-than",
    default=outbox.SWEEP_OLDER_THAN_S,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds after its commit an undispatched event counts as abandoned.",
)
@click.pass_context
def sweep_command(ctx: click.Context, older_than: float) -> None:
    """Re-dispatch events that were not dispatched (broker down, process killed)."""

    async def sweep_and_count() -> tuple[int, int]:
        sent = await outbox.sweep(older_than)
        return sent, await outbox.undispatched(older_than)

    sent, left = run_async(sweep_and_count())
    click.echo(f"re-dispatched {_events(sent)}")
    if left:
        # The sweep stops at the first failed send; the warning logged above says why. Exit 1
        # so that a timer or cron job running this reports it.
        click.echo(f"{_events(left)} still undispatched: is the broker reachable?", err=True)
        ctx.exit(1)


def _events(count: int) -> str:
    return f"{count} event" if count == 1 else f"{count} events"


@outbox_group.command("start-sweeper")
def start_sweeper_command() -> None:
    """Start the periodic sweeper; running it again while one runs changes nothing."""
    start_periodic(outbox.start_sweeper, "periodic sweeper", outbox.SWEEP_EVERY_S)
