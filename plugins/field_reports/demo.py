"""`ioc demo`: a ready Phan Thiết demo, then the portal served as `ioc serve` serves it.

    ioc demo                 seed (if needed), print the addresses, logins and API key, serve
    ioc demo --seed-only     seed and stop

What it builds, each step skipped where its result is already there (a second run duplicates
nothing): the database migrated (`ioc init`) and `field_reports` enabled; the wards of
`demo_data/wards.geojson` (approximate polygons drawn for the demo, codes `DEMO-…`); the
province → city → departments and ward offices; Vietnamese report services with groups and
custom fields; routing rules and SLA targets; staff accounts; an API key for a demo mobile app
(a key is shown only once, so each run revokes the previous demo key and prints a new one);
and, into a platform with no incidents yet, 12 months of reports with their histories.

How the reports get their past. The last LIVE_DAYS days are filed and worked through the
platform's services (`intake.submit`, `assign`, `change_status`, `escalate`, `decide`, …), so
intake, routing, the timeline and escalations are the platform's own; each service stamps the
present, so right after each call the rows it wrote are moved to their moment in the past by a
direct table update (`_Clock`). Older reports (finished, but for a few waiting on a promised
date) are written in bulk by `_History`, which replays the same workflow in memory (the
workflow's transitions, the routing rules and SLA targets read from the database, the working
calendar, the SLA sweep's warnings and automatic escalations): through the services they would
take about 20 ms a change on SQLite, minutes for a year. Finally the SLA sweep runs once, as
it would in the first minute of serving. The demo's history sends no notifications: while
seeding, the task queues are bound to an in-memory broker, so the outbox events are recorded as
dispatched and no handler runs.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import random
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import shapely
from dramatiq.brokers.stub import StubBroker
from shapely.geometry import Point, shape
from shapely.prepared import prep

from field_reports import intake
from field_reports.tables import Report, Service, ServiceField, ServiceGroup
from ioc_core.auth.apikeys import create_api_key, revoke_api_key
from ioc_core.auth.departments import save_department
from ioc_core.auth.errors import FormError
from ioc_core.auth.tables import ApiKey, Department, User
from ioc_core.auth.users import create_user
from ioc_core.cli import init, serve
from ioc_core.clitools import run_async, runtime_of
from ioc_core.db.transactions import write_transaction
from ioc_core.geo.areas import import_areas
from ioc_core.geo.column import to_db
from ioc_core.i18n import TIMEZONE, day_noon, day_start
from ioc_core.incidents import service
from ioc_core.incidents.tables import (
    Area,
    Category,
    Incident,
    IncidentEvent,
    IncidentFollower,
    TicketCounter,
)
from ioc_core.incidents.workflow import OPEN_STATUSES, TransitionError, check_transition
from ioc_core.plugins import lifecycle
from ioc_core.runtime import Runtime
from ioc_core.sla import clock, escalation, routing, sweep
from ioc_core.sla.calendar import WorkCalendar
from ioc_core.sla.config import save_routing_rule, save_sla_target
from ioc_core.sla.tables import Escalation, RoutingRule, SlaTarget

PLUGIN = "field_reports"
DATA = Path(__file__).parent / "demo_data"
WARDS_FILE = DATA / "wards.geojson"
CITY_FILE = DATA / "city.json"
WARDS_SOURCE = "demo: approximate, not official boundaries"
ACTOR = "cli:demo"
# One password for every demo account: it is printed, and it is for the demo only.
PASSWORD = "PhanThiet-demo-2026"
API_KEY_NAME = "demo mobile app"
DEFAULT_REPORTS = 3000
HISTORY_DAYS = 365
# Reports of the last days go through the services one change at a time (see the docstring).
LIVE_DAYS = 7
# Rows per bulk INSERT of the older history.
BATCH = 150
RUNNING = sweep.RUNNING
CITIZEN = intake.ACTOR


@click.command("demo")
@click.option("--seed-only", is_flag=True, help="Seed the demo data and stop; do not serve.")
@click.option(
    "--reports",
    default=DEFAULT_REPORTS,
    show_default=True,
    type=click.IntRange(0, 100_000),
    help="Reports over the last 12 months (into a platform with no incidents yet).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_context
def demo_command(ctx: click.Context, seed_only: bool, reports: int, host: str, port: int) -> None:
    """Build a ready Phan Thiết demo (wards, departments, services, staff, an API key and a
    year of reports) and serve it."""
    runtime = runtime_of(ctx)
    ctx.invoke(init)
    with _quiet_events(runtime):
        key = run_async(_seed(runtime, reports))
    if seed_only:
        click.echo("demo data ready; `ioc demo` serves it")
        return
    base = f"http://{host}:{port}"
    click.echo("")
    click.echo(f"Staff portal:   {base}/login")
    click.echo(f"Citizen portal: {base}/report")
    click.echo(f"Open311:        {base}/open311/v2/discovery.json")
    click.echo(f"Logins (password {PASSWORD} for each; for the demo only):")
    for user in _city()["users"]:
        click.echo(f"  {user['username']:<14} {user['role']:<11} {user['full_name']}")
    click.echo(f"API key of the {API_KEY_NAME} (permission {PLUGIN}.submit): {key}")
    click.echo("")
    ctx.invoke(serve, host=host, port=port)


@contextmanager
def _quiet_events(runtime: Runtime) -> Iterator[None]:
    """Bind every task to an in-memory broker while seeding: the demo's past sends nothing
    (no notices about last year) and nothing waits in the real queues; then give each task
    its actor back."""
    tasks = [
        (plugin, task, task.actor)
        for plugin, answers in runtime.registry.per_plugin("tasks").items()
        for answer in answers
        for task in answer
    ]
    stub = StubBroker()
    for plugin, task, _ in tasks:
        task.bind(stub, plugin)
    try:
        yield
    finally:
        for _, task, actor in tasks:
            task.actor = actor
        stub.close()


def _city() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CITY_FILE.read_text(encoding="utf-8"))
    return data


async def _seed(runtime: Runtime, reports: int) -> str:
    """Everything but serving; returns the demo app's new API key."""
    enabled = await lifecycle.enable(runtime.registry, PLUGIN, ACTOR)
    click.echo(f"enabled: {', '.join(enabled)}" if enabled else f"{PLUGIN} already enabled")
    city = _city()
    start = dt.datetime.now(TIMEZONE).date() - dt.timedelta(days=HISTORY_DAYS + 1)
    wards = await _wards(start)
    units = await _departments(city, wards)
    categories = await _services(city)
    await _routing(city, units, categories, wards)
    users = await _users(city)
    key_id, key = await _api_key(runtime)
    if await Incident.exists():
        click.echo("reports: the platform has incidents already; none added")
    elif reports:
        limits = intake.Limits.of(runtime.registry.plugin_settings(PLUGIN))
        world = await _World.load(city, units, categories, wards, users, key_id)
        await _reports(world, limits, reports)
    return key


