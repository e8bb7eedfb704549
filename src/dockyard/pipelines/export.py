"""Export a pipeline to another engine through a :class:`PipelineCompiler` plug-in.

The Python API behind ``dockyard export airflow|kubeflow``::

    from dockyard.pipelines.export import export_pipeline
    export_pipeline(training, "airflow", Path("dags"), schedule="0 2 * * *")

The pipeline is traced here (so a pipeline that cannot be traced is refused before any
file is written), turned into a :class:`PipelineSpec`, and handed to the compiler
registered under that name in the ``dockyard.compilers`` entry point group.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard import _plugins
from dockyard.errors import ExportError
from dockyard.orchestrators.compiler import PipelineCompiler, PipelineSpec, StepSpec

if TYPE_CHECKING:
    from dockyard.pipelines.pipeline import Pipeline

__all__ = ["COMPILERS_GROUP", "export_pipeline", "pipeline_spec"]

COMPILERS_GROUP = "dockyard.compilers"


def pipeline_spec(
    pipeline: Pipeline,
    params: Mapping[str, Any] | None = None,
    *,
    stack: str | None = None,
    schedule: str | None = None,
    timezone: str = "UTC",
    dockyard_command: str = "dockyard",
) -> PipelineSpec:
    """Trace ``pipeline`` (running no step) into the plain data a compiler gets.

    Raises:
        PipelineDefinitionError / ParameterError: the pipeline cannot be traced.
    """
    plan, _ = pipeline.plan(params)
    steps = tuple(
        StepSpec(
            name=inv.name,
            upstream=tuple(inv.upstream),
            retries=inv.retries,
            retry_backoff_s=inv.retry_backoff_s,
        )
        for inv in plan.invocations.values()
    )
    doc = (pipeline.func.__doc__ or "").strip()
    return PipelineSpec(
        name=plan.pipeline,
        target=plan.source,
        params=dict(plan.params),
        steps=steps,
        stack=stack,
        schedule=schedule,
        timezone=timezone,
        dockyard=dockyard_command,
        description=doc.splitlines()[0] if doc else f"dockyard pipeline {plan.pipeline}",
    )


def export_pipeline(
    pipeline: Pipeline,
    flavor: str,
    output: Path,
    *,
    params: Mapping[str, Any] | None = None,
    stack: str | None = None,
    schedule: str | None = None,
    timezone: str = "UTC",
    dockyard_command: str = "dockyard",
    **options: Any,
) -> list[Path]:
    """Write the files of engine ``flavor`` (``airflow``, ``kubeflow``) for ``pipeline``.

    Raises:
        UnknownComponentError: no compiler of that name is installed.
        PipelineDefinitionError / ParameterError: the pipeline cannot be traced.
        ExportError / OrchestratorError: the compiler refused the options or its SDK is
            not installed.
    """
    cls = _plugins.load(COMPILERS_GROUP, flavor)
    compiler = cls()
    if not isinstance(compiler, PipelineCompiler):
        raise ExportError(f"The compiler plug-in {flavor!r} does not implement PipelineCompiler.")
    spec = pipeline_spec(
        pipeline,
        params,
        stack=stack,
        schedule=schedule,
        timezone=timezone,
        dockyard_command=dockyard_command,
    )
    return compiler.compile(spec, output, **options)
