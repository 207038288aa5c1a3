"""Schemathesis against the app's OpenAPI: every operation, as three callers, never a 5xx and
never an answer outside what the schema declares.

The callers: nobody, an API key holding every permission (Authorization: Bearer) and a signed-in
administrator with a valid CSRF token, so state-changing routes get past CSRF and run their
handlers. The machine API the app publishes in its schema is held to all of its declarations
(status codes, media types, bodies); the staff pages and the portal, documented for the fuzz
only (see fuzz_app.py), answer HTML and are held to "no server error" and their declared body.
A case that does something to the callers themselves (revokes the key, ends the session) is
undone after it, so that every case after it runs as the caller it names.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

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
    document_every_route,
    restore,
    seed,
)

# At least this many generated requests per run, across every operation and caller.
MINIMUM_CASES = 1000
# Examples per operation and caller: with three callers, enough for MINIMUM_CASES over the
# operations that take parameters (one without any has few distinct cases to give).
EXAMPLES = 7
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
        return f"{self.operation} as {self.caller}: HTTP {self.status}: {first}\n    {self.reproduce}"


@dataclass
class Fuzz:
    client: TestClient[Litestar]
    seeded: Seeded
    callers: list[Caller]
    session: Caller
    findings: dict[tuple[str, str, int, str], Finding]
    cases: int = 0

    def send(self, case: Case, caller: Caller, checks: list[Callable[..., Any]]) -> None:
        self.cases += 1
        kwargs = case.as_transport_kwargs(base_url=str(self.client.base_url))
        body: dict[str, Any] = {}
        for name in ("json", "files"):
            if name in kwargs:
                body[name] = kwargs[name]
        if "data" in kwargs:
            key = "content" if isinstance(kwargs["data"], bytes | str) else "data"
            body[key] = kwargs["data"]
        headers = {**(kwargs.get("headers") or {}), **caller.headers}
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
        token = in_app(self.client, restore, self.seeded, self.session.cookies[SESSION_COOKIE])
        if token is not None:
            self.session.cookies[SESSION_COOKIE] = token


def _platform(settings: Settings) -> tuple[Runtime, Seeded]:
    from ioc_core.plugins import lifecycle

    runtime = build_runtime(settings, park_delay_ms=200)
    run(lifecycle.migrate_enabled(runtime.registry))
    return runtime, run(seed(runtime))


def _callers(client: TestClient[Litestar], seeded: Seeded) -> tuple[list[Caller], Caller]:
    """Nobody, the API key and the administrator's session, the last two with a CSRF token
    (an API client can fetch one like anyone: the key must still be what decides)."""
    client.get("/healthz")
    client.cookies.clear()
    token = in_app(client, restore, seeded, "")
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
    return [Caller("anonymous"), key, staff], staff


def _strategy(operation: Any) -> st.SearchStrategy[Case]:
    positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    takes_input = bool(list(operation.iter_parameters())) or bool(operation.body)
    if not takes_input:
        return positive
    return st.one_of(positive, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))


def _run(
    fuzz: Fuzz, strategy: st.SearchStrategy[Case], caller: Caller, checks: list[Any]
) -> None:
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
            schema = schemathesis.openapi.from_dict(raw)
            callers, session = _callers(client, seeded)
            fuzz = Fuzz(client, seeded, callers, session, {})
            operations = []
            for result in schema.get_all_operations():
                operations.append(result.ok())
            exercised = set()
            for operation in operations:
                if operation.label in EXCLUDED:
                    continue
                checks = API_CHECKS if operation.label in published else PAGE_CHECKS
                strategy = _strategy(operation)
                for caller in callers:
                    _run(fuzz, strategy, caller, checks)
                exercised.add(operation.label)
    finally:
        runtime.broker.close()
    elapsed = time.monotonic() - started
    print(f"\nAPI fuzz: {fuzz.cases} cases over {len(exercised)} operations in {elapsed:.1f} s")
    assert len(exercised) == len(operations) - len(EXCLUDED)
    assert published <= {op.label for op in operations}, "the published API is fuzzed"
    assert fuzz.cases >= MINIMUM_CASES
    if fuzz.findings:
        report = "\n".join(str(f) for f in fuzz.findings.values())
        raise AssertionError(f"{len(fuzz.findings)} findings in {fuzz.cases} cases:\n{report}")
