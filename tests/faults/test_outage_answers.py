"""What a request gets while the database cannot be reached: 503 with Retry-After, as JSON for
API clients and as a page for browsers; other failures keep their own answers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from asyncpg.exceptions import InterfaceError
from litestar import Litestar
from litestar.testing import TestClient

from ioc_core.runtime import build_runtime
from ioc_core.settings import Settings
from ioc_core.web.app import create_app
from ioc_core.web.outage import OUTAGE_HANDLERS, RETRY_AFTER_S, _is_outage

# Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
NOWHERE = "postgresql://ioc@127.0.0.1:9/ioc"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    settings = Settings.load({"IOC_VAR_DIR": str(tmp_path), "IOC_DATABASE_URL": NOWHERE})
    runtime = build_runtime(settings)
    with TestClient(create_app(runtime=runtime)) as test_client:
        yield test_client
    runtime.broker.close()


def test_an_api_client_gets_json_saying_when_to_retry(client: TestClient[Litestar]) -> None:
    response = client.get("/incidents", headers={"X-Api-Key": "ioc_some_key"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(RETRY_AFTER_S)
    body = response.json()
    assert body["status_code"] == 503 and str(RETRY_AFTER_S) in body["detail"]


def test_a_browser_gets_a_page_in_its_language(client: TestClient[Litestar]) -> None:
    client.cookies.set("ioc_lang", "en")
    response = client.get(
        "/incidents", headers={"X-Api-Key": "ioc_some_key", "Accept": "text/html"}
    )
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["retry-after"] == str(RETRY_AFTER_S)
    assert "<h1>Service unavailable</h1>" in response.text
    assert f"try again in {RETRY_AFTER_S} seconds" in response.text


def test_readiness_names_the_database(client: TestClient[Litestar]) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database" in [part["part"] for part in response.json()["failing"]]


def test_only_lost_connections_count_as_an_outage() -> None:
    lost = InterfaceError("cannot call Transaction.rollback(): the underlying connection is closed")
    assert _is_outage(ConnectionRefusedError(111, "Connect call failed"))
    assert _is_outage(OSError("Multiple exceptions: [Errno 111] Connect call failed"))
    assert _is_outage(lost)
    try:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError:
            # As Piccolo's rollback on the dropped connection does: the loss is the context.
            raise InterfaceError("cannot perform operation: another operation is in progress")  # noqa: B904
    except InterfaceError as during_cleanup:
        assert _is_outage(during_cleanup)
    assert not _is_outage(FileNotFoundError(2, "No such file or directory"))
    assert not _is_outage(PermissionError(13, "Permission denied"))
    assert not _is_outage(
        InterfaceError("cannot perform operation: another operation is in progress")
    )
    # SQLite's busy lock is contention, not an outage: no handler of these takes it.
    assert not isinstance(sqlite3.OperationalError("database is locked"), tuple(OUTAGE_HANDLERS))
