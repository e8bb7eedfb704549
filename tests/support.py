"""Helpers shared by the tests (importable as ``support``: pytest puts tests/ on the path)."""

from __future__ import annotations

import os
import socket

import pytest

REQUIRE_SERVICES = os.environ.get("DOCKYARD_REQUIRE_SERVICES") == "1"


def _listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def need_service(name: str, port: int) -> None:
    """Skip (or fail under DOCKYARD_REQUIRE_SERVICES=1) when ``name`` is not up."""
    if _listening(port):
        return
    message = f"{name} is not listening on 127.0.0.1:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and DOCKYARD_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