# Reference data


async def _wards(start: dt.date) -> dict[str, int]:
    """The demo wards by code → area id, imported valid from the start of the history."""
    codes = [f["properties"]["code"] for f in json.loads(WARDS_FILE.read_text())["features"]]
    present = await Area.select(Area.id, Area.code).where(
        Area.code.is_in(codes) & Area.valid_to.is_null()
    )
    if len(present) < len(codes):
        count = await import_areas(WARDS_FILE, valid_from=start, source=WARDS_SOURCE)
        click.echo(f"wards: {count} imported (approximate demo polygons)")
        present = await Area.select(Area.id, Area.code).where(
            Area.code.is_in(codes) & Area.valid_to.is_null()
        )
    return {r["code"]: r["id"] for r in present}


async def _departments(city: Mapping[str, Any], wards: Mapping[str, int]) -> dict[str, int]:
    """Province → city → departments and ward offices; code → id."""
    areas = {r["code"]: r for r in await Area.select(Area.code, Area.name_vi, Area.name_en)}
    wanted: list[tuple[dict[str, Any], str | None, str]] = [
        (city["province"], None, "province"),
        (city["city"], city["province"]["code"], "city"),
        *((d, city["city"]["code"], "department") for d in city["departments"]),
    ]
    for code, ward in city["wards"].items():
        office = {
            "code": ward["office"],
            # "Phường Phú Thủy" → "UBND phường Phú Thủy"
            "name_vi": f"UBND {areas[code]['name_vi'][:1].lower()}{areas[code]['name_vi'][1:]}",
            "name_en": f"{areas[code]['name_en']} People's Committee",
        }
        wanted.append((office, city["city"]["code"], "ward"))
    ids = {r["code"]: r["id"] for r in await Department.select(Department.id, Department.code)}
    added = 0
    for unit, parent, level in wanted:
        if unit["code"] in ids:
            continue
        values = {
            "code": unit["code"],
            "name_vi": unit["name_vi"],
            "name_en": unit["name_en"],
            "level": level,
            "parent": ids[parent] if parent else "",
        }
        ids[unit["code"]] = (await save_department(values, ACTOR)).id
        added += 1
    click.echo(f"departments: {added} added, {len(wanted) - added} already there")
    return ids


async def _services(city: Mapping[str, Any]) -> dict[str, int]:
    """Service groups, categories, their services and custom fields; category code → id."""
    groups = {
        r["code"]: r["id"] for r in await ServiceGroup.select(ServiceGroup.id, ServiceGroup.code)
    }
    for position, group in enumerate(city["groups"]):
        if group["code"] not in groups:
            row = ServiceGroup(
                code=group["code"],
                name_vi=group["name_vi"],
                name_en=group["name_en"],
                position=position,
            )
            await row.save()
            groups[group["code"]] = row.id
    known = {r["code"]: r["id"] for r in await Category.select(Category.id, Category.code)}
    added = 0
    for position, spec in enumerate(city["categories"]):
        if spec["code"] in known:
            continue
        async with write_transaction():
            category = Category(code=spec["code"], name_vi=spec["name_vi"], name_en=spec["name_en"])
            await category.save()
            row = Service(
                category=category.id,
                group=groups[spec["group"]],
                description_vi=f"Phản ánh về {spec['name_vi'].lower()}",
                description_en=f"Report a problem: {spec['name_en'].lower()}",
                keywords=", ".join(d.split(",")[0].lower() for d in spec["descriptions"][:2]),
                position=position,
            )
            await row.save()
            for index, spec_field in enumerate(spec["fields"]):
                await ServiceField.insert(
                    ServiceField(
                        service=row.id,
                        code=spec_field["code"],
                        datatype=spec_field["datatype"],
                        required=spec_field.get("required", False),
                        position=index + 1,
                        label_vi=spec_field["label_vi"],
                        label_en=spec_field["label_en"],
                        options=[
                            {"key": key, "name_vi": vi, "name_en": en}
                            for key, vi, en in spec_field.get("options", ())
                        ],
                    )
                )
        known[spec["code"]] = category.id
        added += 1
    click.echo(f"services: {added} added, {len(city['categories']) - added} already there")
    return known


