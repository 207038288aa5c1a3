"""A dramatiq broker that keeps its queues in one SQLite file: the platform's embedded default.

Several processes (a web process enqueueing, workers consuming) share the file. A consumer
claims a message by writing a lease on its row; the row is deleted on ack, kept as a dead
letter on nack, and becomes claimable again when its lease runs out, so a message held by a
process that died (even by kill -9) is delivered again instead of being lost.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dramatiq.broker import Broker, Consumer, MessageProxy
from dramatiq.common import current_millis, dq_name, q_name
from dramatiq.errors import ConnectionClosed, ConnectionFailed, QueueJoinTimeout, QueueNotFound
from dramatiq.message import Message
from dramatiq.middleware import Middleware

# How long a statement waits for another connection's write transaction before failing.
_BUSY_TIMEOUT_SECONDS = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dramatiq_messages (
    -- AUTOINCREMENT so an id is never reused: a late ack or nack naming a row that is
    -- gone must not hit a newer message.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    data BLOB NOT NULL,
    lease_owner TEXT,
    lease_until REAL,
    dead_at REAL
);
CREATE INDEX IF NOT EXISTS dramatiq_messages_by_queue
    ON dramatiq_messages (queue, dead_at, id);
CREATE INDEX IF NOT EXISTS dramatiq_messages_by_lease_owner
    ON dramatiq_messages (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE TABLE IF NOT EXISTS dramatiq_broker_ping (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pinged_at REAL NOT NULL
);
"""

# Leases are compared across processes, so they use wall-clock time, not time.monotonic().
_CLAIM = """
UPDATE dramatiq_messages SET lease_owner = :owner, lease_until = :lease_until
WHERE id IN (
    SELECT id FROM dramatiq_messages
    WHERE queue = :queue AND dead_at IS NULL AND (lease_owner IS NULL OR lease_until < :now)
    ORDER BY id
    LIMIT :limit
)
RETURNING id, data
"""


