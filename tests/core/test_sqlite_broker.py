"""SQLiteBroker against real SQLite files and real dramatiq Workers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from dramatiq import Message, MessageProxy, Worker
from dramatiq.common import current_millis
from dramatiq.errors import ConnectionFailed, QueueJoinTimeout, QueueNotFound

from ioc_core.tasks.sqlite_broker import SQLiteBroker
from tests.core import _broker_child as child_script

PROJECT_ROOT = Path(__file__).resolve().parents[2]
JOIN_TIMEOUT_MS = 15_000

BrokerFactory = Callable[..., SQLiteBroker]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    # A folder that does not exist yet: the broker must create it.
    return tmp_path / "queue" / "broker.db"


@pytest.fixture
def make_broker(db_path: Path) -> Iterator[BrokerFactory]:
    """Brokers on the same file, as separate processes would open it."""
    brokers: list[SQLiteBroker] = []

    def make(**kwargs: Any) -> SQLiteBroker:
        broker = SQLiteBroker(db_path, poll_interval=0.02, **kwargs)
        brokers.append(broker)
        return broker

    yield make
    for broker in brokers:
        broker.close()


@contextmanager
def running_worker(broker: SQLiteBroker, threads: int = 2) -> Iterator[Worker]:
    worker = Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop(timeout=10_000)


def raw_message(queue_name: str, index: int, actor_name: str = "unused") -> Message[Any]:
    return Message(
        queue_name=queue_name, actor_name=actor_name, args=(index,), kwargs={}, options={}
    )


def drain(consumer: Iterator[MessageProxy | None], most: int = 20) -> list[MessageProxy]:
    """The messages a consumer hands out until it times out once."""
    taken = []
    for _ in range(most):
        message = next(consumer)
        if message is None:
            return taken
        taken.append(message)
    pytest.fail(f"the consumer handed out more than {most} messages")


def test_worker_processes_an_enqueued_message_and_join_waits_for_it(
    make_broker: BrokerFactory,
) -> None:
    broker = make_broker()
    seen: list[str] = []

    def record(value: str) -> None:
        seen.append(value)

    actor = dramatiq.actor(record, broker=broker, actor_name="record", queue_name="basic")
    actor.send("hello")

    # Nobody consumes yet, so join must wait on the stored message and time out.
    with pytest.raises(QueueJoinTimeout):
        broker.join("basic", timeout=200)
    assert seen == []

    with running_worker(broker):
        broker.join("basic", timeout=JOIN_TIMEOUT_MS)
        assert seen == ["hello"]

    # Acked, so gone from the file rather than kept as a dead letter.
    assert broker.dead_letters("basic") == []
    make_broker().join("basic", timeout=0)


def test_delayed_message_runs_only_once_its_delay_has_passed(make_broker: BrokerFactory) -> None:
    broker = make_broker()
    ran_at_ms: list[int] = []

    def record_time() -> None:
        ran_at_ms.append(current_millis())

    actor = dramatiq.actor(record_time, broker=broker, actor_name="timed", queue_name="delayed")
    message = actor.send_with_options(delay=1000)
    assert message.queue_name == "delayed.DQ"

    with running_worker(broker):
        time.sleep(0.5)
        assert ran_at_ms == []
        broker.join("delayed", timeout=JOIN_TIMEOUT_MS)

    assert len(ran_at_ms) == 1
    assert ran_at_ms[0] >= message.options["eta"]


def test_two_brokers_on_one_file_deliver_each_message_exactly_once(
    make_broker: BrokerFactory,
) -> None:
    count = 200
    records: list[tuple[str, int]] = []

    def declare(broker: SQLiteBroker, name: str) -> dramatiq.Actor[[int], None]:
        def record(index: int) -> None:
            # Long enough that one worker cannot drain the queue before the other starts.
            time.sleep(0.01)
            records.append((name, index))

        return dramatiq.actor(
            record, broker=broker, actor_name="record", queue_name="shared", max_retries=0
        )

    first, second = make_broker(), make_broker()
    actor = declare(first, "first")
    declare(second, "second")
    for index in range(count):
        actor.send(index)

    with running_worker(first, threads=4), running_worker(second, threads=4):
        first.join("shared", timeout=JOIN_TIMEOUT_MS)

    assert sorted(index for _, index in records) == list(range(count))
    # Otherwise the test proved nothing about two consumers competing.
    assert {name for name, _ in records} == {"first", "second"}


def test_consumer_respects_prefetch_and_timeout_and_releases_on_requeue_and_close(
    make_broker: BrokerFactory,
) -> None:
    broker = make_broker()
    broker.declare_queue("contract")
    for index in range(3):
        broker.enqueue(raw_message("contract", index))

    first = broker.consume("contract", prefetch=2, timeout=200)
    zero, one = next(first), next(first)
    assert (zero.args, one.args) == ((0,), (1,))
    started = time.monotonic()
    assert next(first) is None, "a third message would exceed prefetch=2"
    assert time.monotonic() - started >= 0.2

    second = broker.consume("contract", prefetch=5, timeout=200)
    assert [m.args for m in drain(second)] == [(2,)]

    first.requeue([zero])
    assert [m.args for m in drain(second)] == [(0,)]
    first.ack(one)
    first.close()

    second.close()
    third = broker.consume("contract", prefetch=5, timeout=200)
    released = drain(third)
    assert [m.args for m in released] == [(0,), (2,)]
    for message in released:
        third.ack(message)
    broker.join("contract", timeout=0)

    with pytest.raises(QueueNotFound):
        broker.consume("never-declared")


def test_empty_queue_poll_returns_none_after_timeout_without_spinning(
    make_broker: BrokerFactory,
) -> None:
    broker = make_broker()
    broker.declare_queue("empty")
    consumer = broker.consume("empty", timeout=500)

    wall_started, cpu_started = time.monotonic(), time.process_time()
    assert next(consumer) is None
    wall, cpu = time.monotonic() - wall_started, time.process_time() - cpu_started

    assert wall >= 0.5
    # A busy loop would burn about the whole half second; polling every 20 ms costs little.
    assert cpu < 0.2, f"{cpu:.3f} s of CPU in {wall:.3f} s of waiting"


def test_kill_9_mid_task_loses_no_message(
    tmp_path: Path, db_path: Path, make_broker: BrokerFactory
) -> None:
    # Stands in for a web process: it enqueues, and checks the child's lease stays alive.
    enqueuer = make_broker()
    enqueuer.declare_queue(child_script.BLOCKING_QUEUE)
    for index in range(5):
        enqueuer.enqueue(
            raw_message(child_script.BLOCKING_QUEUE, index, actor_name=child_script.BLOCKING_ACTOR)
        )

    marker = tmp_path / "started.txt"
    child_log = tmp_path / "child.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.getenv("PYTHONPATH")])),
        # The child holds only the message it runs, so the others stay claimable.
        "dramatiq_queue_prefetch": "1",
    }
    with child_log.open("w") as log:
        child = subprocess.Popen(
            [sys.executable, child_script.__file__, str(db_path), str(marker)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while not (marker.exists() and marker.read_text() == "started 0\n"):
            if child.poll() is not None or time.monotonic() >= deadline:
                pytest.fail(f"child never started message 0:\n{child_log.read_text()}")
            time.sleep(0.02)

        # Without heartbeats the child's lease on message 0 would have lapsed by now.
        time.sleep(2 * child_script.LEASE_SECONDS)
        assert child.poll() is None
        consumer = enqueuer.consume(child_script.BLOCKING_QUEUE, prefetch=10, timeout=300)
        assert [m.args for m in drain(consumer)] == [(1,), (2,), (3,), (4,)]
        consumer.close()

        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    # A fresh broker after the "restart" shares nothing with the others but the file.
    restarted = make_broker(lease_seconds=child_script.LEASE_SECONDS)
    completed: list[int] = []
    later: list[int] = []

    def blocking_task(index: int) -> None:
        completed.append(index)

    def later_task(index: int) -> None:
        later.append(index)

    dramatiq.actor(
        blocking_task,
        broker=restarted,
        actor_name=child_script.BLOCKING_ACTOR,
        queue_name=child_script.BLOCKING_QUEUE,
    )
    dramatiq.actor(
        later_task,
        broker=restarted,
        actor_name=child_script.LATER_ACTOR,
        queue_name=child_script.LATER_QUEUE,
    )
    with running_worker(restarted):
        restarted.join(child_script.BLOCKING_QUEUE, timeout=JOIN_TIMEOUT_MS)
        restarted.join(child_script.LATER_QUEUE, timeout=JOIN_TIMEOUT_MS)

    assert sorted(completed) == [0, 1, 2, 3, 4]
    assert sorted(later) == list(range(child_script.CHILD_ENQUEUED))
    assert marker.read_text() == "started 0\n"


def test_failing_actor_without_retries_ends_as_a_dead_letter_in_the_file(
    make_broker: BrokerFactory,
) -> None:
    broker = make_broker()

    def explode() -> None:
        raise RuntimeError("boom")

    actor = dramatiq.actor(
        explode, broker=broker, actor_name="explode", queue_name="failing", max_retries=0
    )
    message = actor.send()
    with running_worker(broker):
        broker.join("failing", timeout=JOIN_TIMEOUT_MS)
    broker.close()

    dead = make_broker().dead_letters("failing")
    assert [m.message_id for m in dead] == [message.message_id]
    assert "RuntimeError: boom" in dead[0].options["traceback"]


def test_ping_succeeds_on_a_writable_path(db_path: Path) -> None:
    broker = SQLiteBroker(db_path)
    try:
        assert broker.ping() is None
        assert db_path.is_file()
    finally:
        broker.close()


@pytest.mark.parametrize("case", ["path under a regular file", "file is not a database"])
def test_ping_fails_clearly_when_the_file_cannot_be_used(tmp_path: Path, case: str) -> None:
    if case == "path under a regular file":
        (tmp_path / "blocker").write_text("")
        path = tmp_path / "blocker" / "broker.db"
    else:
        path = tmp_path / "broker.db"
        path.write_bytes(b"not sqlite" * 100)
    broker = SQLiteBroker(path)
    try:
        with pytest.raises(
            ConnectionFailed, match=re.escape(f"cannot open SQLite broker database {path}")
        ):
            broker.ping()
    finally:
        broker.close()
