"""Languages of the interface: Vietnamese by default, English second; times in the city's zone.

Messages are written in English in code and templates and translated by Babel catalogs
(`<package>/locale/<lang>/LC_MESSAGES/messages.po`, compiled to `.mo` at install).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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


@contextmanager
def language(code: str | None) -> Iterator[str]:
    """Speak `code` inside the block (an e-mail in its recipient's language, not the sender's),
    then the language of before; an unsupported code falls back to the default."""
    chosen = choose_language(code)
    token = current_language.set(chosen)
    try:
        yield chosen
    finally:
        current_language.reset(token)


def local_time(value: dt.datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A stored UTC time as the city reads it."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(TIMEZONE).strftime(fmt)


def parse_day(text: str) -> dt.date | None:
    """A day as the city writes it (15/01/2027) or as a date input sends it (2027-01-15)."""
    text = text.strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def local_today() -> dt.date:
    """Today in the city."""
    return dt.datetime.now(TIMEZONE).date()


def day_start(day: dt.date) -> dt.datetime:
    """The first moment of a day in the city, in UTC: a bound of a date range."""
    return dt.datetime.combine(day, dt.time(), tzinfo=TIMEZONE).astimezone(dt.UTC)


def day_noon(day: dt.date) -> dt.datetime:
    """Noon of a day in the city, in UTC: a due date shown on that day wherever it is read."""
    return dt.datetime.combine(day, dt.time(12), tzinfo=TIMEZONE).astimezone(dt.UTC)
