"""IOC_SMTP_URL and IOC_SMTP_FROM: what is accepted, how it is read, what stops start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from ioc_core.notifications.smtp import SmtpServer, server_of
from ioc_core.settings import DEFAULT_SMTP_FROM, Settings, SettingsError


def load(tmp_path: Path, **values: str) -> Settings:
    return Settings.load({"IOC_VAR_DIR": str(tmp_path), **values})


def test_unset_means_no_email(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert (settings.smtp_url, settings.smtp_from) == ("", DEFAULT_SMTP_FROM)


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("smtp://mail.example.vn", SmtpServer("mail.example.vn", 25, False, False, "", "")),
        (
            "smtp+starttls://ioc%40city:p%40ss%20w@mail.example.vn",
            SmtpServer("mail.example.vn", 587, True, False, "ioc@city", "p@ss w"),
        ),
        ("smtps://u:p@10.0.0.5:2465/", SmtpServer("10.0.0.5", 2465, False, True, "u", "p")),
    ],
)
def test_good_urls_are_read(tmp_path: Path, url: str, server: SmtpServer) -> None:
    settings = load(tmp_path, IOC_SMTP_URL=url, IOC_SMTP_FROM="Trung tâm IOC <ioc@example.vn>")
    assert server_of(settings.smtp_url) == server
    assert settings.smtp_from == "Trung tâm IOC <ioc@example.vn>"
    assert "p@" not in repr(settings) and url not in repr(settings), "a password is never shown"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mail.example.vn", "unsupported scheme"),
        ("http://mail.example.vn", "unsupported scheme"),
        ("smtp://", "host"),
        ("smtp://mail.example.vn:port", "port"),
        ("smtp://mail.example.vn:70000", "port"),
        ("smtp://mail.example.vn:0", "port"),
        ("smtp://mail.example.vn/inbox", "path"),
        ("smtp://:secret@mail.example.vn", "user name"),
        ("smtp://ioc:m%E1%BA%ADt@mail.example.vn", "ASCII"),
    ],
)
def test_bad_urls_name_the_setting(tmp_path: Path, url: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=problem) as raised:
        load(tmp_path, IOC_SMTP_URL=url)
    assert raised.value.setting == "IOC_SMTP_URL"
    assert str(raised.value).startswith("IOC_SMTP_URL: ")


@pytest.mark.parametrize("sender", ["nobody", "IOC <>", "a@b.vn\r\nBcc: x@y.vn"])
def test_a_bad_sender_names_the_setting(tmp_path: Path, sender: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load(tmp_path, IOC_SMTP_FROM=sender)
    assert raised.value.setting == "IOC_SMTP_FROM"
