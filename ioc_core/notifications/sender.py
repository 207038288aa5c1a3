"""Sending the messages `notify` wrote: claimed in short transactions, sent outside them.

    sent = await send_pending(states)     # what `send_messages` and `ioc notifications send` do

A sender claims a batch by setting each message's `claimed_until` to the end of its lease, in
one short write transaction (on PostgreSQL with FOR UPDATE SKIP LOCKED, so two senders take
different messages at once; on SQLite the write lock makes them take turns). It then sends
each message with no transaction open, since SQLite's write lock must not wait on a mail
server, and a message whose lease is about to end is left for the next claimer rather than sent
late, so two senders never send one message. A sent message gets `sent_at`; a failed one an
attempt, its error and a later `claimed_until` (backoff), until MAX_ATTEMPTS, when it is given
up (`failed_at`). A message for a channel no enabled plugin provides (e-mail with no SMTP
server configured, say) is given up at once, with the reason in `last_error`.

Each message is sent once, but for one case: a worker killed after the server took a message
and before `sent_at` was written leaves it claimed, and it is sent again after the lease.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import dramatiq
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

from ioc_core import i18n
from ioc_core.db.transactions import write_transaction
from ioc_core.notifications import service
from ioc_core.notifications.tables import ERROR_MAX, OutboundMessage
from ioc_core.plugins.state import PluginStates
from ioc_core.tasks.gate import states_of
from ioc_core.tasks.periodic import chain, claim_period
from ioc_core.tasks.task import task

Channel = Callable[[str, str, str], Awaitable[None]]

log = logging.getLogger(__name__)

# Messages claimed per transaction.
BATCH = 10
# A channel call slower than this counts as failed (the SMTP channel's own timeouts are
# shorter, per network step).
SEND_TIMEOUT_S = 60.0
# A batch is sent well within its lease: a message is not started later than SEND_TIMEOUT_S
# before the lease ends, so its send ends before anyone else may claim it.
LEASE_S = BATCH * SEND_TIMEOUT_S + 2 * SEND_TIMEOUT_S
# Tries of one message before it is given up; the waits between them double from a minute to
# at most six hours: about a day of retries in all.
MAX_ATTEMPTS = 8
FIRST_BACKOFF_S = 60.0
MAX_BACKOFF_S = 6 * 3600.0
# How often the periodic sender runs, cluster-wide, and its name in periodic_run.
SEND_EVERY_S = 30.0
SENDER = "notifications.send_periodically"
# A broker send slower than this counts as failed; the periodic sender covers it.
QUEUE_TIMEOUT_S = 5.0
# A send_soon() inside an open transaction waits this long, so the commit comes first.
IN_TRANSACTION_DELAY_MS = 2_000


async def send_pending(states: PluginStates, batch: int = BATCH) -> int:
    """Send every message that is due, batch by batch; return how many were sent."""
    engine = engine_finder()
    if engine is not None and engine.transaction_exists():
        raise RuntimeError("send_pending() sends outside transactions: call it outside one")
    channels = await channels_of(states)
    wording = await service.wordings(states)
    public_url = states.registry.settings.public_url
    sent = 0
    while True:
        claimed = await _claim(batch)
        for message in claimed:
            if await _send_one(message, channels, wording, public_url):
                sent += 1
        if len(claimed) < batch:
            return sent


async def channels_of(states: PluginStates) -> dict[str, Channel]:
    """Every channel the enabled plugins provide, by name."""
    settings = states.registry.settings
    return await service.merged_answers(states, "notification_channels", settings=settings)


async def pending() -> int:
    """How many messages are neither sent nor given up."""
    return await OutboundMessage.count().where(
        OutboundMessage.sent_at.is_null(), OutboundMessage.failed_at.is_null()
    )


async def _claim(batch: int) -> list[dict[str, Any]]:
    now = _now()
    async with write_transaction():
        query = (
            OutboundMessage.select(
                OutboundMessage.id,
                OutboundMessage.channel,
                OutboundMessage.address,
                OutboundMessage.language,
                OutboundMessage.kind,
                OutboundMessage.params,
                OutboundMessage.link,
                OutboundMessage.attempts,
            )
            .where(
                OutboundMessage.sent_at.is_null(),
                OutboundMessage.failed_at.is_null(),
                OutboundMessage.claimed_until.is_null() | (OutboundMessage.claimed_until <= now),
            )
            .order_by(OutboundMessage.id)
            .limit(batch)
            .output(load_json=True)
        )
        if not isinstance(engine_finder(), SQLiteEngine):
            query = query.lock_rows("UPDATE", skip_locked=True)
        rows = await query
        if rows:
            lease_end = now + dt.timedelta(seconds=LEASE_S)
            await OutboundMessage.update({OutboundMessage.claimed_until: lease_end}).where(
                OutboundMessage.id.is_in([row["id"] for row in rows])
            )
            for row in rows:
                row["lease_end"] = lease_end
    return rows


async def _send_one(
    message: dict[str, Any],
    channels: dict[str, Channel],
    wording: dict[str, service.Wording],
    public_url: str,
) -> bool:
    message_id = message["id"]
    if _now() + dt.timedelta(seconds=SEND_TIMEOUT_S) > message["lease_end"]:
        log.warning(
            "notifications: message %s left for the next claimer (lease ending)", message_id
        )
        return False
    channel = channels.get(message["channel"])
    if channel is None:
        await _give_up(message_id, f"no enabled plugin provides the channel {message['channel']!r}")
        return False
    with i18n.language(message["language"]):
        subject, body = service.render(wording, message["kind"], message["params"])
    link = service.safe_link(message["link"])
    if link:
        body = f"{body}\n\n{public_url}{link}"
    try:
        await asyncio.wait_for(channel(message["address"], subject, body.strip()), SEND_TIMEOUT_S)
    except Exception as exc:  # whatever the channel raised, the message is tried again later
        await _failed(message, f"{type(exc).__name__}: {exc}")
        return False
    await OutboundMessage.update(
        {
            OutboundMessage.sent_at: _now(),
            OutboundMessage.attempts: OutboundMessage.attempts + 1,
            OutboundMessage.claimed_until: None,
            OutboundMessage.last_error: "",
        }
    ).where(OutboundMessage.id == message_id)
    return True


async def _failed(message: dict[str, Any], error: str) -> None:
    attempts = message["attempts"] + 1
    # The log gets the error's type only: a server's refusal quotes the recipient's address.
    # The whole error is in the message's `last_error`, where staff look.
    kind = error.partition(":")[0]
    if attempts >= MAX_ATTEMPTS:
        log.error(
            "notifications: message %s given up after %d tries (%s)", message["id"], attempts, kind
        )
        await _give_up(message["id"], error)
        return
    backoff = min(FIRST_BACKOFF_S * 2 ** (attempts - 1), MAX_BACKOFF_S)
    log.warning(
        "notifications: message %s not sent (%s); next try in %.0f s", message["id"], kind, backoff
    )
    await OutboundMessage.update(
        {
            OutboundMessage.attempts: attempts,
            OutboundMessage.last_error: error[:ERROR_MAX],
            OutboundMessage.claimed_until: _now() + dt.timedelta(seconds=backoff),
        }
    ).where(OutboundMessage.id == message["id"])


async def _give_up(message_id: int, error: str) -> None:
    await OutboundMessage.update(
        {
            OutboundMessage.attempts: OutboundMessage.attempts + 1,
            OutboundMessage.last_error: error[:ERROR_MAX],
            OutboundMessage.failed_at: _now(),
            OutboundMessage.claimed_until: None,
        }
    ).where(OutboundMessage.id == message_id)


# Not retried: a failed run leaves its messages to the periodic sender.
@task(queue="send", max_retries=0)
async def send_messages() -> None:
    """Send every message that is due."""
    await send_pending(_states())


# No retry limit: the chain must outlive a long database or broker outage.
@chain(SENDER, SEND_EVERY_S)
@task(queue="send", max_retries=None, min_backoff=1_000, max_backoff=60_000)
async def send_periodically() -> None:
    """Send what is due, once per SEND_EVERY_S seconds across the cluster (see `claim_period`)."""
    if not await claim_period(SENDER, SEND_EVERY_S, send_periodically):
        return
    try:
        await send_pending(_states())
    except Exception:  # not retried: the next period tries again
        log.exception("notifications: periodic send failed")


def _states() -> PluginStates:
    broker = (
        send_messages.actor.broker if send_messages.actor is not None else dramatiq.get_broker()
    )
    return states_of(broker)


async def send_soon() -> bool:
    """Ask a worker to send what is due now rather than at the next period; False when the
    broker could not be reached (the periodic sender sends it then). Never raises for that."""
    engine = engine_finder()
    # Inside a transaction (an event handler's) the messages are not committed yet.
    delay = IN_TRANSACTION_DELAY_MS if engine is not None and engine.transaction_exists() else 0
    try:
        await asyncio.wait_for(
            asyncio.to_thread(send_messages.send_with_options, delay=delay), QUEUE_TIMEOUT_S
        )
    except Exception as exc:  # the broker client's error types vary with the broker
        log.warning(
            "notifications: send not queued (%s: %s); the periodic sender will",
            type(exc).__name__,
            exc,
        )
        return False
    return True


def start_sender() -> None:
    """Start a periodic sender chain. Safe on every start: a chain started while another runs
    ends at its first run."""
    send_periodically.send()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
