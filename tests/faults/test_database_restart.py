"""PostgreSQL restarting under intake: every answer is a 201 for a stored report or a 503 that
says to retry, never a 500 and never a 201 for something lost; the server recovers by itself."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.faults.platform import CREATED, FAULT_MARKS, V2, Platform, rows
from tests.faults.services import PrivatePostgres

pytestmark = FAULT_MARKS

CLIENTS = 4
# Per client: bounds the load whatever the timing.
MAX_REQUESTS = 150
LOAD_BEFORE_S = 1.0
LOAD_AFTER_S = 2.0
RECOVERY_TIMEOUT_S = 15.0
SHUTDOWN_TIMEOUT_S = 10.0


@dataclass
class Outcome:
    status: int | None  # None: no HTTP answer at all
    body: Any
    headers: httpx.Headers | None
    error: str = ""


def _outcome(response: httpx.Response) -> Outcome:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return Outcome(response.status_code, body, response.headers)


def _load(platform: Platform, client_no: int, stop: threading.Event, out: list[Outcome]) -> None:
    with httpx.Client(timeout=30) as client:
        for n in range(MAX_REQUESTS):
            if stop.is_set():
                return
            try:
                response = platform.report(client, f"load-{client_no}-{n}@example.vn")
            except httpx.TransportError as exc:
                out.append(Outcome(None, None, None, f"{type(exc).__name__}: {exc}"))
                continue
            out.append(_outcome(response))


def _is_clear_503(outcome: Outcome) -> bool:
    """A 503 an API client can act on: JSON saying what happened, and when to retry."""
    assert outcome.headers is not None
    retry_after = outcome.headers.get("retry-after", "")
    return (
        outcome.status == 503
        and retry_after.isdigit()
        and int(retry_after) > 0
        and isinstance(outcome.body, dict)
        and outcome.body.get("status_code") == 503
        and retry_after in str(outcome.body.get("detail", ""))
    )


def _stored_codes(platform: Platform) -> list[str]:
    return [
        r["code"]
        for r in rows(
            platform,
            "SELECT i.code FROM incident i JOIN fr_report r ON r.incident = i.id ORDER BY i.code",
        )
    ]


def _recovers(platform: Platform, client: httpx.Client) -> httpx.Response:
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while True:
        response = platform.report(client, "after@example.vn")
        if response.status_code == CREATED or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_a_database_restart_under_intake_gives_503s_and_no_lost_reports(
    platform: Platform, private_pg: PrivatePostgres
) -> None:
    server = platform.serve()
    outcomes: list[Outcome] = []
    stop = threading.Event()
    clients = [
        threading.Thread(target=_load, args=(platform, n, stop, outcomes)) for n in range(CLIENTS)
    ]
    for thread in clients:
        thread.start()
    try:
        time.sleep(LOAD_BEFORE_S)
        private_pg.restart()
        time.sleep(LOAD_AFTER_S)
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in clients)

    kinds = Counter(o.status for o in outcomes)
    unexpected = [o for o in outcomes if o.status not in (CREATED, 503)]
    assert not unexpected, (kinds, unexpected[:5], platform.process_logs())
    unclear = [o for o in outcomes if o.status == 503 and not _is_clear_503(o)]
    assert not unclear, unclear[:5]
    # The restart must have been felt, or this test proved nothing.
    assert kinds[503] >= 1, kinds

    answered = [o.body[0]["service_request_id"] for o in outcomes if o.status == CREATED]
    stored = _stored_codes(platform)
    assert len(answered) == len(set(answered)), "one code answered twice"
    assert sorted(answered) == stored, "every 2xx is stored, once, and nothing else is"

    with httpx.Client(timeout=30) as client:
        response = _recovers(platform, client)
    assert response.status_code == CREATED, (response.status_code, response.text)
    assert server.poll() is None, "the server recovered without a restart"
    assert _stored_codes(platform) == sorted([*answered, response.json()[0]["service_request_id"]])
    # Shutting down waits for every pooled connection: a connection lost with the old server and
    # never given back would hold it (and, a few restarts later, every request).
    server.terminate()
    try:
        server.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"ioc serve did not stop within {SHUTDOWN_TIMEOUT_S} s of SIGTERM")


def test_a_stopped_database_answers_503_to_api_clients_browsers_and_probes(
    platform: Platform, private_pg: PrivatePostgres
) -> None:
    platform.serve()
    with httpx.Client(timeout=30) as client:
        assert platform.report(client, "before@example.vn").status_code == CREATED
        private_pg.stop()
        try:
            api = _outcome(platform.report(client, "during@example.vn"))
            page = client.get(
                f"{platform.base}/report", headers={"Accept": "text/html", "Accept-Language": "en"}
            )
            ready = client.get(f"{platform.base}/readyz")
            listing = client.get(f"{platform.base}{V2}/requests.json")
        finally:
            private_pg.start()
        assert _is_clear_503(api), (api, platform.process_logs())
        assert page.status_code == 503 and page.headers["retry-after"].isdigit(), page.text
        assert page.headers["content-type"].startswith("text/html")
        assert "<h1>" in page.text and page.headers["retry-after"] in page.text
        assert ready.status_code == 503
        assert "database" in [part["part"] for part in ready.json()["failing"]]
        assert listing.status_code == 503, listing.text

        recovered = _recovers(platform, client)
        assert recovered.status_code == CREATED, recovered.text
        assert client.get(f"{platform.base}/readyz").status_code == 200
    assert len(_stored_codes(platform)) == 2, "the report refused with 503 was not stored"
