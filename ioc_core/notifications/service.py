"""Telling people: one call writes the bell's lines and the messages to send.

    async with write_transaction():            # or inside an outbox event handler
        ...                                    # the change
        await notify(kind="incidents.assigned", params={"code": "PT-2026-000123"},
                     link="/incidents/12", users=[assignee_id], emails=[follower_email])

`notify` writes rows only, in the caller's transaction: a rolled-back change tells nobody, and
no network is touched while the transaction (on SQLite, the write lock) is held. Workers send
the messages later (`ioc_core.notifications.sender`); `sender.send_soon()` after the commit
hurries them along.

Words are made when shown, from the kind and its parameters, by the `notification_kinds` hook
of the plugin that owns the kind: the bell in the viewer's language, an e-mail in its
recipient's. An unknown kind, or a wording function that fails, gives a plain fallback.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from piccolo.engine import engine_finder

from ioc_core import i18n
from ioc_core.auth.routes import safe_next
from ioc_core.auth.tables import User
from ioc_core.notifications.tables import (
    ADDRESS_MAX,
    CHANNEL_MAX,
    KIND_MAX,
    LINK_MAX,
    Notification,
    OutboundMessage,
)
from ioc_core.plugins.state import PluginStates

Wording = Callable[[dict[str, Any]], tuple[str, str]]

log = logging.getLogger(__name__)

EMAIL = "email"
# Addresses given without a user are written to in the platform's default language.
ADDRESS_LANGUAGE = i18n.DEFAULT_LANGUAGE
PAGE_SIZE = 25


async def notify(
    *,
    kind: str,
    params: dict[str, Any],
    link: str = "",
    users: Iterable[int] = (),
    emails: Iterable[str] = (),
    addresses: Mapping[str, Iterable[str]] | None = None,
) -> int:
    """Notify each active user of `users` under their bell and, when they have an address, by
    e-mail in their language; e-mail each of `emails` in Vietnamese; reach each address of
    `addresses` ({channel: [address, ...]}, e.g. {"sms": ["+84901234567"]}) through that
    channel in Vietnamese. Each user, and each address of a channel (compared without case), is
    told once. Return how many rows were written.

    Call it inside the transaction of the change, as `outbox.emit`: it raises outside one.
    `params` must be JSON-serialisable; `link` is a path on this site, e.g. "/incidents/12".
    """
    engine = engine_finder()
    if engine is None or not engine.transaction_exists():
        raise RuntimeError("notify() must run inside the transaction of the change")
    if not 0 < len(kind) <= KIND_MAX:
        raise ValueError(f"kind must be 1 to {KIND_MAX} characters: {kind!r}")
    if len(link) > LINK_MAX:
        raise ValueError(f"link must be at most {LINK_MAX} characters")
    user_ids = sorted({int(u) for u in users})
    people = (
        await User.select(User.id, User.email, User.language)
        .where(User.id.is_in(user_ids), User.is_active.eq(True))
        .order_by(User.id)
        if user_ids
        else []
    )
    now = _now()
    notifications = [
        Notification(user=p["id"], created_at=now, kind=kind, params=params, link=link)
        for p in people
    ]
    recipients = [(EMAIL, p["email"], p["language"]) for p in people]
    recipients += [(EMAIL, address, ADDRESS_LANGUAGE) for address in emails]
    for channel, more in (addresses or {}).items():
        if not 0 < len(channel) <= CHANNEL_MAX:
            raise ValueError(f"channel must be 1 to {CHANNEL_MAX} characters: {channel!r}")
        recipients += [(channel, address, ADDRESS_LANGUAGE) for address in more]
    seen: set[tuple[str, str]] = set()
    messages = []
    for channel, address, language in recipients:
        address = (address or "").strip()
        if not _usable(channel, address) or (channel, address.casefold()) in seen:
            continue
        seen.add((channel, address.casefold()))
        messages.append(
            OutboundMessage(
                channel=channel,
                address=address,
                language=i18n.choose_language(language),
                kind=kind,
                params=params,
                link=link,
                created_at=now,
            )
        )
    if notifications:
        await Notification.insert(*notifications)
    if messages:
        await OutboundMessage.insert(*messages)
    return len(notifications) + len(messages)


def _usable(channel: str, address: str) -> bool:
    """Enough to refuse what no server would take; the channel's server judges the rest."""
    if not address:
        return False
    malformed = len(address) > ADDRESS_MAX
    if channel == EMAIL:
        malformed = malformed or "@" not in address or any(c.isspace() for c in address)
    if malformed:
        # The address itself stays out of the log: it is a person's e-mail or phone number.
        log.warning("notifications: a malformed %s address was not written to", channel)
        return False
    return True


