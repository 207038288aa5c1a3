"""The outbox on the backend under test: an event commits or rolls back with its change, reaches
each enabled handler once, survives a broker outage, and is swept once however many sweep."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import dramatiq
import pytest
from click.testing import CliRunner
from dramatiq.middleware import Middleware, MiddlewareError
from piccolo.engine import engine_finder

from ioc_core import __version__
from ioc_core.db.audit import audit
from ioc_core.db.tables import AuditEvent
from ioc_core.db.transactions import write_transaction
from ioc_core.hookspecs import hookimpl
from ioc_core.incidents import outbox
from ioc_core.incidents.outbox_commands import outbox_group
from ioc_core.incidents.tables import HandledEvent, OutboxEvent
from ioc_core.plugins import lifecycle
from ioc_core.plugins.spec import PluginSpec
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings
from ioc_core.tasks import periodic
from tests.helpers import run, wait_until, worker

TOPIC = "test.happened"
QUEUE = "incidents.events"
WAIT_S = 15.0
# Nothing listens there: connection refused at once, on every test backend.
DOWN_BROKER_URL = "redis://127.0.0.1:9/0"

# Handler calls by (handler, event number): the worker runs in this process, so they show
# whether a handler ran again, which its database effect alone (kept once) would not.
CALLS: Counter[tuple[str, int]] = Counter()
# Event numbers whose `flaky` handler fails on its first call.
FAIL_ONCE: set[int] = set()


async def record(payload: dict[str, Any]) -> None:
    CALLS["record", payload["n"]] += 1
    await audit("outbox-test", "outbox.recorded", f"event:{payload['n']}", None, payload)


async def flaky(payload: dict[str, Any]) -> None:
    CALLS["flaky", payload["n"]] += 1
    # Written before failing: the rollback of the handler's transaction must undo it.
    await audit("outbox-test", "outbox.flaky", f"event:{payload['n']}", None, payload)
    if payload["n"] in FAIL_ONCE:
        FAIL_ONCE.discard(payload["n"])
        raise RuntimeError("fails on its first call")


async def idle(payload: dict[str, Any]) -> None:
    CALLS["idle", payload["n"]] += 1
    await audit("outbox-test", "outbox.idle", f"event:{payload['n']}", None, payload)


def listener(name: str, *handlers: Callable[[dict[str, Any]], Any]) -> ModuleType:
    """A plugin registered in code whose `event_handlers` answers `handlers` for TOPIC."""
    module = ModuleType(f"tests_outbox_{name}")
    module.SPEC = PluginSpec(  # type: ignore[attr-defined]
        name=name, title_vi=name, title_en=name, version="1.0.0", core_versions=f"=={__version__}"
    )

    def event_handlers() -> dict[str, list[Callable[[dict[str, Any]], Any]]]:
        return {TOPIC: list(handlers)}

    module.event_handlers = hookimpl(event_handlers)  # type: ignore[attr-defined]
    return module


LISTENER = listener("outbox_listener", record, flaky)
# Installed but never enabled: its handler must not run.
IDLE = listener("outbox_idle", idle)


def build(settings: Settings) -> Runtime:
    return build_runtime(settings, extra_plugins=[LISTENER, IDLE], park_delay_ms=200)


@pytest.fixture
def events_runtime(settings: Settings) -> Iterator[Runtime]:
    """A migrated platform with the listener plugin enabled and the idle one not."""
    CALLS.clear()
    FAIL_ONCE.clear()
    built = build(settings)
    run(lifecycle.migrate_enabled(built.registry))
    run(lifecycle.enable(built.registry, "outbox_listener", "tester"))
    yield built
    built.broker.close()


def effects(action: str = "outbox.recorded") -> list[str]:
    rows = run(AuditEvent.select(AuditEvent.subject).where(AuditEvent.action == action))
    return sorted(r["subject"] for r in rows)


def emit_committed(*numbers: int) -> list[int]:
    async def emit_all() -> list[int]:
        async with write_transaction():
            return [await outbox.emit(TOPIC, {"n": n}) for n in numbers]

    return run(emit_all())


def outbox_rows() -> list[dict[str, Any]]:
    return run(OutboxEvent.select().order_by(OutboxEvent.id).output(load_json=True))


def drain(runtime: Runtime, running: dramatiq.Worker) -> None:
    """Wait until every message of the events queue, retries included, was processed."""
    runtime.broker.join(QUEUE, timeout=int(WAIT_S * 1000))
    running.join()


def test_an_event_commits_and_rolls_back_with_its_change(events_runtime: Runtime) -> None:
    class Rollback(Exception):
        pass

    async def scenario() -> int:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await outbox.emit(TOPIC, {"n": 0})
        engine = engine_finder()
        assert engine is not None
        with pytest.raises(Rollback):
            async with engine.transaction():
                await outbox.emit(TOPIC, {"n": 1})
                raise Rollback
        async with engine.transaction():
            return await outbox.emit(TOPIC, {"n": 2})

    kept = run(scenario())
    [row] = outbox_rows()
    assert (row["id"], row["topic"], row["payload"]) == (kept, TOPIC, {"n": 2})
    assert (row["dispatched_at"], row["attempts"]) == (None, 0)


def test_a_dispatched_event_reaches_each_enabled_handler_once(events_runtime: Runtime) -> None:
    ids = emit_committed(1, 2)
    with worker(events_runtime) as running:
        assert run(outbox.dispatch(ids)) == 2
        assert wait_until(lambda: effects() == ["event:1", "event:2"])
        drain(events_runtime, running)
    assert effects() == ["event:1", "event:2"]
    assert effects("outbox.flaky") == ["event:1", "event:2"]
    assert effects("outbox.idle") == [], "a disabled plugin's handler ran"
    assert all(row["dispatched_at"] is not None and row["attempts"] == 1 for row in outbox_rows())
    assert run(HandledEvent.count()) == 4  # two events x two handlers of the enabled plugin


def test_a_broker_outage_loses_nothing_and_the_sweep_sends_once(
    events_runtime: Runtime, environ: dict[str, str]
) -> None:
    down = build(Settings.load({**environ, "IOC_BROKER_URL": DOWN_BROKER_URL}))
    try:
        [event_id] = emit_committed(3)  # the change commits whatever the broker's state
        started = time.monotonic()
        assert run(outbox.dispatch([event_id])) == 0  # no exception for the request
        assert time.monotonic() - started < outbox.SEND_TIMEOUT_S
    finally:
        down.broker.close()
    [row] = outbox_rows()
    assert (row["dispatched_at"], row["attempts"]) == (None, 1)

    up = build(events_runtime.settings)  # the broker is back: actors bound to it again
    try:
        assert run(outbox.sweep()) == 0, "an event younger than 30 s may still be dispatching"
        with worker(up) as running:
            assert run(outbox.sweep(older_than_s=0)) == 1
            assert wait_until(lambda: effects() == ["event:3"])
            drain(up, running)
        assert run(outbox.sweep(older_than_s=0)) == 0
    finally:
        up.broker.close()
    assert effects() == ["event:3"]
    [row] = outbox_rows()
    assert row["dispatched_at"] is not None and row["attempts"] == 2


class Refused(MiddlewareError):
    """The broker's answer to a send the test refuses."""


