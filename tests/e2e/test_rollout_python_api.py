"""Deployments driven from Python, as a notebook or a CI job would, with real processes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from dockyard import register_model
from dockyard.errors import RolloutError
from dockyard.registry import get_model_version
from dockyard.rollout import RolloutSpec, deploy, down, history, status
from dockyard.stacks.stack import clear_cache, load_stack
from support import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def models(project: Path):
    clear_cache()
    X, y = load_iris(return_X_y=True)
    register_model("flower", LogisticRegression(C=1.0, max_iter=500).fit(X, y), sample=X)
    register_model("flower", LogisticRegression(C=0.3, max_iter=500).fit(X, y), sample=X)
    yield X
    clear_cache()


def test_canary_from_python(models) -> None:
    port = free_port()
    first = deploy("flower-api", "flower:1", port=port, timeout_s=120)
    assert first.phase == "completed"
    url = f"http://127.0.0.1:{port}/predict"
    answers: list[int] = []
    stop = threading.Event()

    def traffic() -> None:  # bounded: at most 20,000 requests or 120 s
        # Paced (~200 a second at most) so that traffic lasts until the candidate is up:
        # a closed loop of 3,000 requests once ended before it started.
        deadline = time.monotonic() + 120
        with httpx.Client(timeout=5) as client:
            for i in range(20_000):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                row = models[i % len(models)].tolist()
                answers.append(client.post(url, json={"instances": [row]}).status_code)
                time.sleep(0.005)

    thread = threading.Thread(target=traffic, daemon=True)
    thread.start()
    events = []
    try:
        spec = RolloutSpec.from_cli(
            strategy="canary", steps="50,100", interval="1s", min_requests=20, max_error_rate=0.05
        )
        final = deploy("flower-api", "flower:2", spec=spec, timeout_s=120, on_event=events.append)
    finally:
        stop.set()
        thread.join(timeout=10)
    try:
        assert final.phase == "completed", [e.reason for e in events]
        assert [e.kind for e in events][-1] == "alias"
        assert get_model_version("flower@production").version == 2
        now = status("flower-api")
        assert (now.phase, now.stable, now.gateway_up) == ("completed", 2, True)
        assert [v.role for v in now.versions] == ["stable"]
        assert now.versions[0].weight == 100.0 and now.last_decision is not None
        assert now.last_decision.kind == "alias"
        assert [e.kind for e in history("flower-api")][-2:] == ["complete", "alias"]
        assert answers
        assert set(answers) == {200}
        with pytest.raises(RolloutError, match="in use by deployment 'flower-api'"):
            deploy("other-api", "flower:2", port=port)
    finally:
        down("flower-api")
    assert load_stack().deployment_store.list_deployments() == []