async def _routing(
    city: Mapping[str, Any],
    units: Mapping[str, int],
    categories: Mapping[str, int],
    wards: Mapping[str, int],
) -> None:
    """Each service to its department (sidewalks to the ward office of the place), SLA targets
    per service in working hours, and a catch-all of each."""
    rules = {(r["category"], r["area"]) for r in await RoutingRule.select()}
    targets = {(r["category"], r["priority"]) for r in await SlaTarget.select()}
    wanted_rules: list[tuple[int | None, int | None, int]] = [(None, None, units["phong-qldt"])]
    wanted_targets: list[tuple[int | None, str, float, float]] = [
        (None, "", 24.0, 6.0),
        (None, "urgent", 4.0, 1.0),
    ]
    for spec in city["categories"]:
        category = categories[spec["code"]]
        wanted_rules.append((category, None, units[spec["department"]]))
        if spec.get("by_ward"):
            wanted_rules += [
                (category, wards[code], units[ward["office"]])
                for code, ward in city["wards"].items()
            ]
        wanted_targets.append((category, "", spec["hours"], spec["warn_hours"]))
    for category, area, department in wanted_rules:
        if (category, area) not in rules:
            values = {
                "category": str(category or ""),
                "area": str(area or ""),
                "department": str(department),
            }
            await save_routing_rule(values, ACTOR)
    for category, priority, hours, warn in wanted_targets:
        if (category, priority) not in targets:
            values = {
                "category": str(category or ""),
                "priority": priority,
                "hours": str(hours),
                "warn_hours": str(warn),
            }
            await save_sla_target(values, ACTOR)


async def _users(city: Mapping[str, Any]) -> dict[str, int]:
    """The staff accounts (created once; a later run leaves them as they are); name → id."""
    existing = {r["username"]: r["id"] for r in await User.select(User.id, User.username)}
    added = 0
    for spec in city["users"]:
        if spec["username"] in existing:
            continue
        user = await create_user(
            spec["username"],
            PASSWORD,
            roles=[spec["role"]],
            actor=ACTOR,
            full_name=spec["full_name"],
            departments=[spec["department"]] if spec["department"] else [],
        )
        existing[user.username] = user.id
        added += 1
    click.echo(f"staff accounts: {added} added, {len(city['users']) - added} already there")
    return existing


async def _api_key(runtime: Runtime) -> tuple[int, str]:
    """A new key for the demo app; the one of a previous run is revoked (a key is shown once)."""
    previous = await ApiKey.select(ApiKey.id).where(
        (ApiKey.name == API_KEY_NAME) & ApiKey.revoked_at.is_null()
    )
    for row in previous:
        await revoke_api_key(row["id"], ACTOR)
    row, key = await create_api_key(
        API_KEY_NAME, [f"{PLUGIN}.submit"], ACTOR, runtime.registry.permissions.keys()
    )
    return row.id, key


# Reports: who and what


@dataclass(frozen=True)
class _Service:
    code: str
    id: int
    name_vi: str
    weight: float
    rainy: bool
    night: bool
    descriptions: tuple[str, ...]
    fields: tuple[dict[str, Any], ...]


@dataclass
class _Ward:
    code: str
    id: int
    name_vi: str
    weight: float
    flood: float
    streets: tuple[str, ...]
    shape: Any
    hotspots: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class _World:
    """What the reports are made of, read from the demo data and the database once."""

    calendar: WorkCalendar
    services: list[_Service]
    wards: list[_Ward]
    notes: dict[str, list[str]]
    people: dict[str, list[str]]
    users: dict[str, int]
    officers: dict[int, str]
    leaders: dict[int, str]
    parents: dict[int, int | None]
    key_id: int
    rules: dict[tuple[int, int], dict[str, Any] | None] = field(default_factory=dict)
    targets: dict[int, dict[str, Any] | None] = field(default_factory=dict)
    fields: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    async def load(
        cls,
        city: Mapping[str, Any],
        units: Mapping[str, int],
        categories: Mapping[str, int],
        wards: Mapping[str, int],
        users: Mapping[str, int],
        key_id: int,
    ) -> _World:
        shapes = {
            f["properties"]["code"]: f
            for f in json.loads(WARDS_FILE.read_text(encoding="utf-8"))["features"]
        }
        officers: dict[int, str] = {}
        leaders: dict[int, str] = {}
        for spec in city["users"]:
            unit = units.get(spec["department"] or "")
            if unit is not None and spec["role"] == "officer":
                officers.setdefault(unit, spec["username"])
            if unit is not None and spec["role"] == "leader":
                leaders.setdefault(unit, spec["username"])
        parents = {
            r["id"]: r["parent"] for r in await Department.select(Department.id, Department.parent)
        }
        return cls(
            calendar=await clock.load_calendar(),
            services=[
                _Service(
                    s["code"],
                    categories[s["code"]],
                    s["name_vi"],
                    s["weight"],
                    s.get("rainy", False),
                    s.get("night", False),
                    tuple(s["descriptions"]),
                    tuple(s["fields"]),
                )
                for s in city["categories"]
            ],
            wards=[
                _Ward(
                    code,
                    wards[code],
                    shapes[code]["properties"]["name_vi"],
                    w["weight"],
                    w["flood"],
                    tuple(w["streets"]),
                    shape(shapes[code]["geometry"]),
                )
                for code, w in city["wards"].items()
            ],
            notes=city["notes"],
            people=city["people"],
            users=dict(users),
            officers=officers,
            leaders=leaders,
            parents=parents,
            key_id=key_id,
        )

    async def rule_for(self, category: int, area: int) -> dict[str, Any] | None:
        """The routing rule that applies (read once per category and ward)."""
        if (category, area) not in self.rules:
            self.rules[category, area] = await routing.rule_for(category, area)
        return self.rules[category, area]

    async def target_for(self, category: int) -> dict[str, Any] | None:
        """The SLA target that applies; intake files every report at normal priority."""
        if category not in self.targets:
            self.targets[category] = await routing.target_for(category, "normal")
        return self.targets[category]

    async def fields_of(self, service: _Service) -> list[dict[str, Any]]:
        """The service's custom fields (read once per service)."""
        if service.id not in self.fields:
            row = await Service.select(Service.id).where(Service.category == service.id).first()
            assert row is not None
            self.fields[service.id] = await intake.fields_of(row["id"])
        return self.fields[service.id]

    def working(self, start: dt.datetime, hours: float) -> dt.datetime:
        return self.calendar.add(start, dt.timedelta(hours=hours))