class SQLiteBroker(Broker):
    """A broker storing messages in the SQLite file at `path` (WAL mode, shared by processes).

    Parameters:
      path: The database file; its folder and the schema are created on first use.
      middleware: See :class:`dramatiq.Broker`.
      lease_seconds: How long a claimed message stays invisible to other consumers without a
        heartbeat from its consumer; after a crash, messages are re-delivered this late.
      poll_interval: Seconds a consumer sleeps between polls of an empty queue.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        middleware: list[Middleware] | None = None,
        lease_seconds: float = 30.0,
        poll_interval: float = 0.1,
    ) -> None:
        # A consumer renews its leases between sleeps, so a sleep as long as half a lease
        # would let leases of live consumers expire.
        if not 0 < poll_interval < lease_seconds / 2:
            raise ValueError("poll_interval must be positive and shorter than lease_seconds / 2")
        super().__init__(middleware=middleware)
        self.path = Path(path)
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.queues: set[str] = set()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 30000) -> Consumer:
        """A consumer holding at most `prefetch` unacked messages of `queue_name`, whose
        `__next__` returns None when no message arrives within `timeout` milliseconds."""
        if queue_name not in self.queues and queue_name not in self.delay_queues:
            raise QueueNotFound(queue_name)
        return _SQLiteConsumer(self, queue_name, prefetch, timeout)

    def declare_queue(self, queue_name: str) -> None:
        if queue_name in self.queues:
            return
        self.emit_before("declare_queue", queue_name)
        self.queues.add(queue_name)
        self.emit_after("declare_queue", queue_name)

        delayed_name = dq_name(queue_name)
        self.delay_queues.add(delayed_name)
        self.emit_after("declare_delay_queue", delayed_name)

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        """Store `message`, committed to disk before returning; with `delay` (milliseconds)
        it goes to the delay queue with an `eta`, which the Worker moves back when due."""
        queue_name = message.queue_name
        if delay is not None:
            queue_name = dq_name(queue_name)
            message = message.copy(queue_name=queue_name, options={"eta": current_millis() + delay})

        self.logger.debug("Enqueueing message %r on queue %r.", message.message_id, queue_name)
        self.emit_before("enqueue", message, delay)
        self._execute(
            "INSERT INTO dramatiq_messages (queue, data) VALUES (?, ?)",
            (queue_name, message.encode()),
        )
        self.emit_after("enqueue", message, delay)
        return message

    def get_declared_queues(self) -> set[str]:
        return self.queues.copy()

    def flush(self, queue_name: str) -> None:
        """Delete every message of `queue_name` and of its delay queue, dead letters included."""
        self._execute(
            "DELETE FROM dramatiq_messages WHERE queue IN (?, ?)",
            (q_name(queue_name), dq_name(queue_name)),
        )

    def flush_all(self) -> None:
        for queue_name in self.queues:
            self.flush(queue_name)

    def join(self, queue_name: str, *, interval: int = 100, timeout: int | None = None) -> None:
        """Wait until `queue_name` and its delay queue hold no message except dead letters.
        Meant for tests.

        Raises:
          QueueJoinTimeout: When `timeout` milliseconds pass first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout / 1000
        while True:
            ((pending,),) = self._execute(
                "SELECT COUNT(*) FROM dramatiq_messages WHERE queue IN (?, ?) AND dead_at IS NULL",
                (q_name(queue_name), dq_name(queue_name)),
            )
            if pending == 0:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise QueueJoinTimeout(queue_name)
            time.sleep(interval / 1000)

    def dead_letters(self, queue_name: str) -> list[Message[Any]]:
        """The nacked messages of `queue_name` and of its delay queue, oldest first, as they
        were when nacked (so with the `traceback` the Retries middleware recorded)."""
        rows = self._execute(
            "SELECT data FROM dramatiq_messages"
            " WHERE queue IN (?, ?) AND dead_at IS NOT NULL ORDER BY id",
            (q_name(queue_name), dq_name(queue_name)),
        )
        return [Message.decode(data) for (data,) in rows]

    def ping(self) -> None:
        """Raise a BrokerConnectionError unless the database file can be opened and written."""
        # A committed write, because a read-only file still opens and even lets
        # BEGIN IMMEDIATE through.
        self._execute(
            "INSERT INTO dramatiq_broker_ping (id, pinged_at) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET pinged_at = excluded.pinged_at",
            (time.time(),),
        )

    def close(self) -> None:
        """Close the connections of every thread; a later use opens new ones."""
        with self._connections_lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        for connection in connections:
            connection.close()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            with self._connections_lock:
                self._connections.append(connection)
                self._local.connection = connection
        return connection

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: each statement is its own transaction, so a claim is atomic and an
            # INSERT is committed when execute() returns. check_same_thread=False only lets
            # close() close other threads' connections; each one is used by its thread alone.
            connection = sqlite3.connect(
                self.path,
                timeout=_BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                connection.execute("PRAGMA journal_mode = WAL")
                # FULL syncs the WAL on every commit: an enqueued message then survives a
                # power cut too, not only the death of a process.
                connection.execute("PRAGMA synchronous = FULL")
                connection.executescript(_SCHEMA)
            except sqlite3.Error:
                connection.close()
                raise
        except (OSError, sqlite3.Error) as e:
            raise ConnectionFailed(f"cannot open SQLite broker database {self.path}: {e}") from e
        return connection

    def _execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        # Errors become BrokerConnectionError, which the Worker handles (retrying an ack,
        # restarting a consumer) instead of treating them as bugs.
        try:
            # fetchall() runs the statement to completion, which is what commits an
            # UPDATE ... RETURNING in autocommit mode.
            return self._connection().execute(sql, parameters).fetchall()
        except sqlite3.Error as e:
            raise ConnectionClosed(f"SQLite broker database {self.path}: {e}") from e


class _SQLiteMessageProxy(MessageProxy):
    def __init__(self, message: Message[Any], row_id: int) -> None:
        super().__init__(message)
        self.row_id = row_id


def _row_id(message: MessageProxy) -> int:
    if not isinstance(message, _SQLiteMessageProxy):
        raise TypeError(f"{message!r} was not consumed from an SQLiteBroker")
    return message.row_id


class _SQLiteConsumer(Consumer):
    # The Worker acks and nacks from its worker threads while its consumer thread polls, so
    # the set of held rows is guarded by a lock.

    def __init__(self, broker: SQLiteBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        self.broker = broker
        self.queue_name = queue_name
        self.prefetch = prefetch
        self.timeout = timeout
        self.owner = uuid.uuid4().hex
        self._held: set[int] = set()
        self._held_lock = threading.Lock()
        # Claimed in one batch, handed out one per __next__.
        self._claimed: deque[_SQLiteMessageProxy] = deque()
        self._last_renewal = time.monotonic()

    def __next__(self) -> MessageProxy | None:
        deadline = time.monotonic() + self.timeout / 1000
        while True:
            self._renew_leases()
            if not self._claimed:
                self._claim()
            if self._claimed:
                return self._claimed.popleft()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(self.broker.poll_interval, remaining))

    def ack(self, message: MessageProxy) -> None:
        # Deleted whoever holds the lease now: the work is done, and a consumer that took the
        # row over after our lease lapsed will find nothing to ack, which is harmless.
        row_id = _row_id(message)
        self.broker._execute("DELETE FROM dramatiq_messages WHERE id = ?", (row_id,))
        with self._held_lock:
            self._held.discard(row_id)

    def nack(self, message: MessageProxy) -> None:
        # The message as the middleware left it, so the dead letter keeps its traceback.
        row_id = _row_id(message)
        self.broker._execute(
            "UPDATE dramatiq_messages SET data = ?, dead_at = ?, lease_owner = NULL,"
            " lease_until = NULL WHERE id = ?",
            (message.encode(), time.time(), row_id),
        )
        with self._held_lock:
            self._held.discard(row_id)

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        row_ids = [_row_id(message) for message in messages]
        if not row_ids:
            return
        # Only our own leases: if one lapsed and another consumer took the row, it keeps it.
        self.broker._execute(
            "UPDATE dramatiq_messages SET lease_owner = NULL, lease_until = NULL"
            " WHERE lease_owner = ? AND id IN (SELECT value FROM json_each(?))",
            (self.owner, json.dumps(row_ids)),
        )
        with self._held_lock:
            self._held.difference_update(row_ids)

    def close(self) -> None:
        self.broker._execute(
            "UPDATE dramatiq_messages SET lease_owner = NULL, lease_until = NULL"
            " WHERE lease_owner = ?",
            (self.owner,),
        )
        with self._held_lock:
            self._held.clear()
        self._claimed.clear()

    def _claim(self) -> None:
        with self._held_lock:
            room = self.prefetch - len(self._held)
        if room <= 0:
            return
        now = time.time()
        rows = self.broker._execute(
            _CLAIM,
            {
                "owner": self.owner,
                "lease_until": now + self.broker.lease_seconds,
                "queue": self.queue_name,
                "now": now,
                "limit": room,
            },
        )
        # RETURNING gives rows in no set order; hand them out oldest first.
        rows.sort()
        with self._held_lock:
            self._held.update(row_id for row_id, _ in rows)
        self._claimed.extend(
            _SQLiteMessageProxy(Message.decode(data), row_id) for row_id, data in rows
        )

    def _renew_leases(self) -> None:
        # Checked on every poll but written every quarter lease only: each write is a synced
        # commit, and a quarter lease leaves ample margin before expiry.
        now = time.monotonic()
        if now - self._last_renewal < self.broker.lease_seconds / 4:
            return
        with self._held_lock:
            holding = bool(self._held)
        if holding:
            self.broker._execute(
                "UPDATE dramatiq_messages SET lease_until = ? WHERE lease_owner = ?",
                (time.time() + self.broker.lease_seconds, self.owner),
            )
        self._last_renewal = now
