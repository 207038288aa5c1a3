"""An `ioc worker` process's PostgreSQL connections: one pool on the loop its async actors run
on (a process that also queries from other loops, a web server or a test, must not use it).

Without it Piccolo opens a new connection for every query an actor runs outside a transaction:
a TCP and TLS handshake here and a new server process there, each time. Measured under the
intake benchmark, a worker spent more CPU per event than the web process spent per report.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine

log = logging.getLogger(__name__)


class DatabasePool(dramatiq.Middleware):
    """Starts the pool once the worker's event loop runs, closes it before that loop stops.
    Placed after dramatiq's AsyncIO middleware: `after_*` hooks run in reverse order."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        engine = engine_finder()
        if isinstance(engine, PostgresEngine) and engine.pool is None:
            try:
                get_event_loop_thread().run_coroutine(engine.start_connection_pool())
            except Exception as exc:
                # Work on without a pool, a connection per query, rather than not at all.
                log.error("database unreachable at worker start, no connection pool: %s", exc)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        engine = engine_finder()
        loop_thread = get_event_loop_thread()
        if isinstance(engine, PostgresEngine) and engine.pool is not None and loop_thread:
            loop_thread.run_coroutine(engine.close_connection_pool())
