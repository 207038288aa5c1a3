import os
import stat
import subprocess
from pathlib import Path

import pytest

from ioc_core.settings import Settings, SettingsError
from tests.processes import IOC


def test_defaults_are_embedded_and_under_var(tmp_path: Path) -> None:
    settings = Settings.load({"IOC_VAR_DIR": str(tmp_path / "var")})
    assert settings.is_sqlite and settings.sqlite_path == tmp_path / "var" / "ioc.sqlite3"
    assert settings.is_embedded_broker
    assert settings.embedded_broker_path == tmp_path / "var" / "queue.sqlite3"
    assert settings.plugins is None


def test_secret_key_generated_once_kept_private(tmp_path: Path) -> None:
    env = {"IOC_VAR_DIR": str(tmp_path)}
    first = Settings.load(env)
    key_file = tmp_path / "secret_key"
    assert len(first.secret_key) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Settings.load(env).secret_key == first.secret_key
    assert first.secret_key not in repr(first)


def test_environment_overrides_config_file(tmp_path: Path) -> None:
    config = tmp_path / "ioc.toml"
    config.write_text(
        'broker_url = "redis://127.0.0.1:6379/3"\n'
        'plugins = ["field_reports"]\n'
        '[phases.pilot]\nplugins = ["field_reports"]\n'
        "[plugin.field_reports]\nduplicate_radius_m = 50\n"
    )
    env = {"IOC_CONFIG": str(config), "IOC_VAR_DIR": str(tmp_path), "IOC_PLUGINS": "a,b"}
    settings = Settings.load(env)
    assert settings.broker_url == "redis://127.0.0.1:6379/3"
    assert settings.plugins == ("a", "b")
    assert settings.phases == {"pilot": ("field_reports",)}
    assert settings.plugin_settings["field_reports"]["duplicate_radius_m"] == 50


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"IOC_DATABASE_URL": "mysql://localhost/x"}, "IOC_DATABASE_URL"),
        ({"IOC_DATABASE_URL": "postgresql://localhost"}, "IOC_DATABASE_URL"),
        ({"IOC_BROKER_URL": "kafka://localhost"}, "IOC_BROKER_URL"),
        ({"IOC_SECRET_KEY": "short"}, "IOC_SECRET_KEY"),
        ({"IOC_PLUGINS": "good,bad name"}, "IOC_PLUGINS"),
        ({"IOC_PLUGIN_STATE_TTL": "soon"}, "IOC_PLUGIN_STATE_TTL"),
        ({"IOC_CONFIG": "/nonexistent/ioc.toml"}, "IOC_CONFIG"),
    ],
)
def test_bad_value_names_the_setting(tmp_path: Path, env: dict[str, str], setting: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load({"IOC_VAR_DIR": str(tmp_path), **env})
    assert caught.value.setting == setting
    assert str(caught.value).startswith(f"{setting}: ")


def test_broken_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "ioc.toml"
    config.write_text("phases = [1, 2")
    with pytest.raises(SettingsError, match=r"IOC_CONFIG: .* is not valid TOML"):
        Settings.load({"IOC_CONFIG": str(config), "IOC_VAR_DIR": str(tmp_path)})


def test_cli_stops_with_one_line_and_exit_code_2(tmp_path: Path) -> None:
    env = {**os.environ, "IOC_VAR_DIR": str(tmp_path), "IOC_BROKER_URL": "kafka://x"}
    done = subprocess.run([IOC, "init"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Error: IOC_BROKER_URL: unsupported scheme 'kafka'; use embedded, redis://host:6379/0 "
        "or amqp://user:password@host:5672/"
    ]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "ioc.sqlite3").exists()


def test_secret_key_is_never_printed(tmp_path: Path) -> None:
    env = {**os.environ, "IOC_VAR_DIR": str(tmp_path / "var")}
    env.pop("IOC_DATABASE_URL", None)
    env.pop("IOC_BROKER_URL", None)
    done = subprocess.run([IOC, "init"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    key = (tmp_path / "var" / "secret_key").read_text()
    assert key not in done.stdout + done.stderr
