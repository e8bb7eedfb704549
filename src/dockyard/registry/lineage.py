"""Which lake dataset versions a model version was trained on.

A version registered inside a step records its run and step. The datasets it was trained
on are the dataset versions read by that step and by every step upstream of it in the
run's DAG (the metadata store records them as the steps read them)::

    training_datasets("churn@production")   # [DatasetUse("curated/customers", 3, "input", ...)]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockyard.metadata.base import DatasetUse
from dockyard.pipelines.plan import RunPlan

if TYPE_CHECKING:
    from dockyard.registry.refs import ModelRef
    from dockyard.registry.store import ModelVersionRecord
    from dockyard.stacks.stack import Stack

__all__ = ["training_datasets", "upstream_steps"]


def upstream_steps(graph: dict[str, list[str]], step: str) -> set[str]:
    """``step`` and every step it waits for, directly or not."""
    seen: set[str] = set()
    todo = [step]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


def training_datasets(
    version: str | ModelRef | ModelVersionRecord, stack: Stack | str | None = None
) -> list[DatasetUse]:
    """The dataset versions read on the way to ``version`` (a reference or its record),
    first use first, each once; empty for a version registered outside a run.

    Raises:
        ModelNotFoundError: no such model version.
    """
    from dockyard.registry.model import get_model_version
    from dockyard.registry.store import ModelVersionRecord
    from dockyard.stacks.stack import Stack, load_stack

    s = stack if isinstance(stack, Stack) else load_stack(stack)
    record = version if isinstance(version, ModelVersionRecord) else get_model_version(version, s)
    if record.run_id is None or record.step is None:
        return []
    metadata = s.metadata_store
    plan = RunPlan.from_dict(metadata.get_run(record.run_id).spec)
    steps = upstream_steps(plan.graph(), record.step)
    out: dict[tuple[str, int], DatasetUse] = {}
    for use in metadata.list_dataset_uses(record.run_id):
        if use.direction == "input" and use.step in steps:
            out.setdefault((use.dataset, use.version), use)
    return list(out.values())
