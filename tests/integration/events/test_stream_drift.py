"""Drift on a stream (scenario 7 of the events issue): a consumer watching its traffic
against the training profile records ``dockyard.model.drift_detected`` when the inputs
shift, and a trigger on that event starts retraining."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from events_support import FEATURES

from dockyard.db.outbox import Outbox
from dockyard.errors import ConsumerConfigError
from dockyard.events import Outgoing, consume, open_bus
from dockyard.events.trigger_api import add_trigger
from dockyard.events.triggers import TriggerLoop
from dockyard.stacks.stack import load_stack

RETRAIN = """
from typing import Annotated
from dockyard import pipeline, step


@step
def retrain() -> Annotated[str, "why"]:
    import os
    return os.environ.get("DOCKYARD_TRIGGERED_BY", "")


@pipeline
def retraining():
    retrain()
"""


def _events(n: int, shift: float, start: int = 0) -> list[Outgoing]:
    rng = np.random.default_rng(start)
    rows = rng.normal(loc=shift, size=(n, len(FEATURES))).round(4)
    return [
        Outgoing(
            json.dumps(
                {"id": start + i, "features": dict(zip(FEATURES, row.tolist(), strict=True))}
            ).encode(),
            key=str(start + i),
        )
        for i, row in enumerate(rows)
    ]


def _publish(url: str, messages: list[Outgoing]) -> None:
    async def go() -> None:
        async with await open_bus(url) as bus:
            await bus.publish_many("drift.in", messages)

    asyncio.run(go())


def _drift_events() -> list:
    return [
        e
        for e in Outbox(load_stack().database).recent(limit=100)
        if e.type.endswith("drift_detected")
    ]


def test_shifted_inputs_raise_drift_detected_and_a_trigger_retrains(churn: Path) -> None:
    url = "memory://drift-scenario"
    (churn / "retrain.py").write_text(RETRAIN)
    add_trigger(
        "on-drift",
        on_event="dockyard.model.drift_detected",
        run="retrain.py:retraining",
        debounce_s=0,
    )

    _publish(url, _events(400, shift=0.0))  # like the training sample: two quiet windows
    consume("churn@production", bus=url, input="drift.in", output="drift.out",
            drift_window=200, max_messages=400, idle_exit_s=2.0)  # fmt: skip
    assert _drift_events() == []

    _publish(url, _events(400, shift=3.0, start=1000))  # every input moved by 3 sd
    consume("churn@production", bus=url, input="drift.in", output="drift.out",
            drift_window=200, max_messages=400, idle_exit_s=2.0)  # fmt: skip
    drifted = _drift_events()
    assert len(drifted) == 1  # one full window (batches of 64: the next one is partial)
    data = drifted[0].data
    assert (data["name"], data["version"], data["drifted"]) == ("churn", 1, True)
    assert data["rows"] >= 200 and data["features"]["f0"]["psi"] > 0.25
    assert any("PSI" in reason for reason in data["reasons"])

    loop = TriggerLoop(load_stack(), cwd=churn)
    started = asyncio.run(loop.tick(now=0.0)) + asyncio.run(loop.tick(now=10.0))
    assert len(started) == 1 and started[0].outcome == "succeeded", started[0].output_tail
    assert [e["type"] for e in started[0].reason["events"]] == ["dockyard.model.drift_detected"]
    runs = load_stack().metadata_store.list_runs()
    assert runs, started[0].output_tail
    run = runs[0]
    assert run.spec["extra"]["triggered_by"]["event"] == "dockyard.model.drift_detected"


def test_a_drift_window_needs_a_profile_and_a_size(churn: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    from dockyard.registry import register_model

    register_model("bare", LogisticRegression().fit([[0.0] * 4, [1.0] * 4], [0, 1]))
    with pytest.raises(ConsumerConfigError, match=r"no training profile.*sample"):
        consume("bare:1", bus="memory://", input="x.in", output="x.out", drift_window=10,
                max_messages=1, idle_exit_s=0.1)  # fmt: skip
    with pytest.raises(ConsumerConfigError, match="--drift-window must be at least 1"):
        consume("churn:1", bus="memory://", input="x.in", output="x.out", drift_window=0)
