"""Benchmark data: N incidents of the last 12 months in Phan Thiết, with their histories.

    python -m bench.generate --incidents 1000000 --database-url postgresql://.../db [--seed 7]

Into a database the platform migrated and seeded (`ioc demo --seed-only --reports 0`: wards,
departments, services, routing rules, SLA targets, staff). Everything is read from the
database (areas, categories, routing rules, SLA targets, the working calendar, staff), so
other wards or services work too; the demo's city file adds only what makes the data look
real (how often each service is used, rainy-season and night services, street names).

What it makes, deterministic for a seed and a moment `now`:
- Places: a mixture of hotspots in each ward, the city centre, the shore and the main roads,
  plus scattered outliers, all inside a ward; the ward found with shapely (`contains_xy`).
- Times: more on weekdays and in office hours (public-order and noise reports at night),
  floods in the rainy season, use growing over the year.
- Work: routing and SLA due times as the rules and the working calendar give them; most
  incidents resolved or closed, the recent ones still open (new, assigned, in progress,
  waiting), a backlog of old ones overdue; the SLA sweep's warnings and escalations, and the
  leaders' answers; rejected and duplicate reports. The timeline holds each step.
- Codes `PT-YYYY-NNNNNN` numbered in filing order after what `ticket_counter` held, and the
  counter moved on, so the platform files after them.

Loading: PostgreSQL by binary COPY (asyncpg), SQLite by executemany in large transactions.
Secondary indexes (and SQLite's R*Tree triggers) are dropped for the load and recreated from
the definitions the database held, so the schema ends exactly as the migrations made it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import itertools
import json
import math
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from bench.loaders import Loader, Table, open_loader
from bench.progress import Progress
from bench.worktime import WorkTime
from ioc_core.geo.column import to_shape
from ioc_core.i18n import TIMEZONE
from ioc_core.incidents.workflow import OPEN_STATUSES
from ioc_core.sla import clock, routing
from ioc_core.sla.escalation import OVERDUE, PUBLIC_NOTES

CITY_FILE = Path(__file__).parent.parent / "plugins" / "field_reports" / "demo_data" / "city.json"
DEFAULT_INCIDENTS = 1_000_000
DEFAULT_SEED = 2026
HISTORY_DAYS = 365
# Incidents built and written per step: bounded memory at any N.
CHUNK = 50_000
SOURCE = "field_reports"
CITIZEN = "citizen"
ROUTER = "system:routing"
SWEEPER = "system:sla"
PRIORITIES = ("low", "normal", "high", "urgent")
PRIORITY_SHARE = (0.10, 0.70, 0.15, 0.05)
# Month -> how much more it floods than on average (rainy season May to November).
RAIN = np.array([0.05, 0.02, 0.02, 0.1, 0.6, 1.0, 1.3, 1.8, 2.2, 2.5, 1.2, 0.3])
DAY_HOURS = np.array([0, 0, 0, 0, 0, 1, 2, 6, 9, 10, 9, 7, 4, 4, 7, 8, 8, 6, 4, 4, 4, 3, 2, 1.0])
NIGHT_HOURS = np.array([3, 2, 1, 0, 0, 0, 1, 2, 3, 3, 3, 3, 2, 2, 3, 3, 3, 4, 5, 7, 9, 10, 9, 6.0])
WEEKDAY = np.array([1.0, 1.0, 0.95, 0.95, 0.9, 0.6, 0.45])
# Where reports come from: ward hotspots, the centre, the shore, the main roads, anywhere.
MIXTURE = (0.50, 0.15, 0.12, 0.15, 0.08)
CENTRE = (108.100, 10.933)
# Phan Thiết's shore and main roads (approximate, lon/lat): points gather along them.
SHORE = [
    (108.030, 10.874),
    (108.058, 10.889),
    (108.088, 10.910),
    (108.106, 10.923),
    (108.121, 10.933),
    (108.150, 10.942),
    (108.200, 10.947),
    (108.243, 10.944),
    (108.268, 10.935),
    (108.298, 10.940),
]
ROADS = [
    [(108.035, 10.925), (108.070, 10.945), (108.100, 10.955), (108.135, 10.965), (108.18, 10.975)],
    [(108.088, 10.915), (108.097, 10.935), (108.102, 10.950), (108.105, 10.965)],
    [(108.125, 10.938), (108.160, 10.948), (108.210, 10.953), (108.250, 10.950), (108.29, 10.95)],
]
PLACE_ATTEMPTS = 30
# Shares of what becomes of a report.
REJECTED, DUPLICATE = 0.03, 0.015
# Old reports that got stuck (a backlog: open and overdue long after filing).
STUCK = 0.05
WORKED_ON = 0.5
WAITS = 0.05
CLOSED = 0.88
# Open, in progress and not yet late: escalated by staff and waiting on a leader's decision.
ESCALATED_BY_STAFF = 0.08
RATED = 0.4
TOKEN_BYTES = 18


@dataclass(frozen=True)
class GenerateResult:
    incidents: int
    events: int
    reports: int
    escalations: int
    build_s: float
    write_s: float
    finish_s: float
    total_s: float
    # The same rows written bare into plain tables in the same run (when asked for).
    raw_rows: int = 0
    raw_write_s: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.incidents + self.events + self.reports + self.escalations

    @property
    def load_rate(self) -> float:
        """Rows per second of writing them with the schema complete: write plus index rebuild."""
        return self.rows / max(self.write_s + self.finish_s, 1e-9)

    @property
    def raw_rate(self) -> float | None:
        return self.raw_rows / self.raw_write_s if self.raw_write_s else None


# The world: what the data is made of


@dataclass(frozen=True)
class _Category:
    id: int
    code: str
    name_vi: str
    weight: float
    rainy: bool
    night: bool
    descriptions: tuple[str, ...]


@dataclass
class _World:
    categories: list[_Category]
    area_ids: np.ndarray
    area_names: list[str]
    shapes: list[Any]
    ward_weights: np.ndarray
    flood: np.ndarray
    streets: list[tuple[str, ...]]
    # [category, area] -> department id (0: no rule), routing rule id.
    departments: np.ndarray
    rules: np.ndarray
    # [category, priority] -> hours, warn hours (NaN: no target), target id.
    hours: np.ndarray
    warn_hours: np.ndarray
    targets: np.ndarray
    parents: dict[int, int]
    # department id -> officer id and name; leaders' names by department.
    officers: dict[int, tuple[int, str]]
    leaders: dict[int, str]
    dispatcher: str
    people: dict[str, list[str]]
    notes: dict[str, list[str]]
    worktime: WorkTime
    has_reports: bool
    counters: dict[int, int]
    next_ids: dict[str, int]


def _city() -> dict[str, Any]:
    if CITY_FILE.exists():
        data: dict[str, Any] = json.loads(CITY_FILE.read_text(encoding="utf-8"))
        return data
    return {}


async def _world(loader: Loader, now: dt.datetime) -> _World:
    city = _city()
    specs = {c["code"]: c for c in city.get("categories", [])}
    ward_specs = city.get("wards", {})
    categories = [
        _Category(
            r["id"],
            r["code"],
            r["name_vi"],
            float(specs.get(r["code"], {}).get("weight", 5)),
            bool(specs.get(r["code"], {}).get("rainy", False)),
            bool(specs.get(r["code"], {}).get("night", False)),
            tuple(specs.get(r["code"], {}).get("descriptions", ())) or (r["name_vi"],),
        )
        for r in await loader.fetch(
            "SELECT id, code, name_vi FROM category WHERE active ORDER BY id"
        )
    ]
    areas = await loader.fetch(
        "SELECT id, code, name_vi, geometry FROM area WHERE valid_to IS NULL ORDER BY id"
    )
    if not categories or not areas:
        raise SystemExit(
            "the database has no categories or no areas: seed it first "
            "(`ioc demo --seed-only --reports 0`)"
        )
    shapes = [to_shape(_text(a["geometry"])) for a in areas]
    for s in shapes:
        shapely.prepare(s)
    departments = np.zeros((len(categories), len(areas)), dtype=np.int64)
    rules = np.zeros_like(departments)
    for ci, category in enumerate(categories):
        for ai, area in enumerate(areas):
            rule = await routing.rule_for(category.id, area["id"])
            if rule is not None:
                departments[ci, ai], rules[ci, ai] = rule["department"], rule["id"]
    hours = np.full((len(categories), len(PRIORITIES)), np.nan)
    warn_hours, targets = hours.copy(), np.zeros(hours.shape, dtype=np.int64)
    for ci, category in enumerate(categories):
        for pi, priority in enumerate(PRIORITIES):
            target = await routing.target_for(category.id, priority)
            if target is not None:
                hours[ci, pi], targets[ci, pi] = target["hours"], target["id"]
                warn_hours[ci, pi] = target["warn_hours"] or 0.0
    parents = {
        r["id"]: r["parent"]
        for r in await loader.fetch("SELECT id, parent FROM department")
        if r["parent"] is not None
    }
    staff = await loader.fetch(
        "SELECT u.id, u.username, r.name AS role, d.department FROM app_user u "
        'JOIN user_role ur ON ur."user" = u.id JOIN role r ON r.id = ur.role '
        'LEFT JOIN user_department d ON d."user" = u.id WHERE u.is_active ORDER BY u.id'
    )
    officers: dict[int, tuple[int, str]] = {}
    leaders: dict[int, str] = {}
    dispatcher = "user:admin"
    for row in staff:
        if row["role"] == "officer" and row["department"] is not None:
            officers.setdefault(row["department"], (row["id"], f"user:{row['username']}"))
        elif row["role"] == "leader" and row["department"] is not None:
            leaders.setdefault(row["department"], f"user:{row['username']}")
        elif row["role"] == "dispatcher" and dispatcher == "user:admin":
            dispatcher = f"user:{row['username']}"
    start = (now - dt.timedelta(days=HISTORY_DAYS + 2)).astimezone(TIMEZONE).date()
    # Due times of a year's last reports (and of the stuck ones) fall well after `now`.
    worktime = WorkTime(await clock.load_calendar(), start, start + dt.timedelta(days=3 * 365))
    counters = {r["year"]: r["last"] for r in await loader.fetch("SELECT * FROM ticket_counter")}
    next_ids = {}
    for table in ("incident", "incident_event", "escalation", "fr_report"):
        if table == "fr_report" and not await loader.has_table(table):
            continue
        next_ids[table] = (await loader.fetch(f"SELECT max(id) AS m FROM {table}"))[0]["m"] or 0
    return _World(
        categories=categories,
        area_ids=np.array([a["id"] for a in areas]),
        area_names=[a["name_vi"] for a in areas],
        shapes=shapes,
        ward_weights=np.array(
            [
                float(ward_specs.get(a["code"], {}).get("weight", 0)) or s.area * 1e3
                for a, s in zip(areas, shapes, strict=True)
            ]
        ),
        flood=np.array([float(ward_specs.get(a["code"], {}).get("flood", 1.0)) for a in areas]),
        streets=[tuple(ward_specs.get(a["code"], {}).get("streets", ())) for a in areas],
        departments=departments,
        rules=rules,
        hours=hours,
        warn_hours=warn_hours,
        targets=targets,
        parents=parents,
        officers=officers,
        leaders=leaders,
        dispatcher=dispatcher,
        people=city.get("people", {}),
        notes=city.get("notes", {}),
        worktime=worktime,
        has_reports="fr_report" in next_ids,
        counters=counters,
        next_ids=next_ids,
    )


def _text(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


# When


def _moments(world: _World, rng: np.random.Generator, n: int, now: float) -> np.ndarray:
    """Filing moments (epoch seconds, sorted) and the category index of each."""
    today = dt.datetime.fromtimestamp(now, TIMEZONE).date()
    days = [today - dt.timedelta(days=k) for k in range(HISTORY_DAYS, -1, -1)]
    weights = np.array(
        [
            WEEKDAY[d.weekday()] * (0.6 + 0.6 * i / HISTORY_DAYS) * _season(world, d.month)
            for i, d in enumerate(days)
        ]
    )
    day = rng.choice(len(days), size=n, p=weights / weights.sum())
    months = np.array([d.month for d in days])[day]
    categories = np.empty(n, dtype=np.int64)
    base = np.array([c.weight for c in world.categories])
    rainy = np.array([c.rainy for c in world.categories])
    for month in range(1, 13):
        mask = months == month
        w = base * np.where(rainy, RAIN[month - 1], 1.0)
        categories[mask] = rng.choice(len(base), size=int(mask.sum()), p=w / w.sum())
    night = np.array([c.night for c in world.categories])[categories]
    hours = np.where(
        night,
        rng.choice(24, size=n, p=NIGHT_HOURS / NIGHT_HOURS.sum()),
        rng.choice(24, size=n, p=DAY_HOURS / DAY_HOURS.sum()),
    )
    offset = TIMEZONE.utcoffset(dt.datetime.fromtimestamp(now)) or dt.timedelta(0)
    midnight = (
        np.array([dt.datetime.combine(d, dt.time(), dt.UTC).timestamp() for d in days])
        - offset.total_seconds()
    )
    at = midnight[day] + hours * 3600 + rng.integers(0, 3600, size=n)
    # Today's later hours have not happened yet: those reports came in over the last hours.
    late = at > now - 60
    at[late] = now - rng.integers(60, 6 * 3600, size=int(late.sum()))
    order = np.argsort(at, kind="stable")
    return np.stack([at[order], categories[order].astype(np.float64)])


def _season(world: _World, month: int) -> float:
    return sum(c.weight * (RAIN[month - 1] if c.rainy else 1.0) for c in world.categories)


# Where


def _polyline_points(
    rng: np.random.Generator, lines: Sequence[Sequence[tuple[float, float]]], n: int, spread: float
) -> tuple[np.ndarray, np.ndarray]:
    segments = [(a, b) for line in lines for a, b in itertools.pairwise(line)]
    lengths = np.array([math.dist(a, b) for a, b in segments])
    pick = rng.choice(len(segments), size=n, p=lengths / lengths.sum())
    t = rng.random(n)
    ax = np.array([s[0][0] for s in segments])[pick]
    ay = np.array([s[0][1] for s in segments])[pick]
    bx = np.array([s[1][0] for s in segments])[pick]
    by = np.array([s[1][1] for s in segments])[pick]
    return (
        ax + t * (bx - ax) + rng.normal(0, spread, n),
        ay + t * (by - ay) + rng.normal(0, spread, n),
    )


def _hotspots(world: _World, rng: np.random.Generator) -> list[np.ndarray]:
    """A few places per ward where problems gather (a market, a beach road)."""
    spots = []
    for s in world.shapes:
        min_x, min_y, max_x, max_y = s.bounds
        found: list[tuple[float, float]] = []
        for _ in range(10_000):
            x, y = rng.uniform(min_x, max_x), rng.uniform(min_y, max_y)
            if shapely.contains_xy(s, x, y):
                found.append((x, y))
                if len(found) == 5:
                    break
        if not found:
            p = s.representative_point()
            found = [(p.x, p.y)]
        spots.append(np.array(found))
    return spots


def _places(
    world: _World,
    rng: np.random.Generator,
    spots: list[np.ndarray],
    categories: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Longitude, latitude and ward index of each report; every point lies inside a ward."""
    n = len(categories)
    x, y = np.empty(n), np.empty(n)
    ward = np.full(n, -1)
    todo = np.arange(n)
    rainy = np.array([c.rainy for c in world.categories])
    bounds = np.array([s.bounds for s in world.shapes])
    west, south = bounds[:, 0].min(), bounds[:, 1].min()
    east, north = bounds[:, 2].max(), bounds[:, 3].max()
    for attempt in range(PLACE_ATTEMPTS):
        m = len(todo)
        if m == 0:
            break
        kind = rng.choice(len(MIXTURE), size=m, p=MIXTURE)
        if attempt > PLACE_ATTEMPTS // 2:
            kind[:] = 4  # a city with other wards than the demo's: anywhere in them
        px, py = np.empty(m), np.empty(m)
        # Hotspots of a ward chosen by its weight (floods where it floods).
        k = kind == 0
        weights = np.where(rainy[categories[todo[k]]][:, None], world.flood, 1.0)
        weights = weights * world.ward_weights
        cumulative = np.cumsum(weights, axis=1)
        chosen = (rng.random(int(k.sum()))[:, None] * cumulative[:, -1:] < cumulative).argmax(1)
        spot = np.array([rng.integers(len(spots[w])) for w in chosen], dtype=np.int64)
        centres = np.array([spots[w][s] for w, s in zip(chosen, spot, strict=True)]).reshape(-1, 2)
        px[k] = centres[:, 0] + rng.normal(0, 0.0025, int(k.sum()))
        py[k] = centres[:, 1] + rng.normal(0, 0.0025, int(k.sum()))
        k = kind == 1
        px[k] = rng.normal(CENTRE[0], 0.008, int(k.sum()))
        py[k] = rng.normal(CENTRE[1], 0.006, int(k.sum()))
        k = kind == 2
        px[k], py[k] = _polyline_points(rng, [SHORE], int(k.sum()), 0.0012)
        k = kind == 3
        px[k], py[k] = _polyline_points(rng, ROADS, int(k.sum()), 0.0008)
        k = kind == 4
        px[k] = rng.uniform(west, east, int(k.sum()))
        py[k] = rng.uniform(south, north, int(k.sum()))
        px, py = np.round(px, 6), np.round(py, 6)
        found = np.full(m, -1)
        for w, s in enumerate(world.shapes):
            inside = (found < 0) & shapely.contains_xy(s, px, py)
            found[inside] = w
        ok = found >= 0
        x[todo[ok]], y[todo[ok]], ward[todo[ok]] = px[ok], py[ok], found[ok]
        todo = todo[~ok]
    for i in todo:  # nothing landed inside: the ward's own representative point
        p = world.shapes[0].representative_point()
        x[i], y[i], ward[i] = p.x, p.y, 0
    return x, y, ward