@dataclass(frozen=True)
class _Step:
    at: dt.datetime
    kind: str
    actor: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Plan:
    """One citizen report and what staff will do with it."""

    at: dt.datetime
    service: _Service
    ward: _Ward
    lon: float
    lat: float
    submission: intake.Submission
    rule: dict[str, Any] | None
    target: dict[str, Any] | None
    steps: list[_Step] = field(default_factory=list)
    rating: tuple[int, str, dt.datetime] | None = None


# Month → how much more (or less) it floods than on average: the rainy season is May to November.
RAIN = {1: 0.05, 2: 0.02, 3: 0.02, 4: 0.1, 5: 0.6, 6: 1.0, 7: 1.3, 8: 1.8, 9: 2.2, 10: 2.5}
RAIN |= {11: 1.2, 12: 0.3}
# Local hour → reports filed: mornings and afternoons; public-order and noise also late.
DAY_HOURS = [0, 0, 0, 0, 0, 1, 2, 6, 9, 10, 9, 7, 4, 4, 7, 8, 8, 6, 4, 4, 4, 3, 2, 1]
NIGHT_HOURS = [3, 2, 1, 0, 0, 0, 1, 2, 3, 3, 3, 3, 2, 2, 3, 3, 3, 4, 5, 7, 9, 10, 9, 6]
WEEKDAY = [1.0, 1.0, 0.95, 0.95, 0.9, 0.6, 0.45]
RATINGS = [(5, 45), (4, 30), (3, 12), (2, 7), (1, 6)]
REASONS = ["needs_budget", "needs_budget", "needs_other_agency", "beyond_authority"]


def _pick(rng: random.Random, items: Sequence[Any], weights: Sequence[float]) -> Any:
    return rng.choices(items, weights=weights)[0]


def _hotspots(world: _World, rng: random.Random) -> None:
    """A few places per ward where problems gather (a market, a beach road)."""
    for ward in world.wards:
        min_x, min_y, max_x, max_y = ward.shape.bounds
        inside = prep(ward.shape)
        while len(ward.hotspots) < 4:
            x, y = rng.uniform(min_x, max_x), rng.uniform(min_y, max_y)
            if inside.contains(Point(x, y)):
                ward.hotspots.append((x, y))


def _place(ward: _Ward, rng: random.Random) -> tuple[float, float]:
    min_x, min_y, max_x, max_y = ward.shape.bounds
    for _ in range(50):
        if rng.random() < 0.7:
            x0, y0 = rng.choice(ward.hotspots)
            x, y = rng.gauss(x0, 0.0025), rng.gauss(y0, 0.0025)
        else:
            x, y = rng.uniform(min_x, max_x), rng.uniform(min_y, max_y)
        if shapely.contains_xy(ward.shape, x, y):
            return round(x, 6), round(y, 6)
    point = ward.shape.representative_point()
    return point.x, point.y


def _moments(
    world: _World, rng: random.Random, count: int, now: dt.datetime
) -> list[tuple[dt.datetime, _Service]]:
    """When reports are filed and about what: more on weekdays and in the day, more as the
    city's use of the platform grows, floods in the rainy season."""
    today = now.astimezone(TIMEZONE).date()
    days = [today - dt.timedelta(days=n) for n in range(HISTORY_DAYS, -1, -1)]
    service_weights = {
        month: [s.weight * (RAIN[month] if s.rainy else 1.0) for s in world.services]
        for month in RAIN
    }
    day_weights = [
        WEEKDAY[d.weekday()] * (0.6 + 0.6 * i / HISTORY_DAYS) * sum(service_weights[d.month])
        for i, d in enumerate(days)
    ]
    found: list[tuple[dt.datetime, _Service]] = []
    while len(found) < count:
        day = _pick(rng, days, day_weights)
        about = _pick(rng, world.services, service_weights[day.month])
        hour = _pick(rng, range(24), NIGHT_HOURS if about.night else DAY_HOURS)
        local = dt.datetime.combine(day, dt.time(hour, rng.randrange(60)), tzinfo=TIMEZONE)
        moment = local.astimezone(dt.UTC) + dt.timedelta(seconds=rng.randrange(60))
        if moment < now - dt.timedelta(minutes=5):
            found.append((moment, about))
    return sorted(found, key=lambda pair: pair[0])


