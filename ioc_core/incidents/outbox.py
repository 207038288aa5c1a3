"""Domain events through the outbox: written with the change, sent after commit, swept when the
sending did not happen, and handled once by every handler.

    async with write_transaction():
        ...                                    # the change
        event_id = await outbox.emit("incident.created", {"incident": incident.id})
    await outbox.dispatch([event_id])          # after commit; a broker outage does not raise

Delivery is at least once: a dispatch and a sweep may both send an event, a worker killed after
a handler committed but before the broker heard of it gets the message again. Handling is once:
each handler runs in a transaction that also inserts `HandledEvent(handler, event)`, unique, so
a second delivery finds the row and skips the handler, and a crash before the commit leaves
neither the handler's writes nor the row.

Handlers come from the `event_handlers` hook of every installed plugin: `{topic: [async fn]}`,
each called with the event's payload. A handler writes through Piccolo tables, which join the
transaction opened around it; it should do database work only, because that transaction (on
SQLite, the database's write lock) stays open while it runs. Its name (`module.qualname`) is its
identity in `handled_event`: a renamed handler counts as a new one. Handlers of a disabled plugin
are skipped, not parked: a plugin installed for a later rollout phase would otherwise keep every
event waiting for months; once enabled, it sees the events from then on.

Once per cluster, the sweeper: `sweep()` runs its batches under `exclusive_transaction`, so two
sweeps never send the same batch; `sweep_periodically` claims each period in the database
(`ioc_core.tasks.periodic`), so however many chains were started, one sweep runs per period.
A chain lost with the broker's messages (a Redis restart) is sent again by the workers'
watchdog (`ioc_core.tasks.watchdog`) once the sweep is two periods late.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import dramatiq
from piccolo.engine import engine_finder

from ioc_core.db.migrate import exclusive_transaction
from ioc_core.db.postgres import NO_FLUSH
from ioc_core.db.transactions import write_transaction
from ioc_core.incidents.tables import HandledEvent, OutboxEvent
from ioc_core.plugins.registry import PluginRegistry
from ioc_core.plugins.state import PluginStates
from ioc_core.tasks.gate import states_of
from ioc_core.tasks.periodic import chain, claim_period
from ioc_core.tasks.task import TaskNotBound, task

Handler = Callable[[dict[str, Any]], Awaitable[None]]

log = logging.getLogger(__name__)

# An event still undispatched this long after its commit was abandoned by its dispatcher
# (broker down, process killed); a younger one may still be on its way.
SWEEP_OLDER_THAN_S = 30.0
# How often the periodic sweeper runs, cluster-wide.
SWEEP_EVERY_S = 15.0
# Events sent per sweep transaction: the sweep lock is held while they are sent.
SWEEP_BATCH = 100
# A send slower than this counts as failed, so a hung broker connection cannot keep the sweep
# lock (and on SQLite the write lock) for long; the event is simply sent again later.
SEND_TIMEOUT_S = 5.0
# The periodic sweeper's name in periodic_run.
SWEEPER = "incidents.sweep_periodically"
# Column lengths in ioc_core.incidents.tables; PostgreSQL refuses longer values, SQLite not.
TOPIC_MAX = 64
HANDLER_NAME_MAX = 128


class HandlerFailed(Exception):
    """Some handlers of an event raised; the message is retried and runs only those again."""


async def emit(topic: str, payload: dict[str, Any]) -> int:
    """Record a domain event; return its id, to pass to `dispatch` after the commit.

    Call it inside the transaction of the change (`async with write_transaction():` or
    `engine.transaction()`): Piccolo shares the open transaction through a contextvar, so the
    event commits or rolls back with the change. Outside a transaction it raises, because an
    event committed without its change (or a change without its event) is the bug the outbox
    exists to prevent. `payload` must be JSON-serialisable.
    """
    engine = engine_finder()
    if engine is None or not engine.transaction_exists():
        raise RuntimeError("outbox.emit() must run inside the transaction of the change")
    if not 0 < len(topic) <= TOPIC_MAX:
        raise ValueError(f"topic must be 1 to {TOPIC_MAX} characters: {topic!r}")
    rows = await OutboxEvent.insert(OutboxEvent(topic=topic, payload=payload, created_at=_now()))
    return int(rows[0]["id"])


async def dispatch(event_ids: Iterable[int]) -> int:
    """Send each event to the workers, after the commit; return how many were sent.

    Never raises for an unreachable broker or database: the change is committed and the request
    that made it must succeed. What was not sent stays undispatched, and `sweep` sends it.
    """
    ids = list(event_ids)
    if not ids:
        return 0
    engine = engine_finder()
    if engine is not None and engine.transaction_exists():
        # A worker could run the event before the commit and find nothing.
        raise RuntimeError("outbox.dispatch() must run after the transaction of emit() commits")
    try:
        return len(await _send(ids))
    except TaskNotBound:
        raise
    except Exception:
        log.warning("outbox: events %s not recorded as sent; the sweeper will send them", ids)
        return 0


async def sweep(older_than_s: float = SWEEP_OLDER_THAN_S) -> int:
    """Send the events still undispatched `older_than_s` seconds after their commit; return how
    many were sent. Concurrent sweeps (threads, processes, machines) take turns, batch by batch,
    under `exclusive_transaction`, and each finds what the previous one sent marked."""
    engine = engine_finder()
    if engine is not None and engine.transaction_exists():
        raise RuntimeError("outbox.sweep() takes its own lock: call it outside a transaction")
    cutoff = _now() - dt.timedelta(seconds=older_than_s)
    total = 0
    while True:
        async with exclusive_transaction():
            rows = await (
                OutboxEvent.select(OutboxEvent.id)
                .where(OutboxEvent.dispatched_at.is_null(), OutboxEvent.created_at <= cutoff)
                .order_by(OutboxEvent.id)
                .limit(SWEEP_BATCH)
            )
            ids = [row["id"] for row in rows]
            sent = await _send(ids)
        total += len(sent)
        if len(ids) < SWEEP_BATCH or len(sent) < len(ids):
            break
    if total:
        log.info("outbox: sweep re-dispatched %d events", total)
    return total


async def undispatched(older_than_s: float = 0) -> int:
    """How many events are still undispatched `older_than_s` seconds after their commit."""
    cutoff = _now() - dt.timedelta(seconds=older_than_s)
    return await OutboxEvent.count().where(
        OutboxEvent.dispatched_at.is_null(), OutboxEvent.created_at <= cutoff
    )


async def _send(event_ids: Sequence[int]) -> list[int]:
    """Send events in order until one fails (the broker is then likely down for the rest too);
    record the sent ones as dispatched, and count an attempt for each tried."""
    if not event_ids:  # a sweep that found nothing: no thread to start
        return []
    batch = _Batch(event_ids)
    # One thread for the whole batch: the broker client blocks, and in a worker this loop is
    # shared by every async actor; a hop to a thread and back per event cost more than the send.
    sending = asyncio.ensure_future(asyncio.to_thread(batch.run))
    try:
        # A send slower than SEND_TIMEOUT_S counts as failed, however many went before it.
        while (remaining := batch.last_progress + SEND_TIMEOUT_S - time.monotonic()) > 0:
            done, _ = await asyncio.wait({sending}, timeout=remaining)
            if done:
                break
    finally:
        # Also on a cancellation: the thread must not go on sending what will not be marked.
        sent = batch.stop()
    if sending.done() and isinstance(unbound := sending.exception(), TaskNotBound):
        raise unbound
    if len(sent) < len(event_ids):
        error = batch.error or TimeoutError(f"no answer within {SEND_TIMEOUT_S:g} s")
        log.warning(
            "outbox: broker unreachable (%s: %s); events left for the sweeper: %d",
            type(error).__name__,
            error,
            len(event_ids) - len(sent),
        )
    # Marked after sending: a crash in between means a second send, never a lost event.
    if sent:
        await _mark_dispatched(sent)
    if len(sent) < len(event_ids):
        # The event being sent when the broker failed: its attempt counts.
        failed = event_ids[len(sent)]
        await OutboxEvent.update({OutboxEvent.attempts: OutboxEvent.attempts + 1}).where(
            OutboxEvent.id == failed
        )
    return sent


async def _mark_dispatched(event_ids: Sequence[int]) -> None:
    """Record the events as dispatched, with one more attempt each.

    On PostgreSQL without waiting for the commit to reach the disk: `synchronous_commit` is
    off for the transaction the statement runs in (its own, or a sweep's batch, which does
    nothing else that must be durable). A mark lost in a server crash only means a second
    send, and the flush was most of what marking cost after every change. SQLite cannot change
    its setting inside a transaction, and on a kept connection it would outlive the statement."""
    now = _now()
    engine = OutboxEvent._meta.db
    if engine.engine_type == "postgres":
        await OutboxEvent.raw(
            f"UPDATE {OutboxEvent._meta.tablename}"
            " SET dispatched_at = {}, attempts = attempts + 1"
            f" WHERE id = ANY({{}}) AND {NO_FLUSH}",
            now,
            list(event_ids),
        )
        return
    await OutboxEvent.update(
        {OutboxEvent.dispatched_at: now, OutboxEvent.attempts: OutboxEvent.attempts + 1}
    ).where(OutboxEvent.id.is_in(list(event_ids)))


class _Batch:
    """Events sent one after the other in a thread, until one fails or the caller stops it.

    What `stop` returns is what gets marked dispatched: a send that completes after it (the one
    that was hanging) is not in it, and is sent again by the sweep; none starts after it."""

    def __init__(self, event_ids: Sequence[int]) -> None:
        self.event_ids = event_ids
        self.last_progress = time.monotonic()
        self.error: Exception | None = None
        self._sent: list[int] = []
        self._stopped = False
        self._lock = threading.Lock()

    def run(self) -> None:
        for event_id in self.event_ids:
            with self._lock:
                if self._stopped:
                    return
            try:
                deliver.send(event_id)
            except TaskNotBound:
                raise
            except Exception as exc:  # whatever the broker raised, the sweeper will try again
                self.error = exc
                return
            with self._lock:
                # Appended after a stop too, harmlessly: `stop` returned its own copy.
                self._sent.append(event_id)
                self.last_progress = time.monotonic()

    def stop(self) -> list[int]:
        """Stop sending; the events sent until now."""
        with self._lock:
            self._stopped = True
            return list(self._sent)


# Backoff from 1 s doubling to 10 min: about 9 hours of retries before the message is left as a
# dead letter in the broker; handlers that succeeded are not run again on a retry.
@task(queue="events", min_backoff=1_000, max_backoff=600_000, max_retries=60)
async def deliver(event_id: int) -> None:
    """Run every enabled plugin's handlers of the event's topic that have not handled it yet."""
    event = await (
        OutboxEvent.select(OutboxEvent.topic, OutboxEvent.payload)
        .where(OutboxEvent.id == event_id)
        .output(load_json=True)
        .first()
    )
    if event is None:
        # dispatch() refuses to run inside the transaction, so the event was rolled back by
        # hand or deleted: there is nothing left to deliver.
        log.warning("outbox: event %s not found; nothing to deliver", event_id)
        return
    registry, states = _runtime()
    failed: list[str] = []
    for plugin, handlers in _handlers(registry, event["topic"]).items():
        if not await states.is_enabled(plugin):
            continue
        for name, handler in handlers:
            try:
                await _handle_once(name, event_id, handler, event["payload"])
            except Exception:  # the others still run; this one runs again on the retry
                log.exception("outbox: handler %s failed on event %s", name, event_id)
                failed.append(name)
    if failed:
        raise HandlerFailed(f"event {event_id} ({event['topic']}): {', '.join(failed)}")


async def _handle_once(name: str, event_id: int, handler: Handler, payload: Any) -> bool:
    """Run `handler` unless it already handled the event; False when it had."""
    async with write_transaction():
        # Inserted first: a concurrent delivery of the same event waits on the unique index
        # until this transaction ends, then finds the row (or, after a rollback, takes over).
        claimed = await HandledEvent.insert(
            HandledEvent(handler=name, event=event_id, at=_now())
        ).on_conflict(target=(HandledEvent.handler, HandledEvent.event), action="DO NOTHING")
        if not claimed:
            return False
        # A copy: a handler that changes its payload must not change the next one's.
        await handler(copy.deepcopy(payload))
    return True


def _runtime() -> tuple[PluginRegistry, PluginStates]:
    broker = deliver.actor.broker if deliver.actor is not None else dramatiq.get_broker()
    states = states_of(broker)
    return states.registry, states


def _handlers(registry: PluginRegistry, topic: str) -> dict[str, list[tuple[str, Handler]]]:
    """Handlers of `topic` by plugin, in plugin order, each with its name."""
    found: dict[str, list[tuple[str, Handler]]] = {}
    for plugin, answers in registry.per_plugin("event_handlers").items():
        for answer in answers:
            for handler in (answer or {}).get(topic, ()):
                found.setdefault(plugin, []).append((handler_name(handler), handler))
    return found


def handler_name(handler: Callable[..., Any]) -> str:
    """`module.qualname`, as recorded in `handled_event`; shortened with a hash past 128."""
    module = getattr(handler, "__module__", None) or type(handler).__module__
    qualname = getattr(handler, "__qualname__", None) or type(handler).__qualname__
    name = f"{module}.{qualname}"
    if len(name) > HANDLER_NAME_MAX:
        digest = hashlib.sha1(name.encode()).hexdigest()[:16]
        name = f"{name[: HANDLER_NAME_MAX - len(digest) - 1]}~{digest}"
    return name


# No retry limit: the chain must outlive a long database or broker outage.
@chain(SWEEPER, SWEEP_EVERY_S)
@task(queue="events", max_retries=None, min_backoff=1_000, max_backoff=60_000)
async def sweep_periodically() -> None:
    """Sweep, once per SWEEP_EVERY_S seconds across the cluster (see `claim_period`)."""
    if not await claim_period(SWEEPER, SWEEP_EVERY_S, sweep_periodically):
        return
    try:
        await sweep(SWEEP_OLDER_THAN_S)
    except Exception:  # not retried: the next period's sweep tries again
        log.exception("outbox: periodic sweep failed")


def start_sweeper() -> None:
    """Start a periodic sweeper chain. Safe to call on every worker start: a chain started while
    another runs ends at its first run."""
    sweep_periodically.send()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
