"""Steps executed in other processes: a stack rebuilt from its config, the stores a remote
worker could not reach.

:class:`StackSpec` is the picklable form of a :class:`~dockyard.stacks.stack.Stack` (its
name, component configs and config folder); :func:`run_remote` rebuilds the stack once per
worker process and runs one step through :func:`~dockyard.pipelines.execution.run_step`,
so a step on a Dask worker is cached, loaded, saved and recorded exactly as in-process.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import StepFailed
from dockyard.pipelines.execution import RunContext, check_step, execute_step, load_run

if TYPE_CHECKING:
    from dockyard.stacks.stack import Stack

__all__ = ["StackSpec", "local_stores", "run_remote"]


@dataclass(frozen=True)
class StackSpec:
    """What another process needs to build the same stack: no connection, no object."""

    name: str
    components: dict[str, dict[str, Any]]
    config_dir: str

    @classmethod
    def of(cls, stack: Stack) -> StackSpec:
        return cls(stack.name, json.loads(json.dumps(stack.components)), str(stack.config_dir))

    def build(self) -> Stack:
        from dockyard.stacks.stack import Stack

        return Stack(self.name, self.components, Path(self.config_dir))


_stacks: dict[str, Stack] = {}
#: The runs this worker executed steps of, newest last: the plan is read once per run
#: and worker, not once per step (a 200-step plan parsed for each step made a run O(n²)).
_runs: OrderedDict[tuple[str, str], RunContext] = OrderedDict()
_KEEP_RUNS = 8
_lock = threading.Lock()


def _stack(spec: StackSpec) -> Stack:
    key = json.dumps([spec.name, spec.components, spec.config_dir], sort_keys=True)
    with _lock:
        stack = _stacks.get(key)
        if stack is None:  # once per worker process: connections are reused by its steps
            stack = _stacks[key] = spec.build()
        return stack


def run_remote(spec: StackSpec, run_id: str, step: str) -> bool:
    """Run one step of a planned run in this process (a worker), as
    :func:`~dockyard.pipelines.execution.run_step` does; True when it completed or was
    cached, False when the user's step failed (recorded as failed).

    Raises:
        DockyardError: the step could not be executed (no such run, a store unreachable).
    """
    stack = _stack(spec)
    key = (json.dumps([spec.name, spec.config_dir]), run_id)
    with _lock:
        ctx = _runs.get(key)
        if ctx is not None:
            _runs.move_to_end(key)
    if ctx is None:
        ctx = load_run(run_id, stack)
        with _lock:
            _runs[key] = ctx
            while len(_runs) > _KEEP_RUNS:
                _runs.popitem(last=False)
    check_step(ctx, step)
    try:
        execute_step(ctx, step)
    except StepFailed:
        return False
    return True


def local_stores(stack: Stack) -> list[str]:
    """The stack's stores on this machine's disk (or in this process's memory), for a
    message: workers on another machine cannot reach them (a local folder, an SQLite
    file), and no other process reaches an in-memory one (``memory://``, ``:memory:``)."""
    found = []
    for kind, label in (
        ("artifact_store", "artifact store"),
        ("metadata_store", "metadata store"),
        ("lake", "lake"),
    ):
        if kind == "lake" and kind not in stack.components:
            continue  # no lake configured: none to reach
        try:
            options = stack.component_config(kind)
        except Exception:  # a kind not installed or not configured: nothing to reach
            continue
        path, url = options.get("path"), options.get("url")
        if isinstance(path, str) and (
            "://" not in path or path.startswith(("file://", "memory://"))
        ):
            found.append(f"{label} {path}")
        if isinstance(url, str) and url.startswith("sqlite:"):
            found.append(f"{label} {url}")
    return found
