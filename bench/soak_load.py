"""The soak's load: citizens' apps filing Open311 requests and staff working the incidents
through the portal's forms, every answer written down for the checks."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from shapely.geometry import Point, shape

OPEN311 = "/open311/v2"
FILED = (200, 201)  # the Open311 POST answers 201 from now on, 200 before
MOVED = 303  # a portal form that did what it was asked redirects to the incident
REFUSED = 422  # a form the workflow refused, shown again with its error
UNAVAILABLE = 503  # the platform saying it cannot serve just now (a dependency is down)
REQUEST_TIMEOUT_S = 30.0
# Samples of unexpected answers kept for the report.
SAMPLES = 10
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Filed:
    code: str
    email: str
    service: str


@dataclass(frozen=True)
class Action:
    """A staff action that answered success; `kind` is the timeline event it must have written
    (None for following, which writes a follower row instead)."""

    incident: int
    action: str
    kind: str | None
    actor: str


@dataclass
class Ledger:
    filed: list[Filed] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    server_errors: int = 0
    # 503 answers: counted apart, allowed.
    unavailable: int = 0
    transport_errors: int = 0
    refused: int = 0
    unexpected: int = 0
    samples: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)

    def note(self, text: str) -> None:
        if len(self.samples) < SAMPLES:
            self.samples.append(text)


async def _call(
    client: httpx.AsyncClient,
    ledger: Ledger,
    label: str,
    method: str,
    url: str,
    expect: Sequence[int],
    **kwargs: Any,
) -> httpx.Response | None:
    """One request, counted; None when no answer came (the outcome is then unknown)."""
    started = time.monotonic()
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        ledger.transport_errors += 1
        ledger.note(f"{label} {method} {url}: {type(exc).__name__}: {exc}")
        return None
    ledger.latencies.setdefault(label, []).append(time.monotonic() - started)
    ledger.answers[(label, response.status_code)] += 1
    if response.status_code == UNAVAILABLE:
        # Classified transient: allowed, and the checks find nothing stored for it.
        ledger.unavailable += 1
        ledger.note(f"{label} {method} {url}: 503 {response.text[:200]!r}")
        return response
    if response.status_code >= 500:
        ledger.server_errors += 1
    if response.status_code == REFUSED and REFUSED not in expect:
        ledger.refused += 1
        ledger.note(f"{label} {method} {url}: refused: {_error_of(response.text)}")
    elif response.status_code not in expect:
        ledger.unexpected += 1
        ledger.note(f"{label} {method} {url}: {response.status_code} {response.text[:200]!r}")
    return response


def _error_of(html: str) -> str:
    found = re.search(r'<small class="error">([^<]*)</small>', html)
    return found.group(1) if found else html[:200]


# ------------------------------------------------------------------------- what to report


@dataclass(frozen=True)
class Service:
    code: str
    # Custom fields a request must fill: (code, datatype, option keys).
    required: tuple[tuple[str, str, tuple[str, ...]], ...]


async def catalogue(base: str) -> list[Service]:
    """The public services and the custom fields each requires, as a mobile app reads them."""
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        listed = (await client.get(f"{OPEN311}/services.json")).raise_for_status().json()
        services = []
        for entry in listed:
            required: list[tuple[str, str, tuple[str, ...]]] = []
            if entry.get("metadata"):
                definition = await client.get(f"{OPEN311}/services/{entry['service_code']}.json")
                for attribute in definition.raise_for_status().json()["attributes"]:
                    if attribute.get("required") and attribute.get("variable", True):
                        keys = tuple(v["key"] for v in attribute.get("values") or ())
                        required.append((attribute["code"], attribute["datatype"], keys))
            services.append(Service(entry["service_code"], tuple(required)))
    if not services:
        raise RuntimeError("the platform lists no Open311 service to report to")
    return services


def _attribute(datatype: str, keys: tuple[str, ...], rng: random.Random) -> str:
    if keys:
        return rng.choice(keys)
    if datatype == "number":
        return str(rng.randint(1, 50))
    if datatype == "datetime":
        return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    return "soak"


def places(areas: dict[str, Any], count: int, rng: random.Random) -> list[tuple[float, float]]:
    """Points (lon, lat) inside the city's wards, spread over them."""
    shapes = [shape(f["geometry"]) for f in areas.get("features", []) if f.get("geometry")]
    if not shapes:
        raise RuntimeError("the platform has no wards to place reports in")
    points: list[tuple[float, float]] = []
    for n in range(count):
        ward = shapes[n % len(shapes)]
        west, south, east, north = ward.bounds
        for _ in range(100):
            point = Point(rng.uniform(west, east), rng.uniform(south, north))
            if ward.contains(point):
                break
        else:
            point = ward.representative_point()
        points.append((round(point.x, 6), round(point.y, 6)))
    return points


# --------------------------------------------------------------------------------- intake


