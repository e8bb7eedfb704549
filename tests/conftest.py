"""Shared fixtures: a temporary project folder and the real services.

A test that needs a service asks for its fixture. When the service is not listening the
test is skipped with the reason, unless ``DOCKYARD_REQUIRE_SERVICES=1`` (CI), where the
test fails instead: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import REQUIRE_SERVICES, free_port, need_service

__all__ = ["free_port", "need_service"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder, made the working directory and DOCKYARD_HOME."""
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("DOCKYARD_HOME", str(root))
    return root


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """Base URL of the local PostgreSQL server (database ``test``)."""
    need_service("PostgreSQL", 5432)
    return os.environ.get(
        "DOCKYARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import sqlalchemy as sa

    name = f"dockyard_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = postgres_server.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Redis on 127.0.0.1:6379, database 9 (tests use unique keys and delete them)."""
    need_service("Redis", 6379)
    return os.environ.get("DOCKYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


@pytest.fixture(scope="session")
def nats_url() -> str:
    """NATS with JetStream on 127.0.0.1:4222."""
    need_service("NATS", 4222)
    return os.environ.get("DOCKYARD_TEST_NATS_URL", "nats://127.0.0.1:4222")


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """RabbitMQ on 127.0.0.1:5672 (guest/guest)."""
    need_service("RabbitMQ", 5672)
    return os.environ.get("DOCKYARD_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (a real HTTP server speaking the S3 API)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # pragma: no cover - the test extra installs it
        if REQUIRE_SERVICES:
            pytest.fail("moto[server] is not installed", pytrace=False)
        pytest.skip("moto[server] is not installed")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh bucket on the moto server; returns ``s3://bucket/prefix``."""
    import boto3

    name = f"dockyard-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return f"s3://{name}/artifacts"
