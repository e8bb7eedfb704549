"""``serve()`` as a process: graceful shutdown (readiness first, in-flight finish) and N workers."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from support import free_port

SCRIPT = """
import sys, time
import numpy as np
from dockyard.runtime import ModelRuntime
from dockyard.serving import ServeConfig, serve

class Slow:
    def predict(self, x):
        if x[0, 0] > 50:
            time.sleep(1.5)
        return np.zeros(len(x), dtype=np.int64)

port, workers, drain = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
serve([ModelRuntime(Slow(), name="slow", version=4)], ServeConfig(drain_seconds=drain),
      port=port, workers=workers, log_level="warning")
"""


def start(workers: int, drain: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(port), str(workers), str(drain)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not become ready")


@pytest.fixture
def stopper() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.slow
def test_graceful_shutdown_readiness_first_in_flight_finish(stopper: list) -> None:
    proc, url = start(workers=1, drain=1.0)
    stopper.append(proc)
    answers: list[httpx.Response] = []
    slow = threading.Thread(
        target=lambda: answers.append(
            httpx.post(url + "/predict", json={"instances": [[100.0]]}, timeout=10)
        )
    )
    slow.start()
    time.sleep(0.3)  # the slow request is in the model now
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    ready = httpx.get(url + "/v2/health/ready", timeout=2)
    assert ready.status_code == 503 and ready.json() == {"ready": False}
    assert httpx.get(url + "/v2/models/slow/ready", timeout=2).status_code == 503
    # still serving while draining
    assert httpx.post(url + "/predict", json={"instances": [[1.0]]}, timeout=2).status_code == 200
    slow.join(timeout=10)
    assert answers and answers[0].status_code == 200 and answers[0].json()["predictions"] == [0]
    proc.wait(timeout=15)


@pytest.mark.slow
def test_several_workers(stopper: list) -> None:
    proc, url = start(workers=2, drain=0.0)
    stopper.append(proc)
    for _ in range(6):
        r = httpx.post(url + "/predict", json={"instances": [[1.0], [2.0]]}, timeout=5)
        assert r.status_code == 200 and r.headers["x-model-version"] == "4"
        assert r.json() == {"predictions": [0, 0], "model": "slow", "version": 4}
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
