"""A worker process for test_sqlite_broker's kill -9 test; the test SIGKILLs it mid-task.

Usage: python _broker_child.py DB_PATH MARKER_PATH

It enqueues CHILD_ENQUEUED messages on a queue it never consumes (so they are committed,
unconsumed, when it dies), then runs a one-thread Worker whose actor appends
"started <index>" to MARKER_PATH and blocks.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import dramatiq
from dramatiq import Message, Worker

from ioc_core.tasks.sqlite_broker import SQLiteBroker

LEASE_SECONDS = 1.0
CHILD_ENQUEUED = 3
BLOCKING_QUEUE = "blocking"
BLOCKING_ACTOR = "blocking_task"
LATER_QUEUE = "later"
LATER_ACTOR = "later_task"
# Far longer than the test waits, so only the kill ends the task; bounded so a test that
# dies before killing us does not leave this process behind forever.
BLOCK_SECONDS = 60.0


def main(db_path: str, marker_path: str) -> None:
    broker = SQLiteBroker(db_path, lease_seconds=LEASE_SECONDS, poll_interval=0.05)
    marker = Path(marker_path)

    def blocking_task(index: int) -> None:
        with marker.open("a") as f:
            f.write(f"started {index}\n")
        time.sleep(BLOCK_SECONDS)

    dramatiq.actor(
        blocking_task, broker=broker, actor_name=BLOCKING_ACTOR, queue_name=BLOCKING_QUEUE
    )
    for index in range(CHILD_ENQUEUED):
        broker.enqueue(
            Message(
                queue_name=LATER_QUEUE, actor_name=LATER_ACTOR, args=(index,), kwargs={}, options={}
            )
        )

    worker = Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    time.sleep(BLOCK_SECONDS)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
