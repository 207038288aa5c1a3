"""KPI snapshots: the leaders' page reads figures computed beforehand (stale-while-revalidate).

Computing the KPIs sorts every resolution time of the period for the medians: on 1,000,000
incidents 0.25 s (30 days) to 1.7 s (365 days) on PostgreSQL and 0.5 s to 4.8 s on SQLite,
for every view of the page. So the figures of each (reader scope, period) are kept in
`kpi_snapshot` with the time they were computed, and `kpis_for` answers:

- a fresh snapshot (younger than FRESH_FOR_S of its period): served;
- a stale one: served at once, and a refresh is sent to the workers (`refresh_kpis`). The
  reader whose conditional UPDATE claims the row sends it; concurrent readers find it claimed,
  so one refresh runs however many leaders read. A claim not followed by a stored refresh within
  CLAIM_EXPIRES_S (a worker killed, a broker restarted, a send that failed) lapses, and the
  next reader sends another;
- none, or one older than SERVE_AT_MOST_S: computed in the request, stored, served.

The page says when its figures were computed ("as of 09:41"). A scope is the exact list of
departments the reader sees (`visibility.department_scope`), so a snapshot is only ever served
to readers who see the same incidents as the reader it was computed for.

The age limits trade freshness against work. A period's figures move by what happens in the
age limit against the whole period: a minute of a week, or 15 minutes of a year, moves a median
or a share by a fraction of a percent, and the "open now" counts are dated by the "as of" line.
A refresh runs only when someone reads a stale snapshot, at most once per age limit per scope
and period; on 1 M incidents and SQLite, at most 0.5 s a minute for 30 days or 4.8 s per 15
minutes for 365 days: about 1 % of one core for each scope and period read all day long.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import logging
from typing import Any

from ioc_core.i18n import TIMEZONE, day_start
from ioc_core.incidents.kpis import PERIODS, KpiLine, Kpis, leadership_kpis
from ioc_core.incidents.tables import KpiSnapshot
from ioc_core.tasks.task import TaskNotBound, task

log = logging.getLogger(__name__)

# How long a period's snapshot is fresh, in seconds: longer for longer periods, whose figures
# move less per minute and cost more to compute.
FRESH_FOR_S: dict[int, float] = {7: 60.0, 30: 60.0, 90: 300.0, 365: 900.0}
# A snapshot older than this is not served but computed again in the request: a day-old "open
# now" misleads even with its date shown, and one live computation a day per scope is cheap.
SERVE_AT_MOST_S = 24 * 3600.0
# Longer than the slowest refresh (seconds) plus a queue's usual wait.
CLAIM_EXPIRES_S = 300.0
# A send slower than this counts as failed: the page must not hang on a broker.
SEND_TIMEOUT_S = 5.0
# KpiSnapshot.scope's length.
SCOPE_MAX = 200

assert set(FRESH_FOR_S) == set(PERIODS), "every period needs its age limit"


def scope_key(departments: list[int] | None) -> str:
    """The snapshot key of a reader scope: "all", or the departments seen, sorted; a digest of
    them when the list is too long for the column."""
    if departments is None:
        return "all"
    listed = ",".join(str(d) for d in sorted(departments))
    key = f"departments:{listed}"
    if len(key) <= SCOPE_MAX:
        return key
    return f"departments-sha256:{hashlib.sha256(listed.encode()).hexdigest()}"


async def compute(days: int, departments: list[int] | None, now: dt.datetime | None = None) -> Kpis:
    """The KPIs of the last `days` days (from the start of the first, in the city's time) up to
    `now`, over the incidents of `departments` (None: all)."""
    until = now or _now()
    first_day = until.astimezone(TIMEZONE).date() - dt.timedelta(days=days - 1)
    return await leadership_kpis(day_start(first_day), until, departments)


async def kpis_for(days: int, departments: list[int] | None) -> Kpis:
    """The page's figures for a reader who sees `departments` (None: every incident): from
    their snapshot if there is one young enough, refreshed in the background when stale."""
    if days not in FRESH_FOR_S:
        raise ValueError(f"no KPI period of {days} days")
    key = scope_key(departments)
    row = await (
        KpiSnapshot.select(KpiSnapshot.figures, KpiSnapshot.computed_at)
        .where((KpiSnapshot.scope == key) & (KpiSnapshot.days == days))
        .first()
    )
    now = _now()
    if row is None or (now - row["computed_at"]).total_seconds() > SERVE_AT_MOST_S:
        kpis = await compute(days, departments, now)
        await store(key, days, kpis)
        return kpis
    stale = (now - row["computed_at"]).total_seconds() > FRESH_FOR_S[days]
    if stale and await _claim(key, days, now):
        await _send_refresh(days, departments)
    return loads(row["figures"])


async def store(key: str, days: int, kpis: Kpis) -> None:
    """Keep `kpis` as the snapshot of (key, days), unless a newer one is there already (a slow
    refresh finishing after a quicker one); the refresh claim ends either way."""
    snapshot = KpiSnapshot(
        scope=key,
        days=days,
        figures=dumps(kpis),
        computed_at=kpis.until,
        refresh_claimed_at=None,
    )
    await KpiSnapshot.insert(snapshot).on_conflict(
        target=(KpiSnapshot.scope, KpiSnapshot.days),
        action="DO UPDATE",
        values=[KpiSnapshot.figures, KpiSnapshot.computed_at, KpiSnapshot.refresh_claimed_at],
        where=KpiSnapshot.computed_at < kpis.until,
    )


async def _claim(key: str, days: int, now: dt.datetime) -> bool:
    """Claim the refresh of a stale snapshot; False when another reader holds a claim that has
    not lapsed, or a refresh was stored meanwhile. One UPDATE, so of concurrent readers exactly
    one wins: PostgreSQL re-checks the condition on the row it locked, SQLite writes in turn."""
    stale = now - dt.timedelta(seconds=FRESH_FOR_S[days])
    lapsed = now - dt.timedelta(seconds=CLAIM_EXPIRES_S)
    claimed = await (
        KpiSnapshot.update({KpiSnapshot.refresh_claimed_at: now})
        .where(
            (KpiSnapshot.scope == key)
            & (KpiSnapshot.days == days)
            & (KpiSnapshot.computed_at < stale)
            & (KpiSnapshot.refresh_claimed_at.is_null() | (KpiSnapshot.refresh_claimed_at < lapsed))
        )
        .returning(KpiSnapshot.id)
    )
    return bool(claimed)


async def _send_refresh(days: int, departments: list[int] | None) -> None:
    """Send the refresh; a broker that is down costs the reader nothing: the stale figures are
    served, and the claim lapses for a later reader to send again."""
    try:
        # The broker client blocks; the web process's loop serves other requests meanwhile.
        await asyncio.wait_for(
            asyncio.to_thread(refresh_kpis.send, days, departments), SEND_TIMEOUT_S
        )
    except TaskNotBound:
        raise
    except Exception as exc:  # whatever the broker raised, the page is still served
        log.warning("kpis: refresh of %s days not sent (%s: %s)", days, type(exc).__name__, exc)


# A refresh that fails is retried twice; later, the claim lapses and a reader sends another.
@task(queue="kpis", max_retries=2, min_backoff=5_000, max_backoff=30_000)
async def refresh_kpis(days: int, departments: list[int] | None) -> None:
    """Compute the KPIs of a reader scope and period and keep them as its snapshot."""
    kpis = await compute(days, departments)
    await store(scope_key(departments), days, kpis)


def dumps(kpis: Kpis) -> str:
    """`kpis` as JSON that `loads` turns back into an equal Kpis: the lines by ward and by
    category as [key, line] pairs, since a JSON object's keys would turn ids into strings and
    lose None; floats as Python writes them, which reads back to the same float."""
    return json.dumps(
        {
            "since": kpis.since.isoformat(),
            "until": kpis.until.isoformat(),
            "total": dataclasses.asdict(kpis.total),
            "by_ward": _pairs(kpis.by_ward),
            "by_category": _pairs(kpis.by_category),
        },
        allow_nan=False,
    )


def loads(text: str) -> Kpis:
    data = json.loads(text)
    return Kpis(
        since=dt.datetime.fromisoformat(data["since"]),
        until=dt.datetime.fromisoformat(data["until"]),
        total=KpiLine(**data["total"]),
        by_ward=_lines(data["by_ward"]),
        by_category=_lines(data["by_category"]),
    )


def _pairs(lines: dict[int | None, KpiLine]) -> list[list[Any]]:
    return [[key, dataclasses.asdict(line)] for key, line in lines.items()]


def _lines(pairs: list[list[Any]]) -> dict[int | None, KpiLine]:
    return {key: KpiLine(**line) for key, line in pairs}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
