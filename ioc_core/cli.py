"""The `ioc` command line. Errors are one line on stderr and exit code 2."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import click
import dramatiq
from dramatiq.middleware import AsyncIO

from ioc_core import __version__, i18n
from ioc_core.clitools import USAGE_ERROR, cli_actor, print_table, run_async, runtime_of
from ioc_core.plugins import lifecycle
from ioc_core.plugins.state import stored_states
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings, SettingsError
from ioc_core.tasks.pool import DatabasePool


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ioc")
def cli() -> None:
    """IOC platform: an operations center for cities, one plugin per subsystem."""


@cli.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the database and bring it up to date."""
    runtime = runtime_of(ctx)
    applied = run_async(lifecycle.migrate_enabled(runtime.registry))
    count = sum(len(ids) for ids in applied.values())
    click.echo(f"database ready ({_where(runtime.settings)}), {count} migrations applied")


@cli.command("migrate")
@click.pass_context
def migrate_command(ctx: click.Context) -> None:
    """Apply pending migrations of the core and of every enabled plugin."""
    applied = run_async(lifecycle.migrate_enabled(runtime_of(ctx).registry))
    for app, ids in applied.items():
        click.echo(f"{app}: {len(ids)} applied" + (f" ({', '.join(ids)})" if ids else ""))


def _where(settings: Settings) -> str:
    return str(settings.sqlite_path) if settings.is_sqlite else "PostgreSQL"


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Web processes sharing the port: one uses one CPU core. With the embedded broker, "
    "each also runs task workers.",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the web app; with the embedded broker, also run task workers in this process."""
    import uvicorn

    from ioc_core.web.log_privacy import log_config

    runtime = runtime_of(ctx)
    click.echo(f"serving on http://{host}:{port}/ with {workers} web process(es)")
    if workers == 1:
        app: Any = _web_app(runtime)
    else:
        # Each process builds its own app from the same environment.
        app = f"{__name__}:_web_app"
    uvicorn.run(
        app,
        host=host,
        port=port,
        workers=workers,
        factory=workers > 1,
        log_level="info",
        log_config=log_config(),
    )


def _web_app(runtime: Runtime | None = None) -> Any:
    from ioc_core.web.app import create_app

    runtime = runtime or build_runtime(Settings.load())
    return create_app(runtime=runtime, run_workers=runtime.settings.is_embedded_broker)


@cli.command()
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64))
@click.pass_context
def worker(ctx: click.Context, threads: int) -> None:
    """Run task workers for every enabled plugin's queues until stopped (Ctrl-C or SIGTERM)."""
    runtime = runtime_of(ctx)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    queues = sorted(runtime.broker.get_declared_queues())
    # All of this process's database work runs on the workers' event loop: one pool there.
    runtime.broker.add_middleware(DatabasePool(), after=AsyncIO)
    running = dramatiq.Worker(runtime.broker, worker_threads=threads)
    running.start()
    click.echo(f"worker running {threads} threads on {len(queues)} queues: {', '.join(queues)}")
    stop.wait()
    running.stop()
    runtime.broker.close()
    click.echo("worker stopped")


@cli.group()
def plugins() -> None:
    """List, enable and disable plugins."""


@plugins.command("list")
@click.pass_context
def plugins_list(ctx: click.Context) -> None:
    """Name, version, state, phase, requirements and hooks of every plugin."""
    runtime = runtime_of(ctx)
    registry = runtime.registry
    stored = run_async(stored_states())
    rows = [("NAME", "VERSION", "STATE", "PHASE", "REQUIRES", "HOOKS")]
    for name, plugin in registry.plugins.items():
        row = stored.get(name)
        state = (
            "built-in"
            if plugin.spec.builtin
            else ("enabled" if row is not None and row.enabled else "disabled")
        )
        rows.append(
            (
                name,
                plugin.spec.version,
                state,
                (row.phase if row is not None else None) or "-",
                ",".join(plugin.spec.requires) or "-",
                ",".join(registry.hooks_of(name)) or "-",
            )
        )
    print_table(rows)
    for broken in registry.broken:
        click.echo(f"broken: {broken.name} ({broken.origin}): {broken.reason}")


@plugins.command("enable")
@click.argument("name")
@click.pass_context
def plugins_enable(ctx: click.Context, name: str) -> None:
    """Enable NAME and what it requires, running their migrations."""
    registry = runtime_of(ctx).registry
    enabled = run_async(lifecycle.enable(registry, name, cli_actor()))
    click.echo(f"enabled: {', '.join(enabled)}" if enabled else f"{name} was already enabled")


@plugins.command("disable")
@click.argument("name")
@click.pass_context
def plugins_disable(ctx: click.Context, name: str) -> None:
    """Disable NAME; its tables and rows are kept."""
    changed = run_async(lifecycle.disable(runtime_of(ctx).registry, name, cli_actor()))
    click.echo(f"disabled: {name} (data kept)" if changed else f"{name} was not enabled")


@cli.group()
def phase() -> None:
    """Rollout phases: named sets of plugins enabled together."""


@phase.command("list")
@click.pass_context
def phase_list(ctx: click.Context) -> None:
    """Every phase, where it is defined, its plugins and when it was applied."""
    found = run_async(lifecycle.phases(runtime_of(ctx).registry))
    rows = [("NAME", "SOURCE", "PLUGINS", "APPLIED")]
    for p in found.values():
        applied = f"{p.applied_at:%Y-%m-%d %H:%M} UTC by {p.applied_by}" if p.applied_at else "-"
        rows.append((p.name, p.source, ",".join(p.plugins) or "-", applied))
    print_table(rows)


@phase.command("define")
@click.argument("name")
@click.argument("plugin_names", nargs=-1, required=True, metavar="PLUGIN...")
@click.option("--title", default="", help="Shown to administrators.")
@click.pass_context
def phase_define(ctx: click.Context, name: str, plugin_names: tuple[str, ...], title: str) -> None:
    """Define (or redefine) phase NAME in the database as PLUGIN..."""
    registry = runtime_of(ctx).registry
    run_async(lifecycle.define_phase(registry, name, list(plugin_names), cli_actor(), title))
    click.echo(f"phase {name}: {', '.join(plugin_names)}")


@phase.command("apply")
@click.argument("name")
@click.pass_context
def phase_apply(ctx: click.Context, name: str) -> None:
    """Enable every plugin of phase NAME, dependencies first."""
    enabled = run_async(lifecycle.apply_phase(runtime_of(ctx).registry, name, cli_actor()))
    click.echo(f"phase {name} applied; enabled: {', '.join(enabled) or 'nothing new'}")


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    # The command line speaks English, like its help; the web interface defaults to Vietnamese.
    i18n.current_language.set("en")
    asking_for_help = any(a in ("-h", "--help", "--version") for a in args) or not args
    try:
        runtime: Runtime | None = build_runtime(Settings.load())
    except SettingsError as exc:
        if not asking_for_help:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(USAGE_ERROR)
        runtime = None  # help and version still answer, without plugins' commands
    if runtime is not None:
        for answer in runtime.registry.hook.cli_commands():
            for command in answer:
                cli.add_command(command)
    cli.main(args=args, prog_name="ioc", obj={"runtime": runtime})
