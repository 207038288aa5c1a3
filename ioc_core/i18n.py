"""Languages of the interface: Vietnamese by default, English second; times in the city's zone.

Messages are written in English in code and templates and translated by Babel catalogs
(`<package>/locale/<lang>/LC_MESSAGES/messages.po`, compiled to `.mo` at install).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.support import NullTranslations, Translations

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
CORE_LOCALE_DIR = Path(__file__).resolve().parent / "locale"

current_language: ContextVar[str] = ContextVar("current_language", default=DEFAULT_LANGUAGE)
_catalog_dirs: list[Path] = [CORE_LOCALE_DIR]


def add_catalogs(dirs: Iterable[Path]) -> None:
    """Plugins' own `locale/` folders, merged over the core's catalog."""
    for folder in dirs:
        if folder not in _catalog_dirs and folder.is_dir():
            _catalog_dirs.append(folder)
    translations.cache_clear()


@cache
def translations(language: str) -> NullTranslations:
    merged: NullTranslations = NullTranslations()
    for folder in _catalog_dirs:
        loaded = Translations.load(str(folder), [language])
        if isinstance(loaded, Translations):
            if isinstance(merged, Translations):
                merged.merge(loaded)
            else:
                merged = loaded
    return merged


def gettext(message: str) -> str:
    return translations(current_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language.get()).ngettext(singular, plural, n)


def choose_language(*candidates: str | None) -> str:
    """The first supported language among the candidates (user's choice, cookie, ...)."""
    return next((c for c in candidates if c in LANGUAGES), DEFAULT_LANGUAGE)


def local_time(value: dt.datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A stored UTC time as the city reads it."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(TIMEZONE).strftime(fmt)
