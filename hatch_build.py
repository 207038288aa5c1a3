"""Build hook: fetch htmx from npm and compile the Babel catalogs.

The repository commits no third-party JavaScript, so every wheel (and `pip install -e .`)
gets htmx from the npm registry at build time, checked against package-lock.json's
integrity hash by `npm ci`. Compiled `.mo` catalogs are build output too.
Registered as hatchling's `custom` hook in pyproject.toml.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

HTMX_PACKAGE = "htmx.org"
HTMX_DIST = Path("node_modules", HTMX_PACKAGE, "dist", "htmx.min.js")
HTMX_TARGET = Path("ioc_core", "web", "static", "vendor", "htmx.min.js")
CATALOG_GLOBS = ("ioc_core/locale/*/LC_MESSAGES/*.po", "plugins/*/locale/*/LC_MESSAGES/*.po")


def find_npm() -> str:
    """Path of npm, or stop the build with one line saying what to install.

    npm is a node script, so node must be there too; checking both here turns
    a confusing `env: node: No such file` into an install hint.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "npm is required to build ioc-platform (it fetches htmx): apt-get install npm"
        )
    if shutil.which("node") is None:
        raise SystemExit(
            "node is required to build ioc-platform (npm runs on it): apt-get install nodejs"
        )
    return npm


def locked_version(root: Path, package: str) -> str:
    """The exact version package-lock.json pins for `package`."""
    lock = json.loads((root / "package-lock.json").read_text(encoding="utf-8"))
    return str(lock["packages"][f"node_modules/{package}"]["version"])


def installed_version(root: Path, package: str) -> str | None:
    """The version npm left in node_modules, or None when it is not there."""
    manifest = root / "node_modules" / package / "package.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


def ensure_node_modules(root: Path) -> None:
    """Run `npm ci` unless node_modules already holds the locked htmx.

    Skipping keeps re-installs fast and offline; what is there was put there by an
    earlier `npm ci`, which checked it against the lock's integrity hash.
    """
    if (
        installed_version(root, HTMX_PACKAGE) == locked_version(root, HTMX_PACKAGE)
        and (root / HTMX_DIST).is_file()
    ):
        return
    # --ignore-scripts: no package code runs at install; the lock's hashes are checked.
    command = [find_npm(), "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
    if subprocess.run(command, cwd=root, check=False).returncode != 0:
        raise SystemExit(f"`{' '.join(command[1:])}` failed in {root}: see npm's output above")


def compile_catalogs(root: Path) -> list[Path]:
    """Compile each existing `.po` catalog into the `.mo` beside it."""
    # Imported here so that finding npm (and the tests of it) need no babel.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    compiled = []
    for pattern in CATALOG_GLOBS:
        for po_path in sorted(root.glob(pattern)):
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file)
            mo_path = po_path.with_suffix(".mo")
            with mo_path.open("wb") as mo_file:
                write_mo(mo_file, catalog)
            compiled.append(mo_path)
    return compiled


class CustomBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        # The sdist ships package.json, the lock and the .po files; the wheel built
        # from it runs this hook again, so only wheels (editable ones too) need it.
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        ensure_node_modules(root)
        target = root / HTMX_TARGET
        target.parent.mkdir(parents=True, exist_ok=True)
        # Into the source tree: editable installs serve it from there, and the wheel
        # takes it as an artifact (it is git-ignored, so hatchling would skip it).
        shutil.copyfile(root / HTMX_DIST, target)
        compile_catalogs(root)
