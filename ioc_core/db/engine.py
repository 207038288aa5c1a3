"""The Piccolo engine chosen by IOC_DATABASE_URL, bound to every table of this process."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable

import asyncpg
from piccolo.apps.migrations.tables import Migration
from piccolo.conf.apps import AppConfig, AppRegistry
from piccolo.engine.base import Engine

from ioc_core.db.postgres import PostgresEngine
from ioc_core.db.sqlite import SQLiteEngine
from ioc_core.settings import Settings

PICCOLO_CONF = "ioc_core.piccolo_conf"
# Several processes (web, workers, CLI) write one SQLite file; wait for a lock, do not fail.
SQLITE_BUSY_TIMEOUT_S = 30.0


class _PooledConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection handed back without asyncpg's reset query (a round trip per query
    Piccolo runs outside a transaction). The platform leaves nothing on a session to reset: no
    SET, no LISTEN, no cursor, only advisory locks of a transaction; an open transaction is
    still rolled back on release."""

    def get_reset_query(self) -> str:
        return ""


def engine_for(settings: Settings) -> Engine:
    """The engine for IOC_DATABASE_URL; it connects on first use, not here."""
    if settings.is_sqlite:
        return SQLiteEngine(path=str(settings.sqlite_path), timeout=SQLITE_BUSY_TIMEOUT_S)
    return PostgresEngine(
        config={"dsn": settings.database_url, "connection_class": _PooledConnection}
    )


def app_config(module_path: str) -> AppConfig:
    return importlib.import_module(module_path).APP_CONFIG


def bind(engine: Engine, app_modules: Iterable[str]) -> None:
    """Make `engine` the engine of this process: Piccolo's migrations and every app's tables."""
    os.environ["PICCOLO_CONF"] = PICCOLO_CONF
    conf = importlib.import_module(PICCOLO_CONF)
    modules = list(app_modules)
    conf.DB = engine
    conf.APP_REGISTRY = AppRegistry(apps=modules)
    # A table keeps the first engine it saw; rebind so a second connect in one process works.
    Migration._meta.db = engine
    for module in modules:
        for table in app_config(module).table_classes:
            table._meta.db = engine
