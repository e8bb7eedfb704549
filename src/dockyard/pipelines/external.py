"""Runs executed by an orchestrator outside dockyard (Airflow, Kubeflow): planned and
recorded here, each step run by ``dockyard step run``, ended by :func:`end_run`.

What the exported DAGs call, in three tasks' worth::

    run = start_run(training, {"C": 0.5})        # dockyard step plan train.py:training
    run_step(run.id, "load")                      # dockyard step run --run ID --step load
    ...
    end_run(run.id)                               # dockyard step finish --run ID

The records equal an in-process run's: the run with its plan, one record per step
(``completed``, ``cached``, ``failed``, or ``skipped`` after a failed upstream step), and
the run's end status and error.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.pipelines.datasets import pin_datasets

if TYPE_CHECKING:
    from dockyard.metadata.base import RunRecord
    from dockyard.pipelines.pipeline import Pipeline
    from dockyard.stacks.stack import Stack

__all__ = ["end_run", "start_run"]


def start_run(
    pipeline: Pipeline,
    params: Mapping[str, Any] | None = None,
    *,
    stack: Stack | str | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    trust_pickle: bool | None = None,
) -> RunRecord:
    """Trace ``pipeline`` and record a run of it in status ``running``; execute nothing.

    Raises:
        ParameterError / PipelineDefinitionError: as for an in-process run.
    """
    from dockyard.settings import Settings
    from dockyard.stacks.stack import Stack, load_stack

    if trust_pickle is None:
        trust_pickle = Settings.from_env().trust_pickle
    plan, _ = pipeline.plan(params, config=config, trust_pickle=trust_pickle)
    s = stack if isinstance(stack, Stack) else load_stack(stack)
    pin_datasets(plan, s)
    # No process owns it: each step's process beats while it runs (dockyard step run).
    return s.metadata_store.create_run(
        plan.pipeline, spec=plan.to_dict(), params=plan.params, stack=s.name, owned=False
    )


def end_run(run_id: str, stack: Stack | str | None = None) -> RunRecord:
    """Record the end of a run whose steps an external orchestrator ran.

    Steps with no record never ran (the orchestrator skipped them after a failure): they
    are recorded ``skipped``, as an in-process run records them. The run is ``completed``
    when every step completed or was cached, else ``failed`` with the first failed step's
    error, worded as an in-process run words it.
    """
    from dockyard.pipelines.plan import RunPlan
    from dockyard.stacks.stack import Stack, load_stack

    s = stack if isinstance(stack, Stack) else load_stack(stack)
    metadata = s.metadata_store
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
