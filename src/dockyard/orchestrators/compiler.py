"""The PipelineCompiler port: turn a traced pipeline into another engine's files.

Where an :class:`~dockyard.orchestrators.base.Orchestrator` runs a pipeline now, a
compiler writes what an external engine (Airflow, Kubeflow Pipelines) needs to run it
later, on its own schedule. Every task it emits runs dockyard's commands, so caching,
lineage and records are those of an in-process run:

1. ``dockyard step plan TARGET -p KEY=VALUE...`` records a run and prints its id;
2. ``dockyard step run --run RUN --step STEP`` once per step, after its upstream steps;
3. ``dockyard step finish --run RUN`` records the run's end (and fails when a step did).

A compiler gets plain data (:class:`PipelineSpec`), never the pipeline objects, and
imports its engine's SDK only inside :meth:`PipelineCompiler.compile`.

Example (a compiler writing a shell script)::

    class ShellCompiler(PipelineCompiler):
        flavor = "shell"

        def compile(self, pipeline, output, **options):
            lines = ["set -e", f"RUN=$({' '.join(plan_command(pipeline))} | tail -n1)"]
            for s in pipeline.steps:
                lines.append(" ".join(step_command(pipeline, s.name, "$RUN")))
            lines.append(" ".join(finish_command(pipeline, "$RUN")))
            path = output / f"{pipeline.name}.sh"
            path.write_text("\\n".join(lines) + "\\n")
            return [path]

Register it under the ``dockyard.compilers`` entry point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "PipelineCompiler",
    "PipelineSpec",
    "StepSpec",
    "finish_command",
    "plan_command",
    "step_command",
]


@dataclass(frozen=True)
class StepSpec:
    """One step invocation of the pipeline, as an engine's task."""

    name: str
    #: invocations this one waits for
    upstream: tuple[str, ...]
    #: how often a failed step is tried again, and the first wait (doubling after each)
    retries: int = 0
    retry_backoff_s: float = 0.0


@dataclass(frozen=True)
class PipelineSpec:
    """A traced pipeline, as plain data."""

    #: the pipeline's name (``training``)
    name: str
    #: how ``dockyard`` finds it again: ``FILE_OR_MODULE:PIPELINE``
    target: str
    #: its parameters and their values at export time (each engine's run may change them)
    params: Mapping[str, Any]
    #: in a valid (topological) order
    steps: tuple[StepSpec, ...]
    #: the stack the engine's tasks use (None: the project's active stack where they run)
    stack: str | None = None
    #: a cron expression, or None for no schedule
    schedule: str | None = None
    #: the timezone the cron expression is read in
    timezone: str = "UTC"
    #: the command that runs dockyard where the tasks run
    dockyard: str = "dockyard"
    #: a description for the engine's UI
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def _stack_args(pipeline: PipelineSpec) -> list[str]:
    return ["--stack", pipeline.stack] if pipeline.stack else []


def plan_command(pipeline: PipelineSpec, key: str | None = None) -> list[str]:
    """``dockyard step plan TARGET [--key KEY]``: records a run, prints its id as the last
    line. ``key``, the engine's id of its run, makes a retried plan task return the same
    run. Parameters are added by the compiler as ``-p KEY=VALUE`` (VALUE read as YAML)."""
    keyed = ["--key", key] if key is not None else []
    return [pipeline.dockyard, "step", "plan", pipeline.target, *keyed, *_stack_args(pipeline)]


def step_command(pipeline: PipelineSpec, step: str, run_id: str) -> list[str]:
    """``dockyard step run``; ``--retries 0`` because the engine retries the task."""
    return [
        pipeline.dockyard, "step", "run", "--run", run_id, "--step", step,
        "--retries", "0", *_stack_args(pipeline),
    ]  # fmt: skip


def finish_command(
    pipeline: PipelineSpec, run_id: str | None = None, *, key: str | None = None
) -> list[str]:
    """``dockyard step finish --run ID`` (or ``--key KEY --pipeline NAME``, for a task
    that cannot be handed the run id): the run's end; exits 1 when a step failed."""
    which = (
        ["--run", run_id]
        if run_id is not None
        else ["--key", str(key), "--pipeline", pipeline.name]
    )
    return [pipeline.dockyard, "step", "finish", *which, *_stack_args(pipeline)]


class PipelineCompiler(ABC):
    """Writes an engine's files for a pipeline; one method."""

    flavor: ClassVar[str] = ""

    @abstractmethod
    def compile(self, pipeline: PipelineSpec, output: Path, **options: Any) -> list[Path]:
        """Write the engine's files for ``pipeline`` at ``output`` (a folder or a file,
        as the engine's convention has it) and return their paths.

        Raises:
            ExportError: bad options (an invalid image name), with the fix.
            OrchestratorError: the engine's SDK is not installed (the message names the
                extra to install).
        """