async def _plan(
    world: _World, rng: random.Random, at: dt.datetime, service: _Service, number: int
) -> _Plan:
    weights = [w.weight * (w.flood if service.rainy else 1.0) for w in world.wards]
    ward: _Ward = _pick(rng, world.wards, weights)
    lon, lat = _place(ward, rng)
    people = world.people
    first = f"{rng.choice(people['middle'])} {rng.choice(people['given'])}"
    family = rng.choice(people["family"])
    attributes: dict[str, list[str]] = {}
    for spec in service.fields:
        if spec["datatype"] == "number":
            attributes[spec["code"]] = [str(rng.randint(1, 6))]
        elif spec.get("required") or rng.random() < 0.6:
            attributes[spec["code"]] = [rng.choice(spec["options"])[0]]
    via_app = rng.random() < 0.35
    email = f"nguoidan{number}@example.com" if rng.random() < 0.3 else ""
    submission = intake.Submission(
        service_code=service.code,
        lat=lat,
        lon=lon,
        address=f"{rng.randint(1, 240)} {rng.choice(ward.streets)}, {ward.name_vi}",
        description=rng.choice(service.descriptions),
        attributes=attributes,
        email=email,
        phone=f"09{rng.randrange(10**8):08d}" if rng.random() < 0.5 else "",
        first_name=first if rng.random() < 0.7 else "",
        last_name=family,
        device_id=f"demo-device-{rng.randrange(10**6)}" if via_app else "",
        channel="open311" if via_app else "portal",
        api_key_id=world.key_id if via_app else None,
    )
    rule = await world.rule_for(service.id, ward.id)
    target = await world.target_for(service.id)
    plan = _Plan(at, service, ward, lon, lat, submission, rule, target)
    _script(world, rng, plan)
    return plan


def _script(world: _World, rng: random.Random, plan: _Plan) -> None:
    """What staff and the citizen do with the report, at which moments (working hours for
    staff): triage, work, sometimes an escalation and a decision, resolution, closing, rating."""
    notes, steps, dispatcher = world.notes, plan.steps, "user:dieuphoi"
    department = plan.rule["department"] if plan.rule else None
    if rng.random() < 0.03 or department is None:
        at = world.working(plan.at, rng.uniform(0.5, 4))
        steps.append(
            _Step(
                at,
                "status",
                dispatcher,
                {"target": "rejected", "note": rng.choice(notes["rejected"])},
            )
        )
        return
    officer = world.officers.get(department)
    worker = f"user:{officer}" if officer else dispatcher
    assignee = world.users[officer] if officer else None
    hours = plan.target["hours"] if plan.target else 24.0
    at = world.working(plan.at, rng.uniform(0.2, min(4.0, hours / 4)))
    steps.append(_Step(at, "assign", dispatcher, {"department": department, "assignee": assignee}))
    at = world.working(at, rng.uniform(0.3, min(6.0, hours / 3)))
    note = rng.choice(notes["in_progress"]) if rng.random() < 0.3 else ""
    steps.append(_Step(at, "status", worker, {"target": "in_progress", "note": note}))
    if rng.random() < 0.15:
        at = world.working(at, rng.uniform(0.5, 3))
        steps.append(_Step(at, "comment", worker, {"text": rng.choice(notes["comment"])}))
    # Counted from the filing, as the SLA is: about one report in ten is late.
    resolve_at = world.working(plan.at, hours * rng.lognormvariate(math.log(0.5), 0.55))
    if rng.random() < 0.06:
        at = world.working(at, rng.uniform(0.5, 3))
        reason = rng.choice(REASONS)
        steps.append(
            _Step(
                at, "escalate", worker, {"reason": reason, "note": rng.choice(notes["escalation"])}
            )
        )
        at = world.working(at, rng.uniform(2, 14))
        leader = "user:" + world.leaders.get(world.parents[department] or 0, "lanhdao")
        choice = _pick(rng, ["approved", "returned", "reassigned"], [6, 3, 1])
        args: dict[str, Any] = {"decision": choice}
        if choice == "approved":
            days = rng.randint(7, 30)
            args["expected_day"] = at.astimezone(TIMEZONE).date() + dt.timedelta(days=days)
            # Done a few days before the date promised to the citizen.
            early = day_start(args["expected_day"]) - dt.timedelta(days=rng.uniform(0, 4))
            resolve_at = world.working(max(early, at), 1)
        elif choice == "returned":
            args["note"] = rng.choice(notes["returned"])
            resolve_at = world.working(at, rng.uniform(4, hours))
        else:
            others = [d for d in world.officers if d != department]
            args["department"] = rng.choice(others)
            resolve_at = world.working(at, rng.uniform(8, hours + 8))
        steps.append(_Step(at, "decide", leader, args))
    elif rng.random() < 0.2:
        at = world.working(at, rng.uniform(0.5, 2))
        expected = at.astimezone(TIMEZONE).date() + dt.timedelta(days=rng.randint(2, 7))
        steps.append(
            _Step(
                at,
                "public_note",
                worker,
                {"note": rng.choice(notes["public"]), "expected": day_noon(expected)},
            )
        )
    resolve_at = max(resolve_at, world.working(at, 0.5))
    steps.append(
        _Step(
            resolve_at,
            "status",
            worker,
            {"target": "resolved", "note": rng.choice(notes["resolved"])},
        )
    )
    if rng.random() < 0.88:
        steps.append(
            _Step(
                world.working(resolve_at, rng.uniform(4, 30)),
                "status",
                dispatcher,
                {"target": "closed", "note": ""},
            )
        )
    if rng.random() < 0.4:
        stars = _pick(rng, [r for r, _ in RATINGS], [w for _, w in RATINGS])
        comment = rng.choice(notes["rating"]) if rng.random() < 0.3 else ""
        plan.rating = (stars, comment, resolve_at + dt.timedelta(hours=rng.uniform(2, 72)))


# Reports: the older history, replayed in memory and written in bulk


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _title(service: _Service, description: str) -> str:
    """As intake titles a report: the service's name and the start of the description."""
    text = " ".join(description.split())
    if len(text) > intake.TITLE_LENGTH:
        text = text[: intake.TITLE_LENGTH - 1].rstrip() + "…"
    return f"{service.name_vi}: {text}"


