"""Runs executed by an orchestrator outside dockyard (Airflow, Kubeflow): planned and
recorded here, each step run by ``dockyard step run``, ended by :func:`end_run`.

What the exported DAGs call, in three tasks' worth::

    run = start_run(training, {"C": 0.5}, key=KEY)  # dockyard step plan train.py:training --key KEY
    run_step(run.id, "load")                        # dockyard step run --run ID --step load
    ...
    end_run(run.id)                                 # dockyard step finish --run ID (or --key KEY)

``key`` is the engine's id of its run (Airflow's DAG run id, KFP's job id), kept in the
plan's ``extra`` as ``run_key``: planning again with the same key (a retried plan task)
returns the same run, and a task that cannot get the run id (KFP's exit handler) finds
the run by it.

The records equal an in-process run's: the run with its plan, one record per step
(``completed``, ``cached``, ``failed``, or ``skipped`` after a failed upstream step), and
the run's end status and error.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import RecordNotFoundError
from dockyard.pipelines.datasets import pin_datasets

if TYPE_CHECKING:
    from dockyard.metadata.base import RunRecord
    from dockyard.pipelines.pipeline import Pipeline
    from dockyard.stacks.stack import Stack

__all__ = ["RUN_KEY", "end_run", "find_run", "start_run"]

#: Where a run's engine key is kept in its plan's ``extra``.
RUN_KEY = "run_key"
#: How many of a pipeline's newest runs are searched for a key.
_KEY_SEARCH = 500


def find_run(stack: Stack, pipeline: str, key: str) -> RunRecord | None:
    """The run of ``pipeline`` planned with ``key`` (among its newest runs), or None."""
    for run in stack.metadata_store.list_runs(pipeline=pipeline, limit=_KEY_SEARCH):
        if (run.spec.get("extra") or {}).get(RUN_KEY) == key:
            return run
    return None


def start_run(
    pipeline: Pipeline,
    params: Mapping[str, Any] | None = None,
    *,
    stack: Stack | str | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    trust_pickle: bool | None = None,
    key: str | None = None,
) -> RunRecord:
    """Trace ``pipeline`` and record a run of it in status ``running``; execute nothing.

    With ``key``, the run already planned with that key is returned if there is one.

    Raises:
        ParameterError / PipelineDefinitionError: as for an in-process run.
    """
    from dockyard.settings import Settings
    from dockyard.stacks.stack import Stack, load_stack

    if trust_pickle is None:
        trust_pickle = Settings.from_env().trust_pickle
    plan, _ = pipeline.plan(params, config=config, trust_pickle=trust_pickle)
    s = stack if isinstance(stack, Stack) else load_stack(stack)
    if key:
        found = find_run(s, plan.pipeline, key)
        if found is not None:
            return found
        plan.extra[RUN_KEY] = key
    pin_datasets(plan, s)
    # No process owns it: each step's process beats while it runs (dockyard step run).
    return s.metadata_store.create_run(
        plan.pipeline, spec=plan.to_dict(), params=plan.params, stack=s.name, owned=False
    )


def end_run(
    run_id: str | None = None,
    stack: Stack | str | None = None,
    *,
    key: str | None = None,
    pipeline: str | None = None,
) -> RunRecord:
    """Record the end of a run whose steps an external orchestrator ran: the run
    ``run_id``, or the run of ``pipeline`` planned with ``key``.

    Raises:
        RecordNotFoundError: no such run, or no run planned with ``key``.

    Steps with no record never ran (the orchestrator skipped them after a failure): they
    are recorded ``skipped``, as an in-process run records them. The run is ``completed``
    when every step completed or was cached, else ``failed`` with the first failed step's
    error, worded as an in-process run words it.
    """
    from dockyard.pipelines.plan import RunPlan
    from dockyard.stacks.stack import Stack, load_stack

    s = stack if isinstance(stack, Stack) else load_stack(stack)
    metadata = s.metadata_store
    if run_id is None:
        if not key or not pipeline:
            raise ValueError("end_run needs run_id, or key and pipeline")
        found = find_run(s, pipeline, key)
        if found is None:
            raise RecordNotFoundError(
                f"No run of pipeline {pipeline!r} was planned with key {key!r} (the plan "
                "task failed, or the key is another engine run's)."
            )
        run_id = found.id
    record = metadata.get_run(run_id)
    plan = RunPlan.from_dict(record.spec)
    seen = {r.name: r for r in metadata.list_step_runs(record.id)}
    failed = [seen[n] for n in plan.invocations if n in seen and seen[n].status == "failed"]
    for name in plan.invocations:
        if name not in seen:
            reason = "an upstream step failed" if failed else "not run by the orchestrator"
            metadata.record_step_run(record.id, name, status="skipped", error=reason)
    if not failed and len(seen) == len(plan.invocations):
        metadata.finish_run(record.id, "completed")
    else:
        if failed:
            last = (failed[0].error or "unknown error").strip().splitlines()[-1]
            error = f"Step {failed[0].name!r} failed in run {record.id[:8]}: {last}"
        else:
            error = f"Run {record.id[:8]}: some steps were not run by the orchestrator."
        metadata.finish_run(record.id, "failed", error)
    return metadata.get_run(record.id)
