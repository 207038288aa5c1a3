"""/healthz, /readyz and the OpenAPI schema."""

import dataclasses
import os
from pathlib import Path

import pika
from litestar.testing import TestClient

from ioc_core.settings import Settings
from ioc_core.web.app import create_app
from tests.helpers import service_missing

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


RABBITMQ_URL = os.environ.get("IOC_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def test_readyz_with_rabbitmq(settings: Settings) -> None:
    try:
        pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL)).close()
    except pika.exceptions.AMQPError as exc:
        service_missing("RabbitMQ", exc)
    with TestClient(create_app(dataclasses.replace(settings, broker_url=RABBITMQ_URL))) as client:
        assert client.get("/readyz").json()["status"] == "ok"
    away = dataclasses.replace(settings, broker_url=f"amqp://guest:guest@127.0.0.1:{CLOSED_PORT}/")
    with TestClient(create_app(away)) as client:
        assert [f["part"] for f in client.get("/readyz").json()["failing"]] == ["broker"]