class _History:
    """One incident's history as the services would have written it at those moments: the
    same transitions (checked by the workflow), routing, timeline payloads, escalations and
    decisions, and the SLA sweep's warning and automatic escalation when a due time passes
    while it is worked."""

    def __init__(self, world: _World, plan: _Plan, code: str) -> None:
        self.world = world
        sub = plan.submission
        name = " ".join(p for p in (sub.first_name, sub.last_name) if p)
        self.incident = incident = Incident(
            code=code,
            source=intake.SOURCE,
            category=plan.service.id,
            title=_title(plan.service, sub.description),
            description=sub.description,
            lon=plan.lon,
            lat=plan.lat,
            location=to_db(Point(plan.lon, plan.lat)),
            address=sub.address,
            area=plan.ward.id,
            priority="normal",
            reporter_name=name,
            reporter_contact=sub.email or sub.phone,
            created_at=plan.at,
            updated_at=plan.at,
        )
        self.events: list[dict[str, Any]] = []
        self.escalations: list[dict[str, Any]] = []
        # An automatic escalation waiting for the leader's decision, and when it comes.
        self.decision_due: dt.datetime | None = None
        self.warn_hours = plan.target["warn_hours"] if plan.target else None
        self._event(plan.at, CITIZEN, "created", None, service.public_fields(incident), "", True)
        if plan.rule or plan.target:
            before = {"department": None, "sla_due_at": None}
            if plan.rule:
                incident.department = plan.rule["department"]
            if plan.target:
                self._set_due(world.working(plan.at, plan.target["hours"]))
            after = {"department": incident.department, "sla_due_at": _iso(incident.sla_due_at)}
            after |= {
                "rule": plan.rule["id"] if plan.rule else None,
                "target": plan.target["id"] if plan.target else None,
            }
            self._event(plan.at, service.ROUTING_ACTOR, "routed", before, after)

    def _event(
        self,
        at: dt.datetime,
        actor: str,
        kind: str,
        before: Any,
        after: Any,
        note: str = "",
        public: bool = False,
    ) -> None:
        self.incident.updated_at = at
        self.events.append(
            {
                "at": at,
                "actor": actor,
                "kind": kind,
                "before": before,
                "after": after,
                "note": note,
                "public": public,
            }
        )

    def _set_due(self, due: dt.datetime) -> None:
        incident = self.incident
        incident.sla_due_at, incident.sla_state = due, ""
        incident.sla_warn_at = (
            self.world.calendar.subtract(due, dt.timedelta(hours=self.warn_hours))
            if self.warn_hours
            else None
        )

    def _holding(self) -> dict[str, Any]:
        i = self.incident
        return {
            "escalated_to": i.escalated_to,
            "escalation_level": i.escalation_level,
            "escalation_reason": i.escalation_reason,
            "department": i.department,
            "sla_due_at": _iso(i.sla_due_at),
            "public_note": i.public_note,
            "expected_at": _iso(i.expected_at),
        }

    def tick(self, until: dt.datetime) -> None:
        """What the SLA sweep and the leaders did before `until`."""
        i = self.incident
        while True:
            running = i.status in RUNNING
            moments = []
            warns = i.sla_warn_at and i.sla_due_at and i.sla_warn_at < i.sla_due_at
            if running and i.sla_state == "" and warns:
                moments.append((i.sla_warn_at, "warn"))
            if running and i.sla_state != "breached" and i.sla_due_at:
                moments.append((i.sla_due_at, "breach"))
            if self.decision_due is not None:
                moments.append((self.decision_due, "decide"))
            moments = [m for m in moments if m[0] <= until]
            if not moments:
                return
            at, what = min(moments)
            if what == "warn":
                i.sla_state = "warned"
                after = {"sla_state": "warned", "sla_due_at": _iso(i.sla_due_at)}
                self._event(at, sweep.ACTOR, "sla_warning", {"sla_state": ""}, after)
            elif what == "breach":
                self._breach(at + dt.timedelta(seconds=30))
            else:
                unit = i.escalated_to or 0
                leader = "user:" + self.world.leaders.get(unit, "lanhdao")
                note = random.Random(i.code).choice(self.world.notes["returned"])
                self.decide(_Step(at, "decide", leader, {"decision": "returned", "note": note}))

    def _breach(self, at: dt.datetime) -> None:
        i = self.incident
        due = _iso(i.sla_due_at)
        i.sla_state = "breached"
        before = self._holding()
        if self._escalate(at, sweep.ACTOR, escalation.OVERDUE, "", automatic=True):
            after = self._holding() | {"sla_due_at": due}
            self._event(at, sweep.ACTOR, "sla_breached", before, after)
            # The leaders answer in a few working hours; a recent one still waits in their queue.
            self.decision_due = self.world.working(at, 2 + int(i.code[-6:]) % 20)
        else:
            after = {"sla_state": "breached", "sla_due_at": due}
            self._event(at, sweep.ACTOR, "sla_breached", {"sla_state": ""}, after)

    def _escalate(
        self, at: dt.datetime, actor: str, reason: str, note: str, automatic: bool = False
    ) -> bool:
        i = self.incident
        holder = i.escalated_to or i.department
        above = self.world.parents.get(holder) if holder else None
        if i.status not in OPEN_STATUSES or above is None:
            return False
        for pending in self.escalations:
            if pending["decision"] == "":
                pending |= {"decision": "forwarded", "decided_by": actor, "decided_at": at}
        self.escalations.append(
            {
                "level": i.escalation_level + 1,
                "from_department": holder,
                "to_department": above,
                "reason": reason,
                "note": note,
                "automatic": automatic,
                "raised_by": actor,
                "raised_at": at,
                "decision": "",
                "decided_by": "",
                "decided_at": None,
                "decision_note": "",
                "new_expected_at": None,
            }
        )
        i.escalation_level += 1
        i.escalated_to = above
        i.escalation_reason = reason
        if not automatic:
            i.public_note = escalation.PUBLIC_NOTES[reason]
        return True

    def apply(self, step: _Step) -> None:
        self.tick(step.at)
        getattr(self, step.kind)(step)

    def assign(self, step: _Step) -> None:
        i = self.incident
        before = {"department": i.department, "assignee": i.assignee, "status": i.status}
        i.department, i.assignee = step.args["department"], step.args["assignee"]
        if i.status in ("new", "triaged", "reopened"):
            check_transition(i.status, "assigned")
            i.status = "assigned"
        after = {"department": i.department, "assignee": i.assignee, "status": i.status}
        self._event(step.at, step.actor, "assigned", before, after)

    def status(self, step: _Step) -> None:
        i, target = self.incident, step.args["target"]
        check_transition(i.status, target)
        before = {"status": i.status, "sla_due_at": _iso(i.sla_due_at)}
        i.status = target
        if target in OPEN_STATUSES:
            i.closed_at = None
        elif i.closed_at is None:
            i.closed_at = step.at
        after = {"status": target, "sla_due_at": _iso(i.sla_due_at)}
        self._event(step.at, step.actor, "status", before, after, step.args["note"], True)

    def comment(self, step: _Step) -> None:
        self._event(step.at, step.actor, "commented", {}, {}, step.args["text"])

    def public_note(self, step: _Step) -> None:
        i = self.incident
        before = {"public_note": i.public_note, "expected_at": _iso(i.expected_at)}
        i.public_note, i.expected_at = step.args["note"], step.args["expected"]
        after = {"public_note": i.public_note, "expected_at": _iso(i.expected_at)}
        self._event(step.at, step.actor, "public_note", before, after, "", True)

    def escalate(self, step: _Step) -> None:
        before = self._holding()
        args = step.args
        if self._escalate(step.at, step.actor, args["reason"], args["note"]):
            self._event(step.at, step.actor, "escalated", before, self._holding(), args["note"])

    def decide(self, step: _Step) -> None:
        i, args = self.incident, step.args
        pending = next((e for e in self.escalations if e["decision"] == ""), None)
        if pending is None:
            return
        decision, note = args["decision"], args.get("note", "")
        expected = args.get("expected_day")
        before = self._holding()
        pending |= {
            "decision": decision,
            "decided_by": step.actor,
            "decided_at": step.at,
            "decision_note": note,
            "new_expected_at": day_noon(expected) if expected else None,
        }
        self.decision_due = None
        i.escalated_to, i.escalation_level, i.escalation_reason = None, 0, ""
        if decision == "approved" and expected is not None:
            self._set_due(day_start(expected + dt.timedelta(days=1)))
            i.expected_at = day_noon(expected)
            i.public_note = escalation.PUBLIC_NOTES["approved"]
        elif decision == "reassigned":
            i.department, i.assignee = args["department"], None
        after = self._holding() | {"decision": decision}
        self._event(step.at, step.actor, "decided", before, after, note)


