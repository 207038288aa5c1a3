"""Plugin tasks on the broker under test: namespaced, gated by plugin state, run by `ioc worker`."""

import signal
import subprocess
import time

from ioc_core.plugins import lifecycle
from ioc_core.runtime import Runtime
from tests.helpers import run, wait_until, worker
from tests.processes import IOC, serving


def recorded_keys() -> set[str]:
    from ioc_sample_reports.piccolo_app import SampleTaskRun

    return {r["key"] for r in run(SampleTaskRun.select(SampleTaskRun.key))}


def test_actor_and_queue_are_named_after_the_plugin(runtime: Runtime) -> None:
    from ioc_sample_reports import record

    assert record.actor is not None
    assert record.actor.actor_name == "sample_reports.record"
    assert record.actor.queue_name == "sample_reports.notes"
    assert "sample_reports.notes" in runtime.broker.get_declared_queues()


def test_task_runs_on_a_worker(runtime: Runtime) -> None:
    from ioc_sample_reports import record

    run(lifecycle.enable(runtime.registry, "sample_reports", "tester"))
    with worker(runtime):
        for key in ("a", "b", "a"):
            record.send(key)
        assert wait_until(lambda: recorded_keys() == {"a", "b"})


def test_disabled_plugin_messages_wait_and_are_not_lost(runtime: Runtime) -> None:
    from ioc_sample_reports import record

    run(lifecycle.enable(runtime.registry, "sample_reports", "tester"))
    run(lifecycle.disable(runtime.registry, "sample_reports", "tester"))
    with worker(runtime):
        record.send("parked")
        time.sleep(1.5)  # several park cycles (200 ms each in tests)
        assert recorded_keys() == set()
        run(lifecycle.enable(runtime.registry, "sample_reports", "tester"))
        assert wait_until(lambda: recorded_keys() == {"parked"})


def test_ioc_worker_process_runs_tasks_and_stops_on_sigterm(
    runtime: Runtime, subprocess_env: dict[str, str]
) -> None:
    from ioc_sample_reports import record

    run(lifecycle.enable(runtime.registry, "sample_reports", "tester"))
    for key in ("x", "y", "z"):
        record.send(key)
    process = subprocess.Popen(
        [IOC, "worker", "--threads", "2"],
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(lambda: recorded_keys() == {"x", "y", "z"})
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "sample_reports.notes" in out.splitlines()[0]
    assert out.splitlines()[-1] == "worker stopped"


def test_serve_runs_workers_only_with_the_embedded_broker(
    runtime: Runtime, subprocess_env: dict[str, str]
) -> None:
    from ioc_sample_reports import record

    run(lifecycle.enable(runtime.registry, "sample_reports", "tester"))
    record.send("served")
    with serving(subprocess_env):
        if runtime.settings.is_embedded_broker:
            assert wait_until(lambda: recorded_keys() == {"served"})
        else:
            time.sleep(2)
            assert recorded_keys() == set(), "a Redis deployment runs `ioc worker` instead"
