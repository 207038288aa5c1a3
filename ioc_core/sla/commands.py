"""`ioc sla`: run an SLA sweep by hand (or from a timer) and start the periodic one."""

from __future__ import annotations

import click

from ioc_core.clitools import run_async, start_periodic
from ioc_core.sla import sweep


@click.group("sla")
def sla_group() -> None:
    """Due times, warnings and automatic escalation."""


@sla_group.command("sweep")
def sweep_command() -> None:
    """Warn what is due soon and escalate what is overdue, once; print how many."""
    result = run_async(sweep.sweep())
    click.echo(
        f"escalated {result.escalated} incidents; warned {result.warned}; "
        f"overdue with no level above: {result.breached}"
    )


@sla_group.command("start-sweeper")
def start_sweeper_command() -> None:
    """Start the periodic sweep; running it again while one runs changes nothing."""
    start_periodic(sweep.start_sweeper, "periodic SLA sweep", sweep.SWEEP_EVERY_S)
