"""Triggers start pipeline runs from data and from dockyard's own events (scenario 5 of the
events issue), one run per burst, each run recording what triggered it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest

import dockyard.lake
from dockyard.errors import LakeError, TriggerError, UnknownTriggerError
from dockyard.events.trigger_api import add_trigger, list_triggers, remove_trigger
from dockyard.events.triggers import Observation, TriggerLoop, decide
from dockyard.stacks.stack import clear_cache, load_stack

FLOW = """
from typing import Annotated

import dockyard.lake
from dockyard import pipeline, register_model, step
from dockyard.lake import DatasetRef


@step
def train(data: DatasetRef = dockyard.lake.ref("raw/points")) -> Annotated[int, "version"]:
    from sklearn.linear_model import LogisticRegression

    df = dockyard.lake.open().read(data.name, version=data.version).to_pandas()
    return register_model("points", LogisticRegression().fit(df[["x"]], df.y)).version


@pipeline
def training():
    train()
"""


@pytest.fixture
def flow(project: Path):
    clear_cache()
    (project / "flow.py").write_text(FLOW)
    yield project
    clear_cache()


def _write(rows: int = 6) -> int:
    frame = pd.DataFrame({"x": [float(i) for i in range(rows)], "y": [i % 2 for i in range(rows)]})
    return dockyard.lake.open().write("raw/points", frame)


def _tick(loop: TriggerLoop, now: float | None = None) -> list:
    return asyncio.run(loop.tick(now))


def test_a_burst_of_twenty_writes_starts_one_run(flow: Path) -> None:
    _write()
    add_trigger("retrain", on_dataset="lake://raw/points", run="flow.py:training", debounce_s=0.5)
    for _ in range(20):
        _write()
    loop = TriggerLoop(load_stack(), cwd=flow)
    assert _tick(loop, now=0.0) == []  # seen, inside the debounce window
    started = _tick(loop, now=10.0)
    assert len(started) == 1
    run = started[0]
    assert run.outcome == "succeeded", run.output_tail
    assert run.reason["dataset"] == "raw/points"
    assert run.reason["versions"] == [20]  # the burst is seen as it stands at the next look
    assert _tick(loop, now=20.0) == []  # nothing new: no second run

    runs = load_stack().metadata_store.list_runs()
    assert len(runs) == 1
    triggered = runs[0].spec["extra"]["triggered_by"]
    assert triggered["trigger"] == "retrain" and triggered["trigger_run"] == run.id
    uses = load_stack().metadata_store.list_dataset_uses(runs[0].id)
    assert [(u.dataset, u.version) for u in uses] == [("raw/points", 20)]
    assert load_stack().trigger_store.get_trigger("retrain").mark == 20


def test_a_dockyard_event_starts_a_run(flow: Path) -> None:
    """A trigger on dockyard.model.* runs when a version is registered, and the run it
    starts (which registers a version itself) is answered once, not in a loop."""
    _write()
    add_trigger("on-model", on_event="dockyard.model.registered", run="flow.py:training")
    from sklearn.linear_model import LogisticRegression

    from dockyard.registry import register_model

    register_model("other", LogisticRegression().fit([[0.0], [1.0]], [0, 1]))
    loop = TriggerLoop(load_stack(), cwd=flow)
    _tick(loop, now=0.0)
    started = _tick(loop, now=100.0)
    assert [r.reason["event"] for r in started] == ["dockyard.model.registered"]
    assert started[0].reason["events"][0]["type"] == "dockyard.model.registered"
    assert started[0].outcome == "succeeded", started[0].output_tail


def test_decide_waits_for_quiet_then_fires() -> None:
    seen = Observation(3)
    assert decide(3, seen, 0.0, debounce_s=5, max_wait_s=60) == "idle"
    seen.saw(4, 0.0)
    seen.saw(5, 4.0)
    assert decide(3, seen, 6.0, debounce_s=5, max_wait_s=60) == "wait"  # 2 s since the last
    assert decide(3, seen, 9.0, debounce_s=5, max_wait_s=60) == "fire"
    busy = Observation(0)
    for t in range(0, 61, 2):
        busy.saw(t + 1, float(t))
    assert decide(0, busy, 61.0, debounce_s=5, max_wait_s=60) == "fire"  # never quiet


def test_bad_triggers_say_what_is_wrong(flow: Path) -> None:
    with pytest.raises(TriggerError, match="Invalid trigger name"):
        add_trigger("-x", on_dataset="raw/points", run="flow.py:training")
    with pytest.raises(TriggerError, match="exactly one of --on-dataset, --on-topic, --on-event"):
        add_trigger("x", on_dataset="raw/points", on_event="dockyard.*", run="flow.py:training")
    with pytest.raises(TriggerError, match="FILE_OR_MODULE:PIPELINE"):
        add_trigger("x", on_dataset="raw/points", run="flow.py")
    with pytest.raises(TriggerError, match="dockyard event type or glob"):
        add_trigger("x", on_event="model.registered", run="flow.py:training")
    with pytest.raises(TriggerError, match="needs a bus"):
        add_trigger("x", on_topic="customers.events", run="flow.py:training")
    with pytest.raises(LakeError, match="Unknown lake zone 'bronze'"):
        add_trigger("x", on_dataset="bronze/points", run="flow.py:training")
    add_trigger("x", on_dataset="raw/points", run="flow.py:training")
    with pytest.raises(TriggerError, match="exists already"):
        add_trigger("x", on_dataset="raw/points", run="flow.py:training")
    assert [t.name for t in list_triggers()] == ["x"]
    remove_trigger("x")
    with pytest.raises(UnknownTriggerError, match="No trigger named 'x'"):
        remove_trigger("x")


def test_the_cli_adds_lists_runs_and_shows_the_cause(flow: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "DOCKYARD_HOME": str(flow), "COLUMNS": "220", "NO_COLOR": "1"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dockyard", *args],
            cwd=flow, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    _write()
    added = cli("trigger", "add", "retrain", "--on-dataset", "lake://raw/points",
                "--run", "flow.py:training", "--debounce", "0")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "on dataset raw/points" in added.stdout
    assert "retrain" in cli("trigger", "list").stdout
    _write()
    once = cli("triggers", "--once")
    assert once.returncode == 0, once.stderr
    assert "1 run(s) started" in once.stdout and "retrain: succeeded" in once.stderr
    assert '"versions": [1]' in cli("trigger", "history").stdout
    run_id = load_stack().metadata_store.list_runs()[0].id
    assert '"trigger": "retrain"' in cli("runs", "show", run_id[:8]).stdout
    bad = cli("trigger", "add", "x", "--run", "flow.py:training")
    assert bad.returncode == 1 and "exactly one of --on-dataset" in bad.stderr