async def wordings(states: PluginStates) -> dict[str, Wording]:
    """The wording of every kind the enabled plugins declare."""
    return await merged_answers(states, "notification_kinds")


async def merged_answers(states: PluginStates, hook: str, **kwargs: Any) -> dict[str, Any]:
    """The enabled plugins' answers to a hook that answers a dict, merged in plugin order."""
    enabled = await states.enabled()
    merged: dict[str, Any] = {}
    for name, answers in states.registry.per_plugin(hook, **kwargs).items():
        if name in enabled:
            for answer in answers:
                merged.update(answer or {})
    return merged


def safe_link(link: str) -> str:
    """A path on this site, or nothing: a stored link must not send anyone elsewhere."""
    return link if link and safe_next(link) == link else ""


def render(wording: dict[str, Wording], kind: str, params: dict[str, Any]) -> tuple[str, str]:
    """(title, body) of a notification in the current language; never raises."""
    words = wording.get(kind)
    if words is not None:
        try:
            title, body = words(params)
            return str(title), str(body)
        except Exception:  # one plugin's broken wording must not break the bell or the sender
            # The parameters' names only: their values may name a citizen.
            log.exception("notifications: wording of %r failed (params %s)", kind, sorted(params))
    return i18n.gettext("Notification (%(kind)s)") % {"kind": kind}, ""


async def unread_count(user_id: int) -> int:
    return await Notification.count().where(
        Notification.user == user_id, Notification.read_at.is_null()
    )


@dataclass(frozen=True)
class NotificationPage:
    rows: list[dict[str, Any]]
    total: int
    unread: int
    page: int
    pages: int


async def page_of(user_id: int, page: int, page_size: int = PAGE_SIZE) -> NotificationPage:
    """The user's notifications, newest first; `page` is clamped to the pages there are."""
    total = await Notification.count().where(Notification.user == user_id)
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, page), pages)
    rows = (
        await Notification.select(
            Notification.id,
            Notification.created_at,
            Notification.kind,
            Notification.params,
            Notification.link,
            Notification.read_at,
        )
        .where(Notification.user == user_id)
        .order_by(Notification.id, ascending=False)
        .offset((page - 1) * page_size)
        .limit(page_size)
        .output(load_json=True)
    )
    return NotificationPage(rows, total, await unread_count(user_id), page, pages)


async def mark_read(user_id: int, notification_id: int) -> str | None:
    """Mark one of the user's notifications read; its link, or None when the user has no such
    notification (another user's is not theirs to mark)."""
    row = (
        await Notification.select(Notification.link)
        .where(Notification.id == notification_id, Notification.user == user_id)
        .first()
    )
    if row is None:
        return None
    await Notification.update({Notification.read_at: _now()}).where(
        Notification.id == notification_id, Notification.read_at.is_null()
    )
    return str(row["link"])


async def mark_all_read(user_id: int) -> int:
    """Mark every unread notification of the user read; return how many there were."""
    changed = (
        await Notification.update({Notification.read_at: _now()})
        .where(Notification.user == user_id, Notification.read_at.is_null())
        .returning(Notification.id)
    )
    return len(changed)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
