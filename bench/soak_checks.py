"""What the soak verifies, read from the database after the load: nothing lost, nothing
doubled, every domain event handled once by each handler, with each handler's side effects
written once."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from field_reports.notices import STATUS as REPORTER_STATUS
from field_reports.tables import Report

from bench.soak_load import Ledger
from ioc_core.auth.tables import User
from ioc_core.db.tables import PeriodicRun
from ioc_core.incidents import outbox
from ioc_core.incidents.tables import (
    HandledEvent,
    Incident,
    IncidentEvent,
    IncidentFollower,
    OutboxEvent,
)
from ioc_core.notifications import sender
from ioc_core.notifications.tables import Notification, OutboundMessage
from ioc_core.runtime import Runtime
from ioc_core.sla import sweep
from ioc_core.sla.notices import PUBLIC
from ioc_core.sla.routing import rule_for, target_for

PUBLIC_NOTE = "sla.public_note"
DRAIN_POLL_S = 1.0
# The cluster-wide periodic jobs and their periods: each chain must survive the killed workers.
PERIODIC = {
    outbox.SWEEPER: outbox.SWEEP_EVERY_S,
    sweep.SWEEPER: sweep.SWEEP_EVERY_S,
    sender.SENDER: sender.SEND_EVERY_S,
}
# Slack for a periodic run beyond its period and the broker's re-queue of a killed worker's
# messages (which come back within about 1.25 heartbeat timeouts).
PERIODIC_SLACK_S = 15.0


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


async def expected_handlers(runtime: Runtime) -> dict[str, set[str]]:
    """Per topic, the names of the handlers of enabled plugins (as `handled_event` has them)."""
    enabled = await runtime.states.enabled()
    found: dict[str, set[str]] = defaultdict(set)
    for plugin, answers in runtime.registry.per_plugin("event_handlers").items():
        if plugin in enabled:
            for answer in answers:
                for topic, handlers in (answer or {}).items():
                    found[topic] |= {outbox.handler_name(h) for h in handlers}
    return found


async def _outbox(handlers: dict[str, set[str]]) -> tuple[int, int, int]:
    """(events, undispatched, events whose handled set differs from the expected one)."""
    events = await OutboxEvent.select(OutboxEvent.id, OutboxEvent.topic, OutboxEvent.dispatched_at)
    handled: dict[int, set[str]] = defaultdict(set)
    for row in await HandledEvent.select(HandledEvent.event, HandledEvent.handler):
        handled[row["event"]].add(row["handler"])
    undispatched = sum(1 for e in events if e["dispatched_at"] is None)
    wrong = sum(1 for e in events if handled.get(e["id"], set()) != handlers.get(e["topic"], set()))
    return len(events), undispatched, wrong


async def wait_drained(
    runtime: Runtime, timeout_s: float, tick: Callable[[], None] | None = None
) -> tuple[bool, float]:
    """Wait, at most `timeout_s`, until every event is dispatched and handled by each of its
    handlers; (drained, seconds waited). `tick` is called each poll (to reap workers)."""
    handlers = await expected_handlers(runtime)
    started = time.monotonic()
    while True:
        _, undispatched, unhandled = await _outbox(handlers)
        if not undispatched and not unhandled:
            return True, time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            return False, time.monotonic() - started
        if tick is not None:
            tick()
        await asyncio.sleep(DRAIN_POLL_S)


def _differences(expected: Counter[Any], actual: Counter[Any]) -> tuple[int, int]:
    """(how many expected are missing, how many are extra)."""
    return sum((expected - actual).values()), sum((actual - expected).values())


def compare(name: str, expected: Counter[Any], actual: Counter[Any], what: str) -> Check:
    """Passes when `actual` holds exactly `expected`: nothing missing, nothing extra."""
    missing, extra = _differences(expected, actual)
    detail = f"{sum(expected.values())} {what}"
    if missing or extra:
        detail += f"; {missing} missing, {extra} extra"
    return Check(name, not missing and not extra, detail)


async def periodic_alive(requeue_s: float) -> Check:
    """Each periodic job ran within its period (plus a killed worker's re-queue delay): a
    chain whose message died with a worker would fall silent."""
    now = dt.datetime.now(dt.UTC)
    runs = {r["name"]: r["last_at"] for r in await PeriodicRun.select()}
    late = []
    for name, every_s in PERIODIC.items():
        last = runs.get(name)
        age = (now - last).total_seconds() if last is not None else None
        if age is None or age > every_s + requeue_s + PERIODIC_SLACK_S:
            late.append(f"{name} ({'never ran' if age is None else f'last {age:.0f} s ago'})")
    detail = f"{len(PERIODIC)} jobs" + (f"; silent: {', '.join(late)}" if late else "")
    return Check("periodic jobs still running", not late, detail)


async def verify(runtime: Runtime, ledger: Ledger, staff: Iterable[str]) -> list[Check]:
    checks: list[Check] = []
    incidents = {
        r["id"]: r
        for r in await Incident.select(
            Incident.id, Incident.code, Incident.category, Incident.area, Incident.priority
        )
    }
    code_of = {i: r["code"] for i, r in incidents.items()}
    events = await IncidentEvent.select(
        IncidentEvent.incident,
        IncidentEvent.kind,
        IncidentEvent.actor,
        IncidentEvent.at,
        IncidentEvent.before,
        IncidentEvent.after,
    ).output(load_json=True)

    # Intake: each success stored once, and nothing stored that was not answered a success.
    answered = Counter(f.code for f in ledger.filed)
    stored = Counter(r["code"] for r in incidents.values())
    checks.append(compare("intake stored exactly once", answered, stored, "requests filed"))
    reports = Counter(code_of.get(r["incident"]) for r in await Report.select(Report.incident))
    checks.append(compare("one report per incident", stored, reports, "reports"))
    reporters = Counter(
        (code_of.get(r["incident"]), r["email"])
        for r in await IncidentFollower.select(IncidentFollower.incident, IncidentFollower.email)
        if r["email"]
    )
    checks.append(
        compare(
            "reporter follows once",
            Counter((f.code, f.email) for f in ledger.filed),
            reporters,
            "reporters",
        )
    )

    # Filing: one `created` event, and one `routed` where a routing rule or SLA target applies.
    expected_filing: Counter[tuple[str, str]] = Counter()
    for incident in incidents.values():
        expected_filing[(incident["code"], "created")] += 1
        rule = await rule_for(incident["category"], incident["area"])
        if rule is not None or await target_for(incident["category"], incident["priority"]):
            expected_filing[(incident["code"], "routed")] += 1
    filing = Counter(
        (code_of[e["incident"]], e["kind"]) for e in events if e["kind"] in ("created", "routed")
    )
    checks.append(compare("created and routed once", expected_filing, filing, "filing events"))

    # Staff: each action that answered success wrote one timeline event, and no more.
    actors = {f"user:{name}" for name in staff}
    done = Counter((a.incident, a.kind, a.actor) for a in ledger.actions if a.kind)
    written = Counter(
        (e["incident"], e["kind"], e["actor"]) for e in events if e["actor"] in actors
    )
    checks.append(compare("staff actions written once", done, written, "timeline events"))
    followers = await IncidentFollower.select(
        IncidentFollower.incident, IncidentFollower.user, IncidentFollower.created_at
    ).where(IncidentFollower.user.is_not_null())
    follows = Counter((a.incident, a.actor) for a in ledger.actions if a.action == "follow")
    user_names = {
        r["id"]: f"user:{r['username']}" for r in await User.select(User.id, User.username)
    }
    following = Counter((f["incident"], user_names.get(f["user"])) for f in followers)
    checks.append(compare("follows stored once", follows, following, "follows"))

    # The outbox: every event dispatched, and handled once by each handler of its topic.
    handlers = await expected_handlers(runtime)
    total, undispatched, wrong = await _outbox(handlers)
    checks.append(
        Check(
            "outbox events handled once each",
            not undispatched and not wrong,
            f"{total} events; {undispatched} undispatched, {wrong} not handled exactly once "
            "by each handler",
        )
    )

    # Side effects of the handlers, which the unique index alone does not vouch for.
    statuses: Counter[tuple[str, str]] = Counter()
    for e in events:
        before, after = e["before"] or {}, e["after"] or {}
        changed = "status" in after and before.get("status") != after["status"]
        if e["kind"] in ("status", "assigned") and changed:
            statuses[(code_of[e["incident"]], after["status"])] += 1
    messages = await OutboundMessage.select(
        OutboundMessage.kind, OutboundMessage.params, OutboundMessage.address
    ).output(load_json=True)
    reporter_of = {f.code: f.email for f in ledger.filed}
    told = Counter(
        (m["params"].get("code"), m["params"].get("status"))
        for m in messages
        if m["kind"] == REPORTER_STATUS and reporter_of.get(m["params"].get("code")) == m["address"]
    )
    checks.append(compare("reporter e-mailed once per status", statuses, told, "status e-mails"))

    watchers: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for f in followers:
        watchers[f["incident"]].append(f)
    bells: Counter[str] = Counter()
    for e in events:
        before, after = e["before"] or {}, e["after"] or {}
        if e["kind"] == "public_note" and any(
            k in after and before.get(k) != after[k] for k in PUBLIC
        ):
            bells[code_of[e["incident"]]] += sum(
                1 for f in watchers[e["incident"]] if f["created_at"] <= e["at"]
            )
    rung = Counter(
        n["params"].get("code")
        for n in await Notification.select(Notification.kind, Notification.params)
        .where(Notification.kind == PUBLIC_NOTE)
        .output(load_json=True)
    )
    checks.append(compare("followers notified once per note", bells, rung, "notifications"))

    # The load itself.
    checks.append(
        Check(
            "no 5xx answers",
            ledger.server_errors == 0,
            f"{ledger.server_errors} server errors; {ledger.unavailable} transient 503 (allowed)",
        )
    )
    checks.append(
        Check(
            "every request answered as expected",
            not ledger.transport_errors and not ledger.unexpected and not ledger.refused,
            f"{ledger.transport_errors} without answer, {ledger.refused} refused, "
            f"{ledger.unexpected} unexpected",
        )
    )
    return checks
