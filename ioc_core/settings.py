"""Settings from the environment and an optional TOML file, checked once at start-up."""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

DEFAULT_VAR_DIR = Path("var")
SECRET_KEY_FILE = "secret_key"
MIN_SECRET_KEY_LENGTH = 32
BROKER_SCHEMES = ("embedded", "redis", "rediss", "amqp", "amqps")
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")
SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")
DEFAULT_SMTP_FROM = "IOC <noreply@localhost>"
DEFAULT_HEARTBEAT_TIMEOUT_S = 60.0
# A live worker polls its queues about once a second: a shorter timeout would call it dead.
MIN_HEARTBEAT_TIMEOUT_S = 2.0


class SettingsError(ValueError):
    """A setting has a value the platform cannot start with; the message names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    secret_key: str = field(repr=False)
    var_dir: Path
    plugins: tuple[str, ...] | None = None
    phases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    plugin_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    plugin_state_ttl: float = 1.0
    embedded_workers: int = 2
    # Silence after which a Redis worker counts as dead and its unacked messages are re-queued.
    broker_heartbeat_timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S
    public_url: str = "http://127.0.0.1:8000"
    # A tile URL template ({z}/{x}/{y}); empty: the map draws wards and incidents on no tiles.
    map_tiles: str = ""
    # Empty: no e-mail is sent. It may hold a password, so it is never printed.
    smtp_url: str = field(default="", repr=False)
    smtp_from: str = DEFAULT_SMTP_FROM

    @property
    def https(self) -> bool:
        """Served behind HTTPS: cookies are then marked Secure."""
        return self.public_url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def is_embedded_broker(self) -> bool:
        return self.broker_url.startswith("embedded:")

    @property
    def sqlite_path(self) -> Path:
        return Path(urlsplit(self.database_url).path.removeprefix("/") or "ioc.sqlite3")

    @property
    def embedded_broker_path(self) -> Path:
        return Path(self.broker_url.removeprefix("embedded:").removeprefix("//"))

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (default `os.environ`), over the file named by IOC_CONFIG."""
        env = os.environ if environ is None else environ
        file_values = _read_config_file(env.get("IOC_CONFIG"))

        def value(name: str) -> Any:
            env_name = f"IOC_{name.upper()}"
            if env_name in env and env[env_name] != "":
                return env[env_name]
            return file_values.get(name)

        var_dir = Path(value("var_dir") or DEFAULT_VAR_DIR)
        return cls(
            database_url=_database_url(value("database_url"), var_dir),
            broker_url=_broker_url(value("broker_url"), var_dir),
            secret_key=_secret_key(value("secret_key"), var_dir),
            var_dir=var_dir,
            plugins=_plugin_list(value("plugins")),
            phases=_phases(file_values.get("phases", {})),
            plugin_settings=_plugin_settings(file_values.get("plugin", {})),
            plugin_state_ttl=_number("IOC_PLUGIN_STATE_TTL", value("plugin_state_ttl"), 1.0),
            embedded_workers=int(_number("IOC_EMBEDDED_WORKERS", value("embedded_workers"), 2)),
            broker_heartbeat_timeout_s=_heartbeat_timeout(value("broker_heartbeat_timeout_s")),
            public_url=_public_url(value("public_url")),
            map_tiles=_map_tiles(value("map_tiles")),
            smtp_url=_smtp_url(value("smtp_url")),
            smtp_from=_smtp_from(value("smtp_from")),
        )


