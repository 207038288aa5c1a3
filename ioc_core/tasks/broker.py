"""The dramatiq broker named by IOC_BROKER_URL, with the platform's middleware."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, default_middleware

from ioc_core.settings import Settings
from ioc_core.tasks.sqlite_broker import SQLiteBroker


def make_broker(settings: Settings, middleware: list[dramatiq.Middleware] = ()) -> dramatiq.Broker:
    """A new broker for this process, also made dramatiq's global one (actors send through it)."""
    stack = [m() for m in default_middleware] + [AsyncIO(), *middleware]
    url = settings.broker_url
    broker: dramatiq.Broker
    if settings.is_embedded_broker:
        settings.embedded_broker_path.parent.mkdir(parents=True, exist_ok=True)
        broker = SQLiteBroker(settings.embedded_broker_path, middleware=stack)
    elif url.startswith(("redis://", "rediss://")):
        broker = RedisBroker(url=url, middleware=stack)
    else:
        broker = RabbitmqBroker(url=url, middleware=stack)
    dramatiq.set_broker(broker)
    return broker


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
