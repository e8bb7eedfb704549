"""Helpers of the engine tests: one pipeline file shared by two projects, and the
records of a run reduced to what must not depend on who ran it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dockyard.stacks.stack import clear_cache, load_stack

FLOW = '''
from dockyard import pipeline, step


@step
def load(n: int) -> list:
    return [float(i) for i in range(n)]


@step(retries=1, retry_backoff_s=0.1)
def scale(xs: list, k: float) -> list:
    return [x * k for x in xs]


@step
def shift(xs: list) -> list:
    return [x + 1 for x in xs]


@step
def report(a: list, b: list) -> dict:
    return {"a": sum(a), "b": sum(b)}


@step
def explode(xs: list) -> list:
    raise RuntimeError("step exploded")


@pipeline
def flow(n: int = 5, k: float = 2.0):
    """Scale and shift some numbers."""
    xs = load(n=n)
    report(scale(xs, k=k), shift(xs))


@pipeline
def broken(n: int = 3):
    xs = load(n=n)
    report(explode(xs), shift(xs))
'''


def write_flow(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "flow.py"
    path.write_text(FLOW)
    return path


def init_project(root: Path) -> None:
    from dockyard.stacks.config import ProjectConfig

    root.mkdir(parents=True, exist_ok=True)
    ProjectConfig.load(root).save()


def records(home: Path, run_id: str | None = None) -> dict[str, Any]:
    """The latest run of project ``home`` (or ``run_id``): what a run records, without
    ids and times."""
    os.environ["DOCKYARD_HOME"] = str(home)
    clear_cache()
    try:
        md = load_stack().metadata_store
        run = md.get_run(run_id) if run_id else md.list_runs(limit=1)[0]
        steps = {}
        for r in md.list_step_runs(run.id):
            steps[r.name] = {
                "status": r.status,
                "cache_hit": r.cache_hit,
                "attempts": r.attempts,
                "cache_key": r.cache_key,
                "error": (r.error or "").strip().splitlines()[-1:],
                "inputs": {k: md.get_artifact(v).content_hash for k, v in r.inputs.items()},
                "outputs": {k: md.get_artifact(v).content_hash for k, v in r.outputs.items()},
            }
        error = (run.error or "").replace(run.id[:8], "RUN")
        # The engine's key of its run (Airflow's run id, KFP's job id) is the one addition.
        spec = dict(run.spec)
        spec["extra"] = {k: v for k, v in (spec.get("extra") or {}).items() if k != "run_key"}
        return {
            "pipeline": run.pipeline,
            "status": run.status,
            "error": error,
            "params": run.params,
            "spec": spec,
            "steps": steps,
        }
    finally:
        clear_cache()
