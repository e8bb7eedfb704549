"""Helpers shared by the tests (importable as ``support``: pytest puts tests/ on the path)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

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


def start_serve(project: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """``dockyard serve ARGS`` in ``project`` on a free port, as a user runs it; returns
    once it is ready, or has exited, or after 60 s (the caller checks ``proc.poll()``)."""
    import httpx

    port = free_port()
    env = {**os.environ, "DOCKYARD_HOME": str(project), "PYTHONPATH": str(project)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dockyard", "serve", *args, "--port", str(port)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/v2/health/ready", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    return proc, base


def stop_serve(proc: subprocess.Popen[str]) -> int:
    """SIGTERM, then wait, reading (and closing) both pipes; the exit status."""
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    return proc.returncode
