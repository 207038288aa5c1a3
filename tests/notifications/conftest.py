"""A local SMTP server, a plugin with its own kind and channel, and a platform using both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest

from ioc_core import __version__, i18n
from ioc_core.hookspecs import hookimpl
from ioc_core.plugins import lifecycle
from ioc_core.plugins.spec import PluginSpec
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings
from tests.helpers import run
from tests.smtp import Mailbox

HELLO = "probe.hello"
# Worded without the catalog, so the test sees which language the wording was asked in.
WORDS = {
    "vi": ("Xin chào {name}", "Có việc mới: {what}"),
    "en": ("Hello {name}", "New work: {what}"),
}


def hello(params: dict[str, Any]) -> tuple[str, str]:
    title, body = WORDS[i18n.current_language.get()]
    return title.format(**params), body.format(**params)


def broken(params: dict[str, Any]) -> tuple[str, str]:
    raise KeyError("the wording of this kind is broken")


@dataclass
class Texts:
    """What the probe's "sms" channel was given: (address, subject, body)."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)


def probe_plugin(texts: Texts) -> ModuleType:
    """A plugin registered in code with a kind of its own and an "sms" channel."""
    module = ModuleType("tests_notifications_probe")
    module.SPEC = PluginSpec(  # type: ignore[attr-defined]
        name="probe_notes",
        title_vi="probe",
        title_en="probe",
        version="1.0.0",
        core_versions=f"=={__version__}",
    )

    async def send_text(address: str, subject: str, body: str) -> None:
        texts.sent.append((address, subject, body))

    def notification_kinds() -> dict[str, Any]:
        return {HELLO: hello, "probe.broken": broken}

    def notification_channels() -> dict[str, Any]:
        return {"sms": send_text}

    module.notification_kinds = hookimpl(notification_kinds)  # type: ignore[attr-defined]
    module.notification_channels = hookimpl(notification_channels)  # type: ignore[attr-defined]
    return module


@pytest.fixture
def texts() -> Texts:
    return Texts()


def platform(environ: dict[str, str], texts: Texts, **more: str) -> Runtime:
    """A migrated platform with the probe plugin enabled; `more` adds settings."""
    built = build_runtime(
        Settings.load(environ | more), extra_plugins=[probe_plugin(texts)], park_delay_ms=200
    )
    run(lifecycle.migrate_enabled(built.registry))
    run(lifecycle.enable(built.registry, "probe_notes", "test"))
    return built


@pytest.fixture
def mail_runtime(
    environ: dict[str, str], texts: Texts, mailbox: tuple[Mailbox, int]
) -> Iterator[Runtime]:
    """The platform e-mailing through the local SMTP server."""
    built = platform(environ, texts, IOC_SMTP_URL=f"smtp://127.0.0.1:{mailbox[1]}")
    yield built
    built.broker.close()


@pytest.fixture
def plain_runtime(environ: dict[str, str], texts: Texts) -> Iterator[Runtime]:
    """The platform with no SMTP server configured."""
    built = platform(environ, texts)
    yield built
    built.broker.close()