class Faults(Middleware):
    """Counts the events queue's messages; refuses the send of event `refuse`, or holds the
    send of event `hold` until `release` is set."""

    def __init__(self) -> None:
        self.refuse: int | None = None
        self.hold: int | None = None
        self.release = threading.Event()
        self.enqueued: list[int] = []

    def before_enqueue(self, broker: dramatiq.Broker, message: Any, delay: Any) -> None:
        if message.queue_name != QUEUE:
            return
        [event_id] = message.args
        if event_id == self.refuse:
            raise Refused(f"event {event_id} refused")
        if event_id == self.hold:
            self.release.wait(WAIT_S)

    def after_enqueue(self, broker: dramatiq.Broker, message: Any, delay: Any) -> None:
        if message.queue_name == QUEUE:
            self.enqueued.append(message.args[0])


@pytest.fixture
def faults(events_runtime: Runtime) -> Iterator[Faults]:
    middleware = Faults()
    events_runtime.broker.add_middleware(middleware)
    yield middleware
    middleware.release.set()
    events_runtime.broker.middleware.remove(middleware)


def attempts() -> list[tuple[bool, int]]:
    """(dispatched, attempts) of each event, in order."""
    return [(r["dispatched_at"] is not None, r["attempts"]) for r in outbox_rows()]


def test_a_batch_is_sent_in_order_and_marked_once(events_runtime: Runtime, faults: Faults) -> None:
    ids = emit_committed(*range(50, 170))
    assert run(outbox.dispatch(ids)) == len(ids)
    assert faults.enqueued == ids
    assert attempts() == [(True, 1)] * len(ids)
    assert run(outbox.undispatched()) == 0
    with worker(events_runtime) as running:
        drain(events_runtime, running)
    assert effects() == sorted(f"event:{n}" for n in range(50, 170))


def test_a_refusal_mid_batch_leaves_the_rest_to_the_sweep(
    events_runtime: Runtime, faults: Faults
) -> None:
    ids = emit_committed(*range(200, 210))
    faults.refuse = ids[3]
    assert run(outbox.dispatch(ids)) == 3
    # Sent ones marked; the refused one tried once; none after it was tried.
    assert attempts() == [(True, 1)] * 3 + [(False, 1)] + [(False, 0)] * 6
    faults.refuse = None
    assert run(outbox.sweep(older_than_s=0)) == 7
    assert faults.enqueued == ids
    assert attempts() == [(True, 1)] * 3 + [(True, 2)] + [(True, 1)] * 6


