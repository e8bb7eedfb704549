"""moto's S3 server as a subprocess, and the helpers the lake tests share.

delta-rs has its own HTTP client, so moto's in-process mock would never see its calls:
the server is a separate process on 127.0.0.1, reached through ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from support import REQUIRE_SERVICES, free_port

START_TIMEOUT_S = 30


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start_moto(
    env: dict[str, str] | None = None, log: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m moto.server`` on a free port; returns once it listens (or fails)."""
    try:
        import moto.server  # noqa: F401
    except ImportError:  # pragma: no cover - the test extra installs it
        if REQUIRE_SERVICES:
            pytest.fail("moto[server] is not installed", pytrace=False)
        pytest.skip("moto[server] is not installed")
    port = free_port()
    # The child keeps its own copy of the log's descriptor; ours is closed at once.
    with open(log or os.devnull, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _listening(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_moto(proc)
            pytest.fail(f"moto's S3 server did not start on 127.0.0.1:{port}", pytrace=False)
        time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}"


def stop_moto(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def make_bucket(endpoint: str, key: str = "testing") -> str:
    import boto3

    name = f"lake-{uuid.uuid4().hex[:10]}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=key,
    )
    client.create_bucket(Bucket=name)
    client.close()
    return name


def s3_options(endpoint: str, key: str = "testing") -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": key,
    }