async def _write(histories: Sequence[tuple[_Plan, _History]], world: _World) -> None:
    """One batch of finished histories: incidents, timelines, escalations, reports, followers."""
    async with write_transaction():
        rows = await Incident.insert(*(h.incident for _, h in histories))
        ids = [r["id"] for r in rows]
        events, escalations, reports, followers = [], [], [], []
        for incident_id, (plan, history) in zip(ids, histories, strict=True):
            events += [IncidentEvent(incident=incident_id, **e) for e in history.events]
            escalations += [Escalation(incident=incident_id, **e) for e in history.escalations]
            reports.append(await _report(world, plan, incident_id))
            if plan.submission.email:
                followers.append(
                    IncidentFollower(
                        incident=incident_id, email=plan.submission.email, created_at=plan.at
                    )
                )
        await IncidentEvent.insert(*events)
        if escalations:
            await Escalation.insert(*escalations)
        await Report.insert(*reports)
        if followers:
            await IncidentFollower.insert(*followers)


async def _report(world: _World, plan: _Plan, incident_id: int) -> Report:
    sub = plan.submission
    attributes, problems = intake.clean_attributes(
        await world.fields_of(plan.service), sub.attributes
    )
    assert not problems, problems
    stars, comment, rated_at = plan.rating or (None, "", None)
    return Report(
        incident=incident_id,
        token=secrets.token_urlsafe(18),
        channel=sub.channel,
        api_key=sub.api_key_id,
        attributes=attributes,
        email=sub.email,
        phone=sub.phone,
        device_id=sub.device_id,
        rating=stars,
        rating_comment=comment,
        rated_at=rated_at,
        created_at=plan.at,
    )


async def _count_tickets(codes: Mapping[int, int]) -> None:
    """The ticket counters carry on after the numbers the history used."""
    for year, last in codes.items():
        if await TicketCounter.exists().where(TicketCounter.year == year):
            await TicketCounter.update({TicketCounter.last: last}).where(
                (TicketCounter.year == year) & (TicketCounter.last < last)
            )
        else:
            await TicketCounter.insert(TicketCounter(year=year, last=last))


# Reports: the last days, through the services


