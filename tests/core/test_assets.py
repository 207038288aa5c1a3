"""Browser assets: htmx as fetched by the build hook (hatch_build.py) and the pins behind it.

These check what `pip install` left behind; they never run npm.
"""

from __future__ import annotations

import importlib.util
import json
import re
import types
from importlib.resources import files
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "package-lock.json"


def _locked_htmx() -> dict[str, str]:
    return json.loads(LOCK.read_text(encoding="utf-8"))["packages"]["node_modules/htmx.org"]


def _load_hook_module() -> types.ModuleType:
    # hatchling is in the test extras, so the hook loads against the real interface.
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_installed_htmx_is_the_locked_2_0_release() -> None:
    installed = files("ioc_core") / "web" / "static" / "vendor" / "htmx.min.js"
    assert installed.is_file(), "pip install should have run hatch_build.py, which puts it there"
    found = re.findall(r"""version\s*:\s*["'](\d+\.\d+\.\d+)["']""", installed.read_text("utf-8"))
    assert found, "no version string in htmx.min.js"
    assert set(found) == {_locked_htmx()["version"]}
    assert found[0].startswith("2.0."), "Litestar's HTMX support needs htmx 2.0 headers"


def test_lock_pins_htmx_exactly_with_a_sha512_hash() -> None:
    package = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    assert package["private"] is True
    pinned = package["dependencies"]["htmx.org"]
    assert re.fullmatch(r"2\.0\.\d+", pinned), f"not an exact 2.0.x pin: {pinned}"
    locked = _locked_htmx()
    assert locked["version"] == pinned
    assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", locked["integrity"])


def test_lock_names_no_registry_host() -> None:
    text = LOCK.read_text(encoding="utf-8").lower()
    assert "http" not in text
    assert "registry" not in text
    assert '"resolved"' not in text


def test_missing_npm_stops_the_build_with_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hook = _load_hook_module()
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no npm, no node
    with pytest.raises(SystemExit) as stopped:
        hook.find_npm()
    message = str(stopped.value)
    assert "\n" not in message
    assert message.startswith("npm is required to build ioc-platform")
    assert "apt-get install npm" in message


def test_missing_node_is_named_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hook = _load_hook_module()
    fake_npm = tmp_path / "npm"
    fake_npm.write_text("#!/bin/sh\n", encoding="utf-8")
    fake_npm.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))  # npm found, node not
    with pytest.raises(SystemExit) as stopped:
        hook.find_npm()
    assert str(stopped.value) == (
        "node is required to build ioc-platform (npm runs on it): apt-get install nodejs"
    )
