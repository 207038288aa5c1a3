"""Install the sample plugins the way pip would, into a folder put on sys.path."""

from __future__ import annotations

import shutil
from pathlib import Path

SOURCE = Path(__file__).parent / "sample_plugins"
PACKAGES = ("ioc_sample_reports", "ioc_sample_addon", "ioc_sample_broken", "ioc_sample_future")
DIST = "ioc_sample_plugins-1.0.dist-info"


def install(site: Path) -> Path:
    site.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        shutil.copytree(SOURCE / package, site / package, dirs_exist_ok=True)
    dist = site / DIST
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ioc-sample-plugins\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[ioc.plugins]\n" + "".join(f"{p.removeprefix('ioc_')} = {p}\n" for p in PACKAGES)
    )
    return site
