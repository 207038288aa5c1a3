"""Plugin tasks: functions declared once, bound as dramatiq actors named after their plugin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, overload

import dramatiq


class TaskNotBound(RuntimeError):
    pass


@dataclass(frozen=True)
class Period:
    """The job a periodic chain runs (`ioc_core.tasks.periodic`): its row in periodic_run and
    how often it runs."""

    name: str
    every_s: float


class Task:
    """A plugin's background job, bound to this process's broker as `<plugin>.<function name>`
    on queue `<plugin>.<queue>` when the app or worker starts."""

    def __init__(self, fn: Callable[..., Any], queue: str, options: dict[str, Any]) -> None:
        self.fn = fn
        self.queue = queue
        self.options = options
        self.actor: dramatiq.Actor[Any, Any] | None = None
        # Set on a periodic chain, so workers can restart it when it is lost.
        self.period: Period | None = None

    def bind(self, broker: dramatiq.Broker, plugin: str) -> dramatiq.Actor[Any, Any]:
        self.actor = dramatiq.Actor(
            self.fn,
            broker=broker,
            actor_name=f"{plugin}.{self.fn.__name__}",
            queue_name=f"{plugin}.{self.queue}",
            priority=0,
            options=dict(self.options),
        )
        return self.actor

    def _bound(self) -> dramatiq.Actor[Any, Any]:
        if self.actor is None:
            raise TaskNotBound(f"task {self.fn.__name__} is used before the app or worker started")
        return self.actor

    def send(self, *args: Any, **kwargs: Any) -> dramatiq.Message[Any]:
        return self._bound().send(*args, **kwargs)

    def send_with_options(self, *, args: tuple[Any, ...] = (), **options: Any) -> Any:
        return self._bound().send_with_options(args=args, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


@overload
def task(fn: Callable[..., Any], /) -> Task: ...
@overload
def task(*, queue: str = "default", **options: Any) -> Callable[[Callable[..., Any]], Task]: ...
def task(
    fn: Callable[..., Any] | None = None, /, *, queue: str = "default", **options: Any
) -> Task | Callable[[Callable[..., Any]], Task]:
    """Declare a background task; return it from the plugin's `tasks` hook."""
    if fn is not None:
        return Task(fn, queue, options)
    return lambda f: Task(f, queue, options)
