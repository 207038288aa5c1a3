"""The core's storage, registered as the built-in plugin `core` so it migrates first."""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppConfig

from ioc_core import __version__
from ioc_core.db.tables import AuditEvent, PeriodicRun, PluginState, RolloutPhase
from ioc_core.plugins.spec import PluginSpec

APP_CONFIG = AppConfig(
    app_name="core",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[PluginState, RolloutPhase, AuditEvent, PeriodicRun],
    migration_dependencies=[],
    commands=[],
)

SPEC = PluginSpec(
    name="core",
    title_vi="Lõi nền tảng",
    title_en="Platform core",
    version=__version__,
    core_versions=f"=={__version__}",
    piccolo_app="ioc_core.piccolo_app",
    builtin=True,
)