def test_a_hung_send_times_out_and_stops_the_batch(
    events_runtime: Runtime, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "SEND_TIMEOUT_S", 0.5)
    ids = emit_committed(*range(300, 310))
    faults.hold = ids[4]

    async def dispatch_then_release() -> tuple[int, float]:
        started = time.monotonic()
        sent = await outbox.dispatch(ids)
        elapsed = time.monotonic() - started
        # Before asyncio.run ends, which waits for the held thread.
        faults.release.set()
        return sent, elapsed

    sent, elapsed = run(dispatch_then_release())
    assert sent == 4
    assert elapsed < 3.0
    assert attempts() == [(True, 1)] * 4 + [(False, 1)] + [(False, 0)] * 5
    # The held send completes, unrecorded; the batch's thread sends nothing after it.
    assert wait_until(lambda: len(faults.enqueued) == 5)
    time.sleep(0.3)
    assert faults.enqueued == ids[:5]
    assert run(outbox.sweep(older_than_s=0)) == 6  # the held one again: at least once
    assert attempts() == [(True, 1)] * 4 + [(True, 2)] + [(True, 1)] * 5


def test_an_event_delivered_twice_has_its_effect_once(events_runtime: Runtime) -> None:
    [event_id] = emit_committed(4)
    with worker(events_runtime) as running:
        outbox.deliver.send(event_id)
        outbox.deliver.send(event_id)  # as after a sweep racing a slow dispatch
        drain(events_runtime, running)
        outbox.deliver.send(event_id)  # as after a worker killed before its ack
        drain(events_runtime, running)

    async def twice_at_once() -> None:
        # Two deliveries in the same moment, each in its own transaction: one waits on the
        # unique (handler, event) index, then finds the row.
        await asyncio.gather(outbox.deliver(event_id), outbox.deliver(event_id))

    run(twice_at_once())
    assert effects() == ["event:4"]
    assert CALLS["record", 4] == 1
    assert run(HandledEvent.count().where(HandledEvent.event == event_id)) == 2


def test_a_failing_handler_is_retried_and_the_others_are_not_run_again(
    events_runtime: Runtime,
) -> None:
    FAIL_ONCE.add(5)
    ids = emit_committed(5)
    with worker(events_runtime) as running:
        run(outbox.dispatch(ids))
        assert wait_until(lambda: effects("outbox.flaky") == ["event:5"])  # retried after ~1 s
        drain(events_runtime, running)
    assert CALLS["flaky", 5] == 2
    assert CALLS["record", 5] == 1, "a handler that succeeded ran again on the retry"
    # The failed call's write was rolled back with its transaction: one effect each.
    assert effects("outbox.flaky") == ["event:5"]
    assert effects() == ["event:5"]


def test_concurrent_sweeps_send_each_event_once(
    events_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "SWEEP_BATCH", 3)  # several batches, so the sweeps interleave
    ids = emit_committed(*range(10, 20))

    async def two_sweeps() -> list[int]:
        return list(await asyncio.gather(outbox.sweep(0), outbox.sweep(0)))

    counts = run(two_sweeps())
    assert sum(counts) == len(ids)
    # One attempt each: no event was sent by both sweeps.
    assert [(r["id"], r["attempts"]) for r in outbox_rows()] == [(i, 1) for i in ids]
    assert all(row["dispatched_at"] is not None for row in outbox_rows())


def test_the_periodic_sweeper_runs_once_per_period_however_many_chains(
    events_runtime: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(outbox, "SWEEP_EVERY_S", 1.0)
    monkeypatch.setattr(outbox, "SWEEP_OLDER_THAN_S", 0.0)
    swept_at: list[float] = []
    real_sweep = outbox.sweep

    async def counted_sweep(older_than_s: float = 0.0) -> int:
        swept_at.append(time.monotonic())
        return await real_sweep(older_than_s)

    monkeypatch.setattr(outbox, "sweep", counted_sweep)
    caplog.set_level(logging.DEBUG, logger=periodic.__name__)

    def ended() -> int:
        return sum("this one ends" in r.getMessage() for r in caplog.records)

    emit_committed(30)  # never dispatched: the periodic sweep must send it
    with worker(events_runtime):
        for _ in range(3):  # as three workers starting at once would
            outbox.start_sweeper()
        assert wait_until(lambda: effects() == ["event:30"])
        # Of three chains one lives on: two end, and the sweeps go on about once a second.
        assert wait_until(lambda: ended() == 2 and len(swept_at) >= 3), (ended(), swept_at)
        time.sleep(1.2)  # one more period
    assert ended() == 2
    gaps = [b - a for a, b in itertools.pairwise(swept_at)]
    assert min(gaps) > 0.45, gaps  # never two sweeps within half a period


def test_ioc_outbox_sweep_command(events_runtime: Runtime, environ: dict[str, str]) -> None:
    emit_committed(40, 41)
    down = build(Settings.load({**environ, "IOC_BROKER_URL": DOWN_BROKER_URL}))
    try:
        result = CliRunner().invoke(outbox_group, ["sweep", "--older-than", "0"])
    finally:
        down.broker.close()
    assert result.exit_code == 1, "a timer running the sweep must see that it failed"
    assert "re-dispatched 0 events" in result.output
    assert "2 events still undispatched" in result.output

    up = build(events_runtime.settings)  # the broker is back
    try:
        result = CliRunner().invoke(outbox_group, ["sweep", "--older-than", "0"])
    finally:
        up.broker.close()
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["re-dispatched 2 events"]