async def intake_client(
    number: int,
    base: str,
    api_key: str,
    services: Sequence[Service],
    spots: Sequence[tuple[float, float]],
    ledger: Ledger,
    deadline: float,
    filed: asyncio.Queue[str],
) -> None:
    """A citizens' app filing requests one after another until the deadline."""
    rng = random.Random(number)
    sent = 0
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        while time.monotonic() < deadline:
            sent += 1
            service = rng.choice(services)
            lon, lat = rng.choice(spots)
            email = f"soak.c{number}.r{sent}@example.vn"
            form: dict[str, Any] = {
                "api_key": api_key,
                "service_code": service.code,
                "lat": str(lat),
                "long": str(lon),
                "description": f"Soak client {number}, report {sent}",
                "email": email,
                "first_name": f"Client {number}",
                "device_id": f"soak-{number}",
            }
            for code, datatype, keys in service.required:
                form[f"attribute[{code}]"] = _attribute(datatype, keys, rng)
            response = await _call(
                client, ledger, "intake", "POST", f"{OPEN311}/requests.json", FILED, data=form
            )
            if response is None or response.status_code not in FILED:
                continue
            try:
                code = str(response.json()[0]["service_request_id"])
            except (ValueError, LookupError, TypeError):
                # A success without its ticket: the checks then find an incident too many.
                ledger.unexpected += 1
                ledger.note(f"intake: {response.status_code} without a ticket: {response.text!r}")
                continue
            ledger.filed.append(Filed(code, email, service.code))
            filed.put_nowait(code)


# ---------------------------------------------------------------------------------- staff


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> str:
    """Sign in through the login form; the CSRF token for the forms that follow."""
    found = CSRF.search((await client.get("/login")).text)
    if found is None:
        raise RuntimeError("the login page has no CSRF token")
    form = {"username": username, "password": password, "_csrf_token": found.group(1)}
    answer = await client.post("/login", data=form)
    if answer.status_code != MOVED:
        raise RuntimeError(f"{username} could not sign in: {answer.status_code}")
    return found.group(1)


async def ward_shapes(base: str, username: str, password: str) -> dict[str, Any]:
    """The wards as the operations map reads them."""
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        await sign_in(client, username, password)
        return dict((await client.get("/api/areas.geojson")).raise_for_status().json())


def _steps(
    rng: random.Random, department: str
) -> list[tuple[str, str, dict[str, str], str | None]]:
    """A day's work on one report: (action, form path, fields, timeline kind)."""
    expected = (dt.date.today() + dt.timedelta(days=rng.randint(3, 30))).isoformat()
    steps: list[tuple[str, str, dict[str, str], str | None]] = [("follow", "follow", {}, None)]
    if rng.random() < 0.5:
        steps.append(("triage", "status", {"status": "triaged", "note": "Soak triage"}, "status"))
    steps += [
        ("assign", "assign", {"department": department, "assignee": ""}, "assigned"),
        ("start", "status", {"status": "in_progress", "note": ""}, "status"),
        (
            "public note",
            "public-note",
            {"public_note": "Đang xử lý (soak)", "expected_at": expected},
            "public_note",
        ),
        ("comment", "comment", {"comment": "Soak comment", "public": "on"}, "commented"),
        ("resolve", "status", {"status": "resolved", "note": "Soak resolved"}, "status"),
    ]
    return steps


_DEPARTMENTS = re.compile(r'<select id="f-department" name="department">(.*?)</select>', re.S)
_OPTION = re.compile(r'<option value="(\d+)"( selected)?>')


def _department(page: str) -> str:
    """The department the incident page has selected (the routed one), else the first."""
    block = _DEPARTMENTS.search(page)
    options = _OPTION.findall(block.group(1)) if block else []
    chosen = [value for value, selected in options if selected] or [v for v, _ in options]
    return chosen[0] if chosen else ""


async def staff_client(
    username: str,
    password: str,
    base: str,
    ledger: Ledger,
    deadline: float,
    filed: asyncio.Queue[str],
) -> None:
    """A staff member taking new reports from the queue and working each to resolved."""
    rng = random.Random(username)
    actor = f"user:{username}"
    async with httpx.AsyncClient(
        base_url=base, timeout=REQUEST_TIMEOUT_S, follow_redirects=False
    ) as client:
        token = await sign_in(client, username, password)
        while (left := deadline - time.monotonic()) > 0:
            try:
                code = await asyncio.wait_for(filed.get(), timeout=min(1.0, left))
            except TimeoutError:
                continue
            found = await _call(
                client, ledger, "staff read", "GET", "/incidents", (200,), params={"q": code}
            )
            match = (
                re.search(rf'<a href="/incidents/(\d+)">{re.escape(code)}</a>', found.text)
                if found
                else None
            )
            if match is None:
                if found is not None and found.status_code == 200:
                    ledger.unexpected += 1
                    ledger.note(f"staff read: {code} not found by the incident search")
                continue
            incident = int(match.group(1))
            page = await _call(
                client, ledger, "staff read", "GET", f"/incidents/{incident}", (200,)
            )
            if page is None or page.status_code != 200:
                continue
            for action, path, fields, kind in _steps(rng, _department(page.text)):
                if time.monotonic() >= deadline:
                    break
                answer = await _call(
                    client,
                    ledger,
                    "staff action",
                    "POST",
                    f"/incidents/{incident}/{path}",
                    (MOVED,),
                    data={**fields, "_csrf_token": token},
                )
                if answer is None or answer.status_code != MOVED:
                    break  # the rest of the day's work depends on this step
                ledger.actions.append(Action(incident, action, kind, actor))