def _read_config_file(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError("IOC_CONFIG", f"file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError("IOC_CONFIG", f"{path} is not valid TOML ({exc})") from None


def _database_url(raw: str | None, var_dir: Path) -> str:
    if not raw:
        return f"sqlite:///{var_dir / 'ioc.sqlite3'}"
    scheme = urlsplit(raw).scheme
    if scheme not in DATABASE_SCHEMES:
        raise SettingsError(
            "IOC_DATABASE_URL",
            f"unsupported scheme {scheme or '(none)'!r}; use sqlite:///path/to/file.sqlite3 "
            "or postgresql://user@host:5432/dbname",
        )
    if scheme == "sqlite" and not urlsplit(raw).path.removeprefix("/"):
        raise SettingsError("IOC_DATABASE_URL", "a sqlite URL needs a file path: sqlite:///var/x")
    if scheme != "sqlite" and not urlsplit(raw).path.removeprefix("/"):
        raise SettingsError("IOC_DATABASE_URL", "a postgresql URL needs a database name")
    return raw


def _broker_url(raw: str | None, var_dir: Path) -> str:
    if not raw or raw == "embedded":
        return f"embedded:{var_dir / 'queue.sqlite3'}"
    scheme = raw.split(":", 1)[0] if ":" in raw else ""
    if scheme not in BROKER_SCHEMES:
        raise SettingsError(
            "IOC_BROKER_URL",
            f"unsupported scheme {scheme or '(none)'!r}; use embedded, redis://host:6379/0 "
            "or amqp://user:password@host:5672/",
        )
    return raw


def _heartbeat_timeout(raw: Any) -> float:
    seconds = _number("IOC_BROKER_HEARTBEAT_TIMEOUT_S", raw, DEFAULT_HEARTBEAT_TIMEOUT_S)
    if seconds < MIN_HEARTBEAT_TIMEOUT_S:
        raise SettingsError(
            "IOC_BROKER_HEARTBEAT_TIMEOUT_S",
            f"must be at least {MIN_HEARTBEAT_TIMEOUT_S:g} seconds, or live workers count as dead",
        )
    return seconds


def _secret_key(raw: str | None, var_dir: Path) -> str:
    if raw:
        if len(raw) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                "IOC_SECRET_KEY", f"must be at least {MIN_SECRET_KEY_LENGTH} characters long"
            )
        return raw
    # Generated once and kept, so sessions and signed tokens survive a restart.
    key_file = var_dir / SECRET_KEY_FILE
    try:
        if key_file.exists():
            return key_file.read_text().strip()
        var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key
    except FileExistsError:
        return key_file.read_text().strip()
    except OSError as exc:
        raise SettingsError(
            "IOC_SECRET_KEY", f"unset, and it cannot be kept in {key_file}: {exc.strerror}"
        ) from None


def _public_url(raw: str | None) -> str:
    if not raw:
        return "http://127.0.0.1:8000"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(
            "IOC_PUBLIC_URL", "must be the address people open, e.g. https://ioc.example.vn"
        )
    return raw.rstrip("/")


def _map_tiles(raw: str | None) -> str:
    if not raw:
        return ""
    if not all(part in raw for part in ("{z}", "{x}", "{y}")):
        raise SettingsError("IOC_MAP_TILES", "must be a tile URL with {z}, {x} and {y}")
    return raw


def _smtp_url(raw: str | None) -> str:
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in SMTP_SCHEMES:
        raise SettingsError(
            "IOC_SMTP_URL",
            f"unsupported scheme {parts.scheme or '(none)'!r}; use smtp://host:25, "
            "smtp+starttls://user:password@host:587 or smtps://user:password@host:465",
        )
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise SettingsError("IOC_SMTP_URL", "the port must be a number from 1 to 65535")
    if not parts.hostname:
        raise SettingsError("IOC_SMTP_URL", "needs a host name: smtp://mail.example.vn:25")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SettingsError("IOC_SMTP_URL", "takes no path or query: smtp://host:port")
    if parts.password is not None and not parts.username:
        raise SettingsError("IOC_SMTP_URL", "a password needs a user name: smtp://user:pass@host")
    if not unquote(parts.netloc.rpartition("@")[0]).isascii():
        # Python's SMTP client sends the login in ASCII only.
        raise SettingsError("IOC_SMTP_URL", "the user name and password must be ASCII")
    return raw


def _smtp_from(raw: str | None) -> str:
    if not raw:
        return DEFAULT_SMTP_FROM
    _, address = parseaddr(raw)
    if "@" not in address or any(c in raw for c in "\r\n"):
        raise SettingsError("IOC_SMTP_FROM", "must be an address, e.g. IOC <noreply@example.vn>")
    return raw


def _plugin_list(raw: str | list[str] | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    names = raw.split(",") if isinstance(raw, str) else raw
    cleaned = tuple(n.strip() for n in names if n.strip())
    for name in cleaned:
        if not name.replace("_", "").isalnum():
            raise SettingsError("IOC_PLUGINS", f"{name!r} is not a plugin name (a-z, 0-9, _)")
    return cleaned


def _phases(raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise SettingsError("phases", "must be a table of phase name -> {plugins = [...]}")
    phases: dict[str, tuple[str, ...]] = {}
    for name, body in raw.items():
        plugins = body.get("plugins") if isinstance(body, dict) else None
        if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
            raise SettingsError(f"phases.{name}", 'needs plugins = ["name", ...]')
        phases[name] = tuple(plugins)
    return phases


def _plugin_settings(raw: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise SettingsError("plugin", "must be tables: [plugin.NAME] key = value")
    return raw


def _number(setting: str, raw: Any, default: float) -> float:
    if raw is None:
        return default
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise SettingsError(setting, f"{raw!r} is not a number") from None
    if number < 0:
        raise SettingsError(setting, "must not be negative")
    return number