# What happened


@dataclass
class _Chunk:
    """One chunk's incidents as columns, and the events, escalations, reports of them."""

    tables: list[Table]
    statuses: dict[str, int]


def _iso(seconds: np.ndarray) -> list[str | None]:
    """ISO 8601 UTC texts as the platform writes them into JSON (`isoformat()`)."""
    out: list[str | None] = [None] * len(seconds)
    ok = ~np.isnan(seconds)
    text = np.datetime_as_string(seconds[ok].astype("datetime64[s]"), unit="s")
    for i, t in zip(np.flatnonzero(ok), text.tolist(), strict=True):
        out[i] = t + "+00:00"
    return out


class _Events:
    """Timeline rows gathered column by column, one kind at a time."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, list[Any]]] = []

    def add(
        self,
        rows: np.ndarray,
        at: np.ndarray,
        actor: Sequence[str],
        kind: str,
        before: Sequence[str | None],
        after: Sequence[str | None],
        note: Sequence[str] | None = None,
        public: bool = False,
    ) -> None:
        count = len(rows)
        if not count:
            return
        notes = note if note is not None else [""] * count
        columns = [list(actor), [kind] * count, list(before), list(after), list(notes)]
        columns.append([public] * count)
        self.parts.append((rows, at, columns))

    def table(self, first_id: int, incident_ids: np.ndarray) -> Table:
        rows = np.concatenate([p[0] for p in self.parts])
        at = np.concatenate([p[1] for p in self.parts])
        order = np.lexsort((at, rows))
        merged = [
            list(itertools.chain.from_iterable(p[2][c] for p in self.parts)) for c in range(6)
        ]
        columns = {
            "id": np.arange(first_id, first_id + len(rows)),
            "incident": incident_ids[rows][order],
            "at": at[order],
            "actor": [merged[0][i] for i in order],
            "kind": [merged[1][i] for i in order],
            "before": [merged[2][i] for i in order],
            "after": [merged[3][i] for i in order],
            "note": [merged[4][i] for i in order],
            "public": [merged[5][i] for i in order],
        }
        return Table("incident_event", columns, timestamps=("at",), json=("before", "after"))


# The C encoder behind `json.dumps(v, ensure_ascii=False)`, made once: `JSONEncoder.encode`
# makes a new one for every value, which was half the cost of the events' JSON.
_ENCODE = json.encoder.c_make_encoder(
    None, None, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
)


def _dumps(values: list[dict[str, Any]]) -> list[str]:
    return ["".join(_ENCODE(v, 0)) for v in values]


def _chunk(
    world: _World,
    rng: np.random.Generator,
    spots: list[np.ndarray],
    at: np.ndarray,
    categories: np.ndarray,
    codes: list[str],
    now: float,
) -> _Chunk:
    n = len(at)
    wt = world.worktime
    ids = np.arange(world.next_ids["incident"] + 1, world.next_ids["incident"] + 1 + n)
    world.next_ids["incident"] += n
    x, y, ward = _places(world, rng, spots, categories)
    priority = rng.choice(len(PRIORITIES), size=n, p=PRIORITY_SHARE)
    department = world.departments[categories, ward]
    rule = world.rules[categories, ward]
    hours = world.hours[categories, priority]
    has_target = ~np.isnan(hours)
    h = np.where(has_target, hours, 24.0)
    warn_h = np.nan_to_num(world.warn_hours[categories, priority])
    due = np.where(has_target, wt.add(at, h * 3600), np.nan)
    warn = np.where(
        has_target & (warn_h > 0), wt.subtract(np.nan_to_num(due, nan=at), warn_h * 3600), np.nan
    )
    # Fate: rejected (and anything no rule routes), duplicate, or worked.
    fate = rng.random(n)
    rejected = (fate < REJECTED) | (department == 0)
    duplicate = ~rejected & (fate < REJECTED + DUPLICATE)
    worked = ~rejected & ~duplicate
    decided_at = wt.add(at, rng.uniform(0.5, 4, n) * 3600)
    assign_at = wt.add(at, rng.uniform(0.2, np.minimum(4.0, h / 4)) * 3600)
    on_it = worked & (rng.random(n) < WORKED_ON)
    start_at = wt.add(assign_at, rng.uniform(0.3, np.minimum(6.0, h / 3)) * 3600)
    waits = on_it & (rng.random(n) < WAITS)
    wait_at = wt.add(start_at, rng.uniform(0.5, 3, n) * 3600)
    spread = rng.lognormal(math.log(0.5), 0.55, n)
    stuck = np.exp(rng.uniform(math.log(3), math.log(3000), n))
    spread = np.where(rng.random(n) < STUCK, stuck, spread)
    last_step = np.where(waits, wait_at, np.where(on_it, start_at, assign_at))
    # Capped at about two working years: past `now` either way, and inside the calendar.
    resolve_at = np.maximum(
        wt.add(at, np.minimum(h * spread, 3000) * 3600), wt.add(last_step, 1800 * np.ones(n))
    )
    closes = rng.random(n) < CLOSED
    close_at = wt.add(resolve_at, rng.uniform(4, 30, n) * 3600)
    past = lambda t: t <= now  # noqa: E731 - read as "has happened by now"

    status = np.full(n, "new", dtype=object)
    status[(rejected | duplicate) & past(decided_at)] = "rejected"
    status[duplicate & past(decided_at)] = "duplicate"
    assigned = worked & past(assign_at)
    status[assigned] = "assigned"
    status[assigned & on_it & past(start_at)] = "in_progress"
    status[assigned & waits & past(wait_at)] = "waiting"
    resolved = assigned & past(resolve_at)
    status[resolved] = "resolved"
    status[resolved & closes & past(close_at)] = "closed"
    open_ = np.isin(status, OPEN_STATUSES)
    finished = ~open_
    end_at = np.where(worked, resolve_at, decided_at)
    # The SLA clock as the sweep left it: checked until the incident finished, or until it
    # began to wait on the citizen (the clock stops), or now.
    until = np.where(finished, end_at, np.where(status == "waiting", wait_at, now))
    running_until = has_target & ~(rejected | duplicate)
    breached = running_until & (due <= until)
    warned = running_until & ~np.isnan(warn) & (warn < due) & (warn <= until)
    breach_at = due + 30
    # The parent of the unit holding it; an overdue incident with none above stays breached.
    parent = np.array([world.parents.get(int(d), 0) for d in department])
    escalates = breached & (parent > 0)
    decision_at = wt.add(breach_at, (2 + ids % 20) * 3600.0)
    answered = escalates & past(decision_at)
    pending = escalates & ~answered
    by_staff = (
        (status == "in_progress") & ~breached & (rng.random(n) < ESCALATED_BY_STAFF) & (parent > 0)
    )
    staff_escalated_at = np.minimum(wt.add(start_at, rng.uniform(0.5, 3, n) * 3600), now - 60)
    sla_state = np.where(breached, "breached", np.where(warned, "warned", ""))
    escalated_to = np.where(pending | by_staff, parent, 0)
    reasons = np.array(["needs_budget", "needs_budget", "needs_other_agency", "beyond_authority"])
    staff_reason = reasons[rng.integers(0, len(reasons), n)]
    escalation_reason = np.where(pending, OVERDUE, np.where(by_staff, staff_reason, ""))
    public_note = [
        PUBLIC_NOTES[r] if s else "" for r, s in zip(staff_reason, by_staff, strict=True)
    ]
    officer = [world.officers.get(int(d)) for d in department]
    assignee = np.array([o[0] if o and a else 0 for o, a in zip(officer, assigned, strict=True)])
    worker = [o[1] if o else world.dispatcher for o in officer]
    closed_at = np.where(finished, np.where(status == "closed", close_at, end_at), np.nan)
    paused_at = np.where(status == "waiting", wait_at, np.nan)

    # Texts
    cats = world.categories
    description_pick = rng.integers(0, 1 << 30, n)
    descriptions = [
        cats[c].descriptions[d % len(cats[c].descriptions)]
        for c, d in zip(categories.tolist(), description_pick.tolist(), strict=True)
    ]
    titles = [
        f"{cats[c].name_vi}: {d}"[:300]
        for c, d in zip(categories.tolist(), descriptions, strict=True)
    ]
    house = rng.integers(1, 240, n)
    street_pick = rng.integers(0, 1 << 30, n)
    addresses = [
        (f"{num} {world.streets[w][s % len(world.streets[w])]}, " if world.streets[w] else "")
        + world.area_names[w]
        for num, w, s in zip(house.tolist(), ward.tolist(), street_pick.tolist(), strict=True)
    ]
    people = world.people
    family, middle, given = (people.get(k) or [""] for k in ("family", "middle", "given"))
    pick = rng.integers(0, 1 << 30, (n, 3))
    names = [
        f"{family[a % len(family)]} {middle[b % len(middle)]} {given[c % len(given)]}".strip()
        if a % 10 < 7
        else ""
        for a, b, c in pick.tolist()
    ]
    contact_kind = rng.random(n)
    phones = rng.integers(10**7, 10**8, n)
    contacts = [
        f"nguoidan{i}@example.com" if k < 0.3 else f"09{p:08d}" if k < 0.65 else ""
        for i, k, p in zip(ids.tolist(), contact_kind.tolist(), phones.tolist(), strict=True)
    ]
    category_ids = np.array([c.id for c in cats])[categories]
    area_ids = world.area_ids[ward]

    # The timeline
    ev = _Events()
    everyone = np.arange(n)
    due_iso = _iso(due)
    created_after = _dumps(
        [
            {
                "title": titles[i],
                "description": descriptions[i],
                "category": int(category_ids[i]),
                "status": "new",
                "priority": PRIORITIES[priority[i]],
                "lon": float(x[i]),
                "lat": float(y[i]),
                "address": addresses[i],
                "area": int(area_ids[i]),
            }
            for i in range(n)
        ]
    )
    ev.add(everyone, at, [CITIZEN] * n, "created", [None] * n, created_after, public=True)
    routed = np.flatnonzero((department > 0) | has_target)
    ev.add(
        routed,
        at[routed],
        [ROUTER] * len(routed),
        "routed",
        ['{"department": null, "sla_due_at": null}'] * len(routed),
        _dumps(
            [
                {
                    "department": int(department[i]) or None,
                    "sla_due_at": due_iso[i],
                    "rule": int(rule[i]) or None,
                    "target": int(world.targets[categories[i], priority[i]]) or None,
                }
                for i in routed
            ]
        ),
    )
    notes = world.notes
    note_of = _note_picker(notes, rng)
    # Rejected and duplicate reports: one decision by the dispatcher.
    for mask, target in ((rejected, "rejected"), (duplicate, "duplicate")):
        rows = np.flatnonzero(mask & past(decided_at))
        ev.add(
            rows,
            decided_at[rows],
            [world.dispatcher] * len(rows),
            "status",
            _dumps([{"status": "new", "sla_due_at": due_iso[i]} for i in rows]),
            _dumps([{"status": target, "sla_due_at": due_iso[i]} for i in rows]),
            note_of("rejected", len(rows)),
            public=True,
        )
    rows = np.flatnonzero(assigned)
    ev.add(
        rows,
        assign_at[rows],
        [world.dispatcher] * len(rows),
        "assigned",
        _dumps(
            [{"department": int(department[i]), "assignee": None, "status": "new"} for i in rows]
        ),
        _dumps(
            [
                {
                    "department": int(department[i]),
                    "assignee": int(assignee[i]) or None,
                    "status": "assigned",
                }
                for i in rows
            ]
        ),
    )
    _status_events(
        ev,
        assigned & on_it & past(start_at),
        start_at,
        worker,
        "assigned",
        "in_progress",
        due_iso,
        note_of("in_progress", n),
    )
    _status_events(
        ev,
        assigned & waits & past(wait_at),
        wait_at,
        worker,
        "in_progress",
        "waiting",
        due_iso,
        note_of("comment", n),
    )
    before_resolved = np.where(waits, "waiting", np.where(on_it, "in_progress", "assigned"))
    rows = np.flatnonzero(resolved)
    ev.add(
        rows,
        resolve_at[rows],
        [worker[i] for i in rows],
        "status",
        _dumps([{"status": before_resolved[i], "sla_due_at": due_iso[i]} for i in rows]),
        _dumps([{"status": "resolved", "sla_due_at": due_iso[i]} for i in rows]),
        note_of("resolved", len(rows)),
        public=True,
    )
    _status_events(
        ev,
        resolved & closes & past(close_at),
        close_at,
        [world.dispatcher] * n,
        "resolved",
        "closed",
        due_iso,
        [""] * n,
    )
    # The sweep: warnings, breaches (escalated to the unit above), and the leaders' answers.
    rows = np.flatnonzero(warned)
    ev.add(
        rows,
        warn[rows],
        [SWEEPER] * len(rows),
        "sla_warning",
        ['{"sla_state": ""}'] * len(rows),
        _dumps([{"sla_state": "warned", "sla_due_at": due_iso[i]} for i in rows]),
    )
    rows = np.flatnonzero(breached)
    ev.add(
        rows,
        breach_at[rows],
        [SWEEPER] * len(rows),
        "sla_breached",
        _dumps([_holding(department[i], 0, 0, "", due_iso[i]) for i in rows]),
        _dumps(
            [
                _holding(department[i], parent[i], 1, OVERDUE, due_iso[i])
                if escalates[i]
                else {"sla_state": "breached", "sla_due_at": due_iso[i]}
                for i in rows
            ]
        ),
    )
    rows = np.flatnonzero(answered)
    ev.add(
        rows,
        decision_at[rows],
        [world.leaders.get(int(parent[i]), world.dispatcher) for i in rows],
        "decided",
        _dumps([_holding(department[i], parent[i], 1, OVERDUE, due_iso[i]) for i in rows]),
        _dumps(
            [_holding(department[i], 0, 0, "", due_iso[i]) | {"decision": "returned"} for i in rows]
        ),
        note_of("returned", len(rows)),
    )
    rows = np.flatnonzero(by_staff)
    ev.add(
        rows,
        staff_escalated_at[rows],
        [worker[i] for i in rows],
        "escalated",
        _dumps([_holding(department[i], 0, 0, "", due_iso[i]) for i in rows]),
        _dumps(
            [
                _holding(department[i], parent[i], 1, staff_reason[i], due_iso[i])
                | {"public_note": public_note[i]}
                for i in rows
            ]
        ),
        note_of("escalation", len(rows)),
    )
    events = ev.table(world.next_ids["incident_event"] + 1, ids)
    world.next_ids["incident_event"] += len(events)

    # Escalations: the sweep's (answered or pending) and the staff's (pending).
    esc_rows = np.concatenate([np.flatnonzero(escalates), np.flatnonzero(by_staff)])
    auto = np.zeros(len(esc_rows), dtype=bool)
    auto[: int(escalates.sum())] = True
    first = world.next_ids["escalation"] + 1
    world.next_ids["escalation"] += len(esc_rows)
    returned_note = note_of("returned", len(esc_rows))
    escalations = Table(
        "escalation",
        {
            "id": np.arange(first, first + len(esc_rows)),
            "incident": ids[esc_rows],
            "level": [1] * len(esc_rows),
            "from_department": department[esc_rows],
            "to_department": parent[esc_rows],
            "reason": [
                OVERDUE if a else staff_reason[i] for a, i in zip(auto, esc_rows, strict=True)
            ],
            "note": [
                "" if a else n_
                for a, n_ in zip(auto, note_of("escalation", len(esc_rows)), strict=True)
            ],
            "automatic": auto.tolist(),
            "raised_by": [SWEEPER if a else worker[i] for a, i in zip(auto, esc_rows, strict=True)],
            "raised_at": np.where(auto, breach_at[esc_rows], staff_escalated_at[esc_rows]),
            "decision": ["returned" if answered[i] else "" for i in esc_rows],
            "decided_by": [
                world.leaders.get(int(parent[i]), world.dispatcher) if answered[i] else ""
                for i in esc_rows
            ],
            "decided_at": np.where(answered[esc_rows], decision_at[esc_rows], np.nan),
            "decision_note": [
                returned_note[k] if answered[i] else "" for k, i in enumerate(esc_rows)
            ],
            "new_expected_at": np.full(len(esc_rows), np.nan),
        },
        timestamps=("raised_at", "decided_at", "new_expected_at"),
    )
    updated_at = np.maximum.reduceat(events.columns["at"], _starts(events.columns["incident"]))
    incidents = Table(
        "incident",
        {
            "id": ids,
            "code": codes,
            "source": [SOURCE] * n,
            "category": category_ids,
            "title": titles,
            "description": descriptions,
            "location": (x, y),
            "lon": x,
            "lat": y,
            "address": addresses,
            "area": area_ids,
            "status": status.tolist(),
            "priority": [PRIORITIES[p] for p in priority.tolist()],
            "department": np.where(
                rejected | duplicate, np.where(department > 0, department, 0), department
            ),
            "assignee": assignee,
            "sla_due_at": due,
            "sla_warn_at": warn,
            "sla_state": sla_state.tolist(),
            "sla_paused_at": paused_at,
            "escalation_level": (escalated_to > 0).astype(np.int64),
            "escalated_to": escalated_to,
            "escalation_reason": escalation_reason.tolist(),
            "public_note": public_note,
            "expected_at": np.full(n, np.nan),
            "reporter_name": names,
            "reporter_contact": contacts,
            "duplicate_of": np.where(
                duplicate & past(decided_at) & (ids > 1), np.maximum(ids - 1 - (ids % 97), 1), 0
            ),
            "created_at": at,
            "updated_at": updated_at,
            "closed_at": closed_at,
        },
        timestamps=(
            "sla_due_at",
            "sla_warn_at",
            "sla_paused_at",
            "expected_at",
            "created_at",
            "updated_at",
            "closed_at",
        ),
        geometry="location",
        nullable_ids=("category", "area", "department", "assignee", "escalated_to", "duplicate_of"),
    )
    tables = [incidents, events, escalations]
    if world.has_reports:
        tables.append(_reports(world, rng, ids, at, contacts, status, resolve_at, now))
    counts = {s: int(c) for s, c in zip(*np.unique(status, return_counts=True), strict=True)}
    return _Chunk(tables, counts)


def _starts(sorted_ids: np.ndarray) -> np.ndarray:
    """Where each run of equal values begins in a sorted array."""
    return np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))


def _holding(department: Any, to: Any, level: int, reason: str, due: str | None) -> dict[str, Any]:
    return {
        "escalated_to": int(to) or None,
        "escalation_level": level,
        "escalation_reason": reason,
        "department": int(department) or None,
        "sla_due_at": due,
    }


def _status_events(
    ev: _Events,
    mask: np.ndarray,
    at: np.ndarray,
    actors: Sequence[str],
    before: str,
    after: str,
    due_iso: list[str | None],
    notes: Sequence[str],
) -> None:
    rows = np.flatnonzero(mask)
    ev.add(
        rows,
        at[rows],
        [actors[i] for i in rows],
        "status",
        _dumps([{"status": before, "sla_due_at": due_iso[i]} for i in rows]),
        _dumps([{"status": after, "sla_due_at": due_iso[i]} for i in rows]),
        [notes[i] for i in rows] if len(notes) > len(rows) else list(notes)[: len(rows)],
        public=True,
    )


def _note_picker(notes: dict[str, list[str]], rng: np.random.Generator) -> Any:
    def pick(kind: str, count: int) -> list[str]:
        options = notes.get(kind) or [""]
        return [options[i] for i in rng.integers(0, len(options), count).tolist()]

    return pick


def _reports(
    world: _World,
    rng: np.random.Generator,
    ids: np.ndarray,
    at: np.ndarray,
    contacts: list[str],
    status: np.ndarray,
    resolve_at: np.ndarray,
    now: float,
) -> Table:
    """The citizen report behind each incident: Open311 token, channel, contact, rating."""
    n = len(ids)
    raw = base64.urlsafe_b64encode(rng.bytes(TOKEN_BYTES * n)).decode()
    size = TOKEN_BYTES * 4 // 3
    tokens = [raw[i * size : (i + 1) * size] for i in range(n)]
    first = world.next_ids["fr_report"] + 1
    world.next_ids["fr_report"] += n
    rated_at = resolve_at + rng.uniform(2, 72, n) * 3600
    rated = np.isin(status, ("resolved", "closed")) & (rng.random(n) < RATED) & (rated_at <= now)
    stars = rng.choice([5, 4, 3, 2, 1], size=n, p=[0.45, 0.30, 0.12, 0.07, 0.06])
    via_app = rng.random(n) < 0.35
    return Table(
        "fr_report",
        {
            "id": np.arange(first, first + n),
            "incident": ids,
            "token": tokens,
            "channel": np.where(via_app, "open311", "portal").tolist(),
            "api_key": np.zeros(n, dtype=np.int64),
            "attributes": ["{}"] * n,
            "email": [c if "@" in c else "" for c in contacts],
            "phone": [c if c.startswith("09") else "" for c in contacts],
            "account_id": [""] * n,
            "device_id": [
                f"bench-device-{i % 5000}" if a else ""
                for i, a in zip(ids.tolist(), via_app.tolist(), strict=True)
            ],
            "media_url": [""] * n,
            "rating": np.where(rated, stars, 0),
            "rating_comment": [""] * n,
            "rated_at": np.where(rated, rated_at, np.nan),
            "reopen_count": [0] * n,
            "hidden": [False] * n,
            "created_at": at,
        },
        timestamps=("rated_at", "created_at"),
        json=("attributes",),
        nullable_ids=("api_key", "rating"),
    )


def _codes(world: _World, at: np.ndarray) -> tuple[list[str], dict[int, int]]:
    """Ticket codes in filing order, numbered on from the counter of each (UTC) year."""
    years = at.astype("datetime64[s]").astype("datetime64[Y]").astype(int) + 1970
    codes: list[str] = []
    last = dict(world.counters)
    for year in years.tolist():
        last[year] = last.get(year, 0) + 1
        codes.append(f"PT-{year}-{last[year]:06d}")
    return codes, last


# Running it


@dataclass
class _Tally:
    build_s: float = 0.0
    write_s: float = 0.0
    raw_s: float = 0.0
    raw_rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)


async def _load(
    loader: Loader,
    world: _World,
    moments: np.ndarray,
    codes: list[str],
    seed: int,
    now: float,
    progress: bool,
    raw_baseline: bool,
) -> _Tally:
    tally = _Tally(counts={t: 0 for t in ("incident", "incident_event", "escalation", "fr_report")})
    spots = _hotspots(world, np.random.default_rng([seed, 0, 1]))
    n = moments.shape[1]
    bar = Progress("incidents", n, enabled=progress)
    for begin in range(0, n, CHUNK):
        end = min(begin + CHUNK, n)
        t0 = time.perf_counter()
        chunk = _chunk(
            world,
            # One stream per chunk: the same data whatever else changes in the run.
            np.random.default_rng([seed, begin]),
            spots,
            moments[0][begin:end],
            moments[1][begin:end].astype(np.int64),
            codes[begin:end],
            now,
        )
        t1 = time.perf_counter()
        for table in chunk.tables:
            await loader.write(table)
            tally.counts[table.name] += len(table)
        t2 = time.perf_counter()
        if raw_baseline:
            for table in chunk.tables:
                await loader.write_raw(table)
                tally.raw_rows += len(table)
        tally.raw_s += time.perf_counter() - t2
        tally.build_s += t1 - t0
        tally.write_s += t2 - t1
        for status, count in chunk.statuses.items():
            tally.statuses[status] = tally.statuses.get(status, 0) + count
        bar.update(end - begin)
    bar.close()
    return tally


async def generate(
    database_url: str,
    n: int = DEFAULT_INCIDENTS,
    seed: int = DEFAULT_SEED,
    progress: bool = True,
    now: dt.datetime | None = None,
    raw_baseline: bool = False,
) -> GenerateResult:
    """Generate and load `n` incidents into the migrated, seeded database at `database_url`.
    With `raw_baseline`, each batch is also written bare into plain tables (no index, trigger
    or constraint), timed apart, and those tables dropped: the load's baseline, same rows."""
    if n < 1:
        raise ValueError("the number of incidents must be at least 1")
    started = time.perf_counter()
    moment = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    async with open_loader(database_url) as loader:
        world = await _world(loader, moment)
        moments = _moments(world, np.random.default_rng(seed), n, moment.timestamp())
        codes, counters = _codes(world, moments[0])
        await loader.begin(raw_baseline)
        try:
            tally = await _load(
                loader, world, moments, codes, seed, moment.timestamp(), progress, raw_baseline
            )
        finally:
            # Also after a failure: the indexes, triggers and counters are put back.
            finishing = time.perf_counter()
            await loader.finish(counters)
            finish_s = time.perf_counter() - finishing
    return GenerateResult(
        incidents=tally.counts["incident"],
        events=tally.counts["incident_event"],
        reports=tally.counts["fr_report"],
        escalations=tally.counts["escalation"],
        build_s=tally.build_s,
        write_s=tally.write_s,
        finish_s=finish_s,
        total_s=time.perf_counter() - started,
        raw_rows=tally.raw_rows,
        raw_write_s=tally.raw_s,
        statuses=dict(sorted(tally.statuses.items())),
    )


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.generate",
        description="Load N incidents of the last 12 months, with histories, for the benchmarks.",
    )
    parser.add_argument("--incidents", type=int, default=DEFAULT_INCIDENTS)
    parser.add_argument(
        "--database-url",
        required=True,
        help="a database the platform migrated and seeded: sqlite:///path or postgresql://…/db",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.incidents < 1:
        parser.error("--incidents must be at least 1")
    return args


def describe(result: GenerateResult) -> Iterator[str]:
    yield (
        f"{result.incidents:,} incidents, {result.events:,} events "
        f"({result.events / max(result.incidents, 1):.1f} each), {result.reports:,} reports, "
        f"{result.escalations:,} escalations: {result.rows:,} rows in {result.total_s:.1f} s"
    )
    yield (
        f"build {result.build_s:.1f} s, write {result.write_s:.1f} s, "
        f"indexes {result.finish_s:.1f} s: {result.load_rate:,.0f} rows/s loaded, "
        f"{result.rows / result.total_s:,.0f} rows/s end to end"
    )
    yield "statuses: " + ", ".join(f"{k} {v:,}" for k, v in result.statuses.items())


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    result = asyncio.run(
        generate(args.database_url, args.incidents, args.seed, progress=not args.quiet)
    )
    for line in describe(result):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
