"""Workers keep the cluster's periodic chains (`ioc_core.tasks.periodic`) alive.

A chain exists only as its next, delayed message in the broker. Redis as deployed here keeps
nothing on disk, so a Redis restart loses every chain, and a web process that started while the
broker was down never started them. So every worker runs this watchdog: a thread that, every
CHECK_EVERY_S seconds, reads each chain's last run in `periodic_run` and, once that is
OVERDUE_PERIODS periods old (or, with no run recorded, that long after the worker started),
sends the chain's task again.

The job still runs once per period per cluster: the restarted chain claims its period like any
other (`claim_period`), so chains sent by several watchdogs, or beside a chain that was only
late, end at their first run. A watchdog sends a chain at most once per OVERDUE_PERIODS periods,
so a chain that is merely stuck behind a long queue is not sent again and again; it sends
nothing for a plugin that is disabled, nor while the database cannot be read.

Simpler designs fall short: a timer in each worker running the jobs itself would need its own
scheduling beside dramatiq's retries and queues, and a chain restarted on every worker start
would still be lost by a Redis restart while the workers run on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import Middleware

from ioc_core.db.tables import PeriodicRun
from ioc_core.plugins.state import PluginStates
from ioc_core.tasks.gate import states_of
from ioc_core.tasks.task import Task

log = logging.getLogger(__name__)

CHECK_EVERY_S = 5.0
# A chain runs every period; one this many periods late is taken for lost. Two leaves a whole
# period of slack for a busy queue: restarting a chain that was only late costs one extra run.
OVERDUE_PERIODS = 2.0
# The watchdog's read of periodic_run; a database slower than this is left for the next check.
QUERY_TIMEOUT_S = 10.0


class ChainWatchdog(Middleware):
    """Started with a worker, stopped with it; see the module docstring."""

    def __init__(self, check_every_s: float = CHECK_EVERY_S) -> None:
        self.check_every_s = check_every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._watch, args=(broker,), name="ioc-chain-watchdog", daemon=True
        )
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(QUERY_TIMEOUT_S)
            self._thread = None

    def _watch(self, broker: dramatiq.Broker) -> None:
        try:
            states = states_of(broker)
        except RuntimeError:
            return  # a broker built without the platform's runtime has no chains to watch
        chains = _chains(states, broker)
        if not chains:
            return
        started = _now()
        sent: dict[str, float] = {}
        while not self._stop.wait(self.check_every_s):
            try:
                due = self._run(_overdue(states, chains, started))
            except Exception as exc:  # the database is away: nothing is known to be lost
                log.warning("chain watchdog: jobs not checked (%s)", _describe(exc))
                continue
            for plugin, task in due:
                assert task.period is not None
                quiet_s = OVERDUE_PERIODS * task.period.every_s
                if time.monotonic() - sent.get(task.period.name, -quiet_s) < quiet_s:
                    continue
                try:
                    task.send()
                except Exception as exc:  # the broker is away: the next check tries again
                    log.warning("chain watchdog: %s unsent (%s)", task.period.name, _describe(exc))
                    continue
                sent[task.period.name] = time.monotonic()
                log.warning(
                    "chain watchdog: periodic job %s (plugin %s) was overdue; chain restarted",
                    task.period.name,
                    plugin,
                )

    def _run(self, coroutine: Any) -> Any:
        """Run `coroutine` on the workers' event loop, where the database engine is used."""
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            coroutine.close()
            raise RuntimeError("the watchdog needs dramatiq's AsyncIO middleware")
        future = asyncio.run_coroutine_threadsafe(coroutine, loop_thread.loop)
        try:
            return future.result(QUERY_TIMEOUT_S)
        except TimeoutError:
            future.cancel()
            raise


def _chains(states: PluginStates, broker: dramatiq.Broker) -> list[tuple[str, Task]]:
    """The periodic chains bound to this broker, with their plugins."""
    return [
        (plugin, task)
        for plugin, answers in states.registry.per_plugin("tasks").items()
        for answer in answers
        for task in answer
        if task.period is not None and task.actor is not None and task.actor.broker is broker
    ]


async def _overdue(
    states: PluginStates, chains: list[tuple[str, Task]], started: dt.datetime
) -> list[tuple[str, Task]]:
    names = [task.period.name for _, task in chains if task.period is not None]
    rows = await PeriodicRun.select(PeriodicRun.name, PeriodicRun.last_at).where(
        PeriodicRun.name.is_in(names)
    )
    last = {row["name"]: row["last_at"] for row in rows}
    now = _now()
    due = []
    for plugin, task in chains:
        assert task.period is not None
        since = last.get(task.period.name, started)
        if (now - since).total_seconds() < OVERDUE_PERIODS * task.period.every_s:
            continue
        if await states.is_enabled(plugin):
            due.append((plugin, task))
    return due


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
