"""Workers restart a periodic chain the broker lost, once it is overdue, and only then."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest

from ioc_core.db.tables import PeriodicRun
from ioc_core.incidents import outbox
from ioc_core.notifications import sender
from ioc_core.runtime import Runtime
from ioc_core.tasks import watchdog
from tests.helpers import run, wait_until, worker


def last_run(name: str) -> dt.datetime:
    row = run(PeriodicRun.select(PeriodicRun.last_at).where(PeriodicRun.name == name).first())
    assert row is not None
    return row["last_at"]


def test_a_lost_chain_is_restarted_by_the_workers_once(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    (guard,) = [m for m in runtime.broker.middleware if isinstance(m, watchdog.ChainWatchdog)]
    guard.check_every_s = 0.2
    caplog.set_level(logging.WARNING, logger=watchdog.__name__)
    now = dt.datetime.now(dt.UTC)
    # The sweeper last ran an hour ago: its chain was lost. The sender ran just now.
    lost = now - dt.timedelta(hours=1)
    run(
        PeriodicRun.insert(
            PeriodicRun(name=outbox.SWEEPER, last_at=lost),
            PeriodicRun(name=sender.SENDER, last_at=now),
        )
    )
    with worker(runtime):
        assert wait_until(lambda: last_run(outbox.SWEEPER) > now, 20)
        time.sleep(1)  # five more checks: the chain that runs again is not sent again
    restarted = [r.getMessage() for r in caplog.records if "chain restarted" in r.getMessage()]
    assert len(restarted) == 1 and outbox.SWEEPER in restarted[0], restarted
    assert last_run(sender.SENDER) == now
