"""The dramatiq broker named by IOC_BROKER_URL, with the platform's middleware."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker
from dramatiq.middleware import AsyncIO, default_middleware

from ioc_core.settings import Settings
from ioc_core.tasks.sqlite_broker import SQLiteBroker
from ioc_core.tasks.watchdog import ChainWatchdog

# How often an idle Redis consumer polls its queue (dramatiq's default worker_timeout).
IDLE_POLL_S = 1.0


def make_broker(settings: Settings, middleware: list[dramatiq.Middleware] = ()) -> dramatiq.Broker:
    """A new broker for this process, also made dramatiq's global one (actors send through it)."""
    stack = [m() for m in default_middleware] + [AsyncIO(), *middleware, ChainWatchdog()]
    url = settings.broker_url
    broker: dramatiq.Broker
    if settings.is_embedded_broker:
        settings.embedded_broker_path.parent.mkdir(parents=True, exist_ok=True)
        broker = SQLiteBroker(settings.embedded_broker_path, middleware=stack)
    elif url.startswith(("redis://", "rediss://")):
        timeout_s = settings.broker_heartbeat_timeout_s
        broker = RedisBroker(
            url=url,
            middleware=stack,
            heartbeat_timeout=int(timeout_s * 1000),
            maintenance_chance=maintenance_chance(timeout_s),
        )
    else:
        broker = RabbitmqBroker(url=url, middleware=stack)
    dramatiq.set_broker(broker)
    return broker


def maintenance_chance(heartbeat_timeout_s: float) -> int:
    """How many of a million Redis commands run the maintenance that re-queues a dead worker's
    unacked messages. Maintenance covers only the queue the command names, and dramatiq's default
    (1 in 1000) leaves a quiet queue's messages with a dead worker for many minutes. Sized so an
    idle consumer's polls run it about four times per heartbeat timeout: the messages come back
    within about 1.25 timeouts. It costs two sorted-set range reads while no worker is dead."""
    polls_per_run = heartbeat_timeout_s / 4 / IDLE_POLL_S
    if polls_per_run <= 1:
        return MAINTENANCE_SCALE
    return max(1, round(MAINTENANCE_SCALE / polls_per_run))


def ping(broker: dramatiq.Broker) -> None:
    """Raise when the broker cannot be reached. Blocking: call it from a thread."""
    if isinstance(broker, SQLiteBroker):
        broker.ping()
    elif isinstance(broker, RedisBroker):
        broker.client.ping()
    elif isinstance(broker, RabbitmqBroker):
        broker.connection.process_data_events(time_limit=0)
    else:
        raise TypeError(f"no health check for {type(broker).__name__}")
