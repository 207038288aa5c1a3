"""The Vietnamese catalog covers every message the code and templates use."""

import datetime as dt
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import ioc_core
from ioc_core import i18n

CORE = Path(ioc_core.__file__).parent
# The core's catalog, and each bundled plugin's beside its code; a plugin's messages may also
# come from the core's catalog, which every process loads first.
ROOTS = [CORE, *sorted(p for p in (CORE.parent / "plugins").glob("*") if (p / "locale").is_dir())]
METHODS = [
    ("**.py", "python"),
    ("templates/**.html", "jinja2"),
]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def source_messages(root: Path) -> set[str]:
    found = set()
    for _, _, message, _, _ in extract_from_dir(root, METHODS, options_map=OPTIONS):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def translated(root: Path) -> set[str]:
    with (root / "locale" / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    return {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalog
        if m.id and all(m.string if isinstance(m.string, tuple) else [m.string])
    }


@pytest.mark.parametrize("root", ROOTS, ids=[r.name for r in ROOTS])
def test_every_message_is_translated_to_vietnamese(root: Path) -> None:
    missing = sorted(source_messages(root) - translated(root) - translated(CORE))
    assert not missing, f"run pybabel extract/update (README) and translate: {missing}"


def test_translation_and_local_time() -> None:
    token = i18n.current_language.set("vi")
    try:
        assert i18n.gettext("Sign out") == "Đăng xuất"
        assert i18n.ngettext("%(num)s row", "%(num)s rows", 3) % {"num": 3} == "3 dòng"
    finally:
        i18n.current_language.reset(token)
    token = i18n.current_language.set("en")
    try:
        assert i18n.gettext("Sign out") == "Sign out"
    finally:
        i18n.current_language.reset(token)
    # 17:30 UTC is 00:30 the next day in Phan Thiết (UTC+7).
    assert i18n.local_time(dt.datetime(2026, 1, 14, 17, 30, tzinfo=dt.UTC)) == "15/01/2026 00:30"
