"""The `ioc` command line as an administrator uses it."""

import os
import subprocess
from pathlib import Path

import httpx

from tests.helpers import wait_until
from tests.processes import IOC, answering, free_port, ioc, stop

COMMANDS = ("init", "migrate", "serve", "worker", "plugins", "phase")


def test_help_lists_every_command_and_version() -> None:
    env = dict(os.environ)
    done = ioc("--help", env=env)
    assert done.returncode == 0
    listed = {line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line}
    assert set(COMMANDS) <= listed
    assert ioc("--version", env=env).stdout.strip() == "ioc, version 0.1.0"
    plugins_help = ioc("plugins", "--help", env=env).stdout
    assert all(word in plugins_help for word in ("list", "enable", "disable"))
    assert all(word in ioc("phase", "--help", env=env).stdout for word in ("list", "apply"))


def test_help_still_answers_with_a_bad_setting() -> None:
    env = {**os.environ, "IOC_DATABASE_URL": "mysql://x"}
    assert ioc("--help", env=env).returncode == 0


def test_plugins_list_shows_state_phase_requires_and_hooks(
    subprocess_env: dict[str, str],
) -> None:
    assert ioc("init", env=subprocess_env).returncode == 0
    assert ioc("phase", "define", "pilot", "sample_addon", env=subprocess_env).returncode == 0
    applied = ioc("phase", "apply", "pilot", env=subprocess_env)
    assert applied.stdout.strip() == "phase pilot applied; enabled: sample_reports, sample_addon"

    listing = ioc("plugins", "list", env=subprocess_env)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "STATE", "PHASE", "REQUIRES", "HOOKS"]
    rows = {line.split()[0]: line.split() for line in lines[1:] if not line.startswith("broken")}
    assert rows["core"][:3] == ["core", "0.1.0", "built-in"]
    assert rows["sample_reports"] == [
        "sample_reports",
        "1.2.0",
        "enabled",
        "pilot",
        "-",
        "cli_commands,on_disable,on_enable,route_handlers,tasks",
    ]
    assert rows["sample_addon"][2:5] == ["enabled", "pilot", "sample_reports"]
    broken = [line for line in lines if line.startswith("broken: ")]
    assert any("sample_future" in line and "needs core >=99" in line for line in broken)

    phases = ioc("phase", "list", env=subprocess_env).stdout.splitlines()
    assert phases[1].split()[:3] == ["pilot", "database", "sample_addon"]
    assert "UTC by cli:" in phases[1]


def test_plugin_commands_join_the_command_line(subprocess_env: dict[str, str]) -> None:
    done = ioc("sample-hello", env=subprocess_env)
    assert done.stdout.strip() == "hello from sample_reports"


def test_errors_are_one_line_with_exit_code_2(subprocess_env: dict[str, str]) -> None:
    assert ioc("init", env=subprocess_env).returncode == 0
    ioc("plugins", "enable", "sample_addon", env=subprocess_env)
    cases = [
        (("plugins", "enable", "ghost"), "no plugin named 'ghost' is installed"),
        (("plugins", "disable", "sample_reports"), "sample_addon require it"),
        (("plugins", "disable", "core"), "part of the core and cannot be disabled"),
        (("plugins", "enable", "sample_broken"), "sample_broken cannot be used"),
        (("phase", "apply", "nope"), "no phase named 'nope'"),
        (("serve", "--port", "0"), "Invalid value for '--port'"),
    ]
    for args, message in cases:
        done = ioc(*args, env=subprocess_env)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        error_lines = [line for line in done.stderr.splitlines() if line.startswith("Error")]
        assert len(error_lines) == 1 and message in error_lines[0], (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_unreachable_database_is_a_clear_error(subprocess_env: dict[str, str]) -> None:
    env = {**subprocess_env, "IOC_DATABASE_URL": "postgresql://postgres@127.0.0.1:9/ioc"}
    done = ioc("plugins", "list", env=env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("Error: database unreachable:")
    assert "Traceback" not in done.stderr


def test_serve_runs_the_web_processes_asked_for(subprocess_env: dict[str, str]) -> None:
    assert ioc("init", env=subprocess_env).returncode == 0
    port = free_port()
    process = subprocess.Popen(
        [IOC, "serve", "--port", str(port), "--workers", "2"],
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        answering(base, process)
        assert wait_until(lambda: len(_web_processes(process.pid)) == 2), _web_processes(
            process.pid
        )
        assert all(httpx.get(f"{base}/healthz").status_code == 200 for _ in range(10))
    finally:
        stop(process)


def _web_processes(pid: int) -> list[str]:
    """uvicorn's web processes under its supervisor `pid` (spawned by multiprocessing, beside
    which multiprocessing may start a resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found = []
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in command:
            found.append(child)
    return found