class _Clock:
    """Moves what a service call just wrote, stamped with the present, to the moment in the past
    it stands for: rows stamped after the seed began belong to the last call."""

    def __init__(self) -> None:
        self.started = dt.datetime.now(dt.UTC)

    async def filed(self, incident: Incident, plan: _Plan, world: _World) -> None:
        """The report was filed at `plan.at`: its time, and its due times counted from then."""
        values: dict[Any, Any] = {Incident.created_at: plan.at, Incident.updated_at: plan.at}
        due = None
        if plan.target:
            due = world.working(plan.at, plan.target["hours"])
            warn = world.calendar.subtract(due, dt.timedelta(hours=plan.target["warn_hours"]))
            values |= {Incident.sla_due_at: due, Incident.sla_warn_at: warn}
        await Incident.update(values).where(Incident.id == incident.id)
        await Report.update({Report.created_at: plan.at}).where(Report.incident == incident.id)
        await IncidentFollower.update({IncidentFollower.created_at: plan.at}).where(
            IncidentFollower.incident == incident.id
        )
        routed = await (
            IncidentEvent.select(IncidentEvent.id, IncidentEvent.after)
            .where((IncidentEvent.incident == incident.id) & (IncidentEvent.kind == "routed"))
            .output(load_json=True)
            .first()
        )
        if routed is not None and due is not None:
            after = routed["after"] | {"sla_due_at": due.isoformat()}
            await IncidentEvent.update({IncidentEvent.after: after}).where(
                IncidentEvent.id == routed["id"]
            )
        await self.moved(plan.at)

    async def moved(self, at: dt.datetime, escalations: bool = False, closed: bool = False) -> None:
        await IncidentEvent.update({IncidentEvent.at: at}).where(IncidentEvent.at >= self.started)
        if escalations:
            await Escalation.update({Escalation.raised_at: at}).where(
                Escalation.raised_at >= self.started
            )
            await Escalation.update({Escalation.decided_at: at}).where(
                Escalation.decided_at >= self.started
            )
        if closed:
            await Incident.update({Incident.closed_at: at}).where(
                Incident.closed_at >= self.started
            )


async def _live(plan: _Plan, limits: intake.Limits, world: _World, stamp: _Clock) -> None:
    incident, report = await intake.submit(plan.submission, limits)
    await stamp.filed(incident, plan, world)
    now = dt.datetime.now(dt.UTC)
    for step in plan.steps:
        if step.at > now:
            break
        args = step.args
        try:
            if step.kind == "assign":
                await service.assign(
                    incident.id,
                    step.actor,
                    department_id=args["department"],
                    assignee_id=args["assignee"],
                )
            elif step.kind == "status":
                await service.change_status(incident.id, args["target"], step.actor, args["note"])
            elif step.kind == "comment":
                await service.comment(incident.id, step.actor, args["text"])
            elif step.kind == "public_note":
                await service.set_public_note(
                    incident.id, step.actor, args["note"], args["expected"]
                )
            elif step.kind == "escalate":
                await escalation.escalate(incident.id, step.actor, args["reason"], args["note"])
            else:
                await escalation.decide(
                    incident.id,
                    step.actor,
                    args["decision"],
                    args.get("note", ""),
                    # The service refuses a promise in the past; these are recent.
                    expected_day=max(args["expected_day"], dt.datetime.now(TIMEZONE).date())
                    if "expected_day" in args
                    else None,
                    department_id=args.get("department"),
                )
        except (FormError, TransitionError):
            continue  # a step the platform refuses now (it moved on): skip it, as staff would
        closing = step.kind == "status" and args["target"] not in OPEN_STATUSES
        await stamp.moved(step.at, escalations=step.kind in ("escalate", "decide"), closed=closing)
    if plan.rating:
        stars, comment, rated_at = plan.rating
        await Report.update(
            {Report.rating: stars, Report.rating_comment: comment, Report.rated_at: rated_at}
        ).where(Report.id == report.id)


async def _reports(world: _World, limits: intake.Limits, count: int) -> None:
    rng = random.Random(2026)
    now = dt.datetime.now(dt.UTC)
    live_from = now - dt.timedelta(days=LIVE_DAYS)
    _hotspots(world, rng)
    moments = _moments(world, rng, count, now)
    split = bisect.bisect_left([m for m, _ in moments], live_from)
    tickets: dict[int, int] = {}
    batch: list[tuple[_Plan, _History]] = []
    stamp = _Clock()
    with click.progressbar(length=count, label="reports") as bar:
        for number, (at, category) in enumerate(moments):
            plan = await _plan(world, rng, at, category, number)
            if plan.rating and plan.rating[2] > now:
                plan.rating = None  # not rated yet
            if number < split:
                year = at.year  # as the service numbers tickets: the UTC year
                tickets[year] = tickets.get(year, 0) + 1
                history = _History(
                    world, plan, f"{service.TICKET_PREFIX}-{year}-{tickets[year]:06d}"
                )
                for step in plan.steps:
                    if step.at > now:
                        break
                    history.apply(step)
                history.tick(now)
                batch.append((plan, history))
                if len(batch) == BATCH or number == split - 1:
                    await _write(batch, world)
                    batch = []
                    if number == split - 1:
                        await _count_tickets(tickets)
            else:
                await _live(plan, limits, world, stamp)
            bar.update(1)
    # Times of incidents the history changed last: the latest event of each.
    await Incident.raw(
        "UPDATE incident SET updated_at = (SELECT max(e.at) FROM incident_event e"
        " WHERE e.incident = incident.id)"
    )
    result = await sweep.sweep()
    click.echo(
        f"reports: {count} filed ({split} older written in bulk, {count - split} through the "
        f"services); SLA sweep now: {result.escalated} escalated, {result.warned} warned"
    )
