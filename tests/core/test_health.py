"""/healthz, /readyz and the OpenAPI schema."""

import dataclasses
from pathlib import Path

from litestar.testing import TestClient

from ioc_core.settings import Settings
from ioc_core.web.app import create_app

CLOSED_PORT = 9  # discard: nothing listens on loopback here


def test_healthz_readyz_and_schema(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ok", "checked": ["broker", "database"]}
        schema = client.get("/schema/openapi.json").json()
        assert {"/healthz", "/readyz"} <= set(schema["paths"])


def test_readyz_names_an_unreachable_postgresql(settings: Settings) -> None:
    away = dataclasses.replace(
        settings, database_url=f"postgresql://postgres@127.0.0.1:{CLOSED_PORT}/ioc"
    )
    with TestClient(create_app(away)) as client:
        assert client.get("/healthz").status_code == 200, "alive while the database is away"
        ready = client.get("/readyz")
        assert ready.status_code == 503
        failing = ready.json()["failing"]
        assert [f["part"] for f in failing] == ["database"]
        assert "Connect" in failing[0]["error"] or "refused" in failing[0]["error"]


def test_readyz_names_an_unreadable_sqlite_file(settings: Settings, tmp_path: Path) -> None:
    a_folder = tmp_path / "not-a-file"
    a_folder.mkdir()
    away = dataclasses.replace(settings, database_url=f"sqlite:///{a_folder}")
    with TestClient(create_app(away)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert [f["part"] for f in ready.json()["failing"]] == ["database"]


def test_readyz_names_an_unreachable_broker(settings: Settings, tmp_path: Path) -> None:
    away = dataclasses.replace(settings, broker_url=f"redis://127.0.0.1:{CLOSED_PORT}/0")
    with TestClient(create_app(away)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert [f["part"] for f in ready.json()["failing"]] == ["broker"]
