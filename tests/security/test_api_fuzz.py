"""Schemathesis against the app's OpenAPI: every operation, as three callers, never a 5xx and
never an answer outside what the schema declares.

The callers: nobody (a citizen), an API key holding every permission (Authorization: Bearer)
and a signed-in administrator, each with a valid CSRF token, so that state-changing routes get
past CSRF and run their handlers. Before the fuzz, a crawl of the pages as the administrator
finds what Litestar cannot see in the handlers: the fields of each form, the query names of
links, and the path values of real objects, which part of the cases then aim at.

The machine API the app publishes in its schema is held to all of its declarations (status
codes, media types, bodies); the staff pages and the portal, documented for the fuzz only (see
fuzz_app.py), answer HTML and are held to "no server error" and their declared body.
A case that does something to the callers themselves (revokes the key, ends the session) is
undone after it, so that every case after it runs as the caller it names.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import TestClient
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ioc_core.plugins import lifecycle
from ioc_core.runtime import Runtime, build_runtime
from ioc_core.settings import Settings
from ioc_core.web.app import create_app
from tests.helpers import in_app, run
from tests.security.fuzz_app import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    Caller,
    Seeded,
    crawl,
    describe_forms,
    document_every_route,
    restore,
    seed,
)

# At least this many generated requests per run, across every operation and caller.
MINIMUM_CASES = 1000
# Examples per operation and caller: with three callers, enough for MINIMUM_CASES over the
# operations that take parameters (one without any has few distinct cases to give).
EXAMPLES = 5
# No stray schemathesis.toml applies; the reproductions show the test data as sent.
CONFIG = SchemathesisConfig.from_dict({"output": {"sanitization": {"enabled": False}}})
# Real objects per operation that cases are aimed at.
REAL_OBJECTS = 3
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Checks for the machine API, whose schema clients rely on, and for every other route.
API_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
PAGE_CHECKS = [not_a_server_error, response_schema_conformance]
# Operations not fuzzed, with the reason; none so far (logout is undone by `restore`).
EXCLUDED: dict[str, str] = {}


@dataclass
class Finding:
    operation: str
    caller: str
    status: int
    problem: str
    reproduce: str

    def __str__(self) -> str:
        first = self.problem.strip().splitlines()[0] if self.problem.strip() else "?"
        where = f"{self.operation} as {self.caller}: HTTP {self.status}"
        return f"{where}: {first}\n    {self.reproduce}"


@dataclass
class Fuzz:
    client: TestClient[Litestar]
    runtime: Runtime
    seeded: Seeded
    callers: list[Caller]
    session: Caller
    findings: dict[tuple[str, str, int, str], Finding]
    cases: int = 0
    # (caller, status) → how many answers: shows the handlers ran, not only the guards.
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)

    def send(self, case: Case, caller: Caller, checks: list[Callable[..., Any]]) -> None:
        self.cases += 1
        kwargs = case.as_transport_kwargs(base_url=str(self.client.base_url))
        headers = {**(kwargs.get("headers") or {}), **caller.headers}
        body: dict[str, Any] = {}
        if kwargs.get("files"):
            # Schemathesis hands multipart parts over in the shape `requests` encodes.
            prepared = requests.PreparedRequest()
            prepared.prepare_headers(None)
            prepared.prepare_body(kwargs.get("data"), kwargs["files"])
            body["content"] = prepared.body
            headers["Content-Type"] = prepared.headers["Content-Type"]
        elif "json" in kwargs:
            body["json"] = kwargs["json"]
        elif kwargs.get("data") is not None:
            key = "content" if isinstance(kwargs["data"], bytes | str) else "data"
            body[key] = kwargs["data"]
        self.client.cookies.clear()
        self.client.cookies.update({**(kwargs.get("cookies") or {}), **caller.cookies})
        response = self.client.request(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            headers=headers,
            follow_redirects=False,
            **body,
        )
        self.statuses[caller.name, response.status_code] += 1
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (Failure, FailureGroup) as exc:
            failures = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
            for failure in failures:
                key = (case.operation.label, caller.name, response.status_code, failure.title)
                self.findings.setdefault(
                    key,
                    Finding(
                        case.operation.label,
                        caller.name,
                        response.status_code,
                        f"{failure.title}: {failure.message}",
                        case.as_curl_command(headers=headers, base_url="http://testserver.local"),
                    ),
                )
        if case.method.upper() not in SAFE_METHODS:
            self.undo()

    def undo(self) -> None:
        token = in_app(
            self.client, restore, self.runtime, self.seeded, self.session.cookies[SESSION_COOKIE]
        )
        if token is not None:
            self.session.cookies[SESSION_COOKIE] = token


def _platform(settings: Settings) -> tuple[Runtime, Seeded]:
    runtime = build_runtime(settings, park_delay_ms=200)
    run(lifecycle.migrate_enabled(runtime.registry))
    return runtime, run(seed(runtime))


def _callers(
    client: TestClient[Litestar], runtime: Runtime, seeded: Seeded
) -> tuple[list[Caller], Caller]:
    """Nobody (a citizen on the portal), the API key and the administrator's session, each with
    the CSRF token any visitor gets from a page: so forms reach their handlers, and for the key
    what decides is still the key."""
    client.get("/healthz")
    client.cookies.clear()
    token = in_app(client, restore, runtime, seeded, "")
    assert token is not None
    csrf_page = client.get("/login")
    csrf = csrf_page.cookies.get(CSRF_COOKIE)
    assert csrf, "the login page sets the CSRF cookie"
    staff = Caller(
        "session",
        headers={CSRF_HEADER: csrf},
        cookies={SESSION_COOKIE: token, CSRF_COOKIE: csrf},
    )
    key = Caller(
        "api_key",
        headers={"Authorization": f"Bearer {seeded.key}", CSRF_HEADER: csrf},
        cookies={CSRF_COOKIE: csrf},
    )
    citizen = Caller("anonymous", headers={CSRF_HEADER: csrf}, cookies={CSRF_COOKIE: csrf})
    return [citizen, key, staff], staff


def _strategy(operation: Any, real: list[dict[str, str]]) -> st.SearchStrategy[Case]:
    """Valid and invalid cases, and valid ones aimed at real objects the pages named (a
    random id would almost never name one)."""
    choices = [operation.as_strategy(generation_mode=GenerationMode.POSITIVE)]
    if list(operation.iter_parameters()) or operation.body:
        choices.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    for values in real[:REAL_OBJECTS]:
        typed = {k: int(v) if v.isascii() and v.isdigit() else v for k, v in values.items()}
        choices.append(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=typed)
        )
    return st.one_of(*choices)


def _run(fuzz: Fuzz, strategy: st.SearchStrategy[Case], caller: Caller, checks: list[Any]) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def fuzz_one(case: Case) -> None:
        fuzz.send(case, caller, checks)

    fuzz_one()


def test_every_operation_answers_within_its_schema(settings: Settings) -> None:
    started = time.monotonic()
    runtime, seeded = _platform(settings)
    app = create_app(runtime=runtime)
    published = {
        f"{method.upper()} {path}"
        for path, methods in app.openapi_schema.to_schema()["paths"].items()
        for method in methods
    }
    document_every_route(app)
    try:
        with TestClient(app) as client:
            raw = client.get("/schema/openapi.json").json()
            callers, session = _callers(client, runtime, seeded)
            starts = ["/", "/report", "/reports/map", *seeded.tracking_links()]
            crawled = time.monotonic()
            found = crawl(client, session.cookies, raw, starts)
            crawled = time.monotonic() - crawled
            found.values.update(seeded.open311_names())
            describe_forms(raw, found)
            schema = schemathesis.openapi.from_dict(raw, config=CONFIG)
            fuzz = Fuzz(client, runtime, seeded, callers, session, {})
            operations = [result.ok() for result in schema.get_all_operations()]
            exercised = set()
            for operation in operations:
                if operation.label in EXCLUDED:
                    continue
                checks = API_CHECKS if operation.label in published else PAGE_CHECKS
                strategy = _strategy(operation, found.values.get(operation.label, []))
                for caller in callers:
                    _run(fuzz, strategy, caller, checks)
                exercised.add(operation.label)
    finally:
        runtime.broker.close()
    elapsed = time.monotonic() - started
    print(
        f"\nAPI fuzz: {fuzz.cases} cases over {len(exercised)} operations in {elapsed:.1f} s"
        f" (the crawl of the pages {crawled:.1f} s)"
    )
    print(", ".join(f"{c} {s}: {n}" for (c, s), n in sorted(fuzz.statuses.items())))
    assert len(exercised) == len(operations) - len(EXCLUDED)
    assert published <= {op.label for op in operations}, "the published API is fuzzed"
    assert fuzz.cases >= MINIMUM_CASES
    if fuzz.findings:
        report = "\n".join(str(f) for f in fuzz.findings.values())
        raise AssertionError(f"{len(fuzz.findings)} findings in {fuzz.cases} cases:\n{report}")


@get("/probe/{n:int}", sync_to_thread=False)
def probe(n: FromPath[int]) -> dict[str, int]:
    if n > 1000:
        raise RuntimeError("a handler that breaks on a large number")
    return {"n": n}


@get("/liar", sync_to_thread=False)
def liar() -> dict[str, int]:
    return {"n": "not a number"}  # type: ignore[dict-item]


def test_the_fuzz_reports_server_errors_and_answers_outside_the_schema() -> None:
    """The harness itself: a 500 and a body its schema does not allow are both findings."""
    app = Litestar([probe, liar])
    with TestClient(app) as client:
        schema = schemathesis.openapi.from_dict(
            client.get("/schema/openapi.json").json(), config=CONFIG
        )
        fuzz = Fuzz(client, None, None, [], Caller("session"), {})  # type: ignore[arg-type]
        for operation in (result.ok() for result in schema.get_all_operations()):
            _run(fuzz, _strategy(operation, []), Caller("anonymous"), API_CHECKS)
    found = {(f.operation, f.status) for f in fuzz.findings.values()}
    assert ("GET /probe/{n}", 500) in found
    assert ("GET /liar", 200) in found
    assert all("curl" in f.reproduce for f in fuzz.findings.values())
