"""`ioc demo`: a ready Phan Thiết demo (being written)."""

from __future__ import annotations

import click


@click.command("demo")
def demo_command() -> None:
    """Build a ready Phan Thiết demo and serve it."""
    raise click.ClickException("not ready yet")
