"""IOC_BROKER_HEARTBEAT_TIMEOUT_S: how soon a dead Redis worker's messages come back."""

from __future__ import annotations

from pathlib import Path

import pytest
from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker

from ioc_core.settings import Settings, SettingsError
from ioc_core.tasks.broker import maintenance_chance, make_broker


def load(tmp_path: Path, **env: str) -> Settings:
    return Settings.load({"IOC_VAR_DIR": str(tmp_path), **env})


def test_the_heartbeat_timeout_defaults_to_a_minute_and_is_checked(tmp_path: Path) -> None:
    assert load(tmp_path).broker_heartbeat_timeout_s == 60.0
    assert load(tmp_path, IOC_BROKER_HEARTBEAT_TIMEOUT_S="7.5").broker_heartbeat_timeout_s == 7.5
    for bad, problem in (("1", "at least 2 seconds"), ("soon", "is not a number")):
        with pytest.raises(SettingsError, match=problem) as refused:
            load(tmp_path, IOC_BROKER_HEARTBEAT_TIMEOUT_S=bad)
        assert refused.value.setting == "IOC_BROKER_HEARTBEAT_TIMEOUT_S"


def test_maintenance_runs_about_four_times_per_timeout_on_an_idle_queue() -> None:
    # An idle consumer polls about once a second.
    assert maintenance_chance(60) == round(MAINTENANCE_SCALE / 15)
    assert maintenance_chance(4) == MAINTENANCE_SCALE
    assert maintenance_chance(3) == MAINTENANCE_SCALE
    assert maintenance_chance(3600) == round(MAINTENANCE_SCALE / 900)


def test_the_redis_broker_gets_the_timeout(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        IOC_BROKER_URL="redis://127.0.0.1:1/0",  # nothing is sent: no server needed
        IOC_BROKER_HEARTBEAT_TIMEOUT_S="4",
    )
    broker = make_broker(settings)
    try:
        assert isinstance(broker, RedisBroker)
        assert broker.heartbeat_timeout == 4000
        assert broker.maintenance_chance == MAINTENANCE_SCALE
    finally:
        broker.close()
