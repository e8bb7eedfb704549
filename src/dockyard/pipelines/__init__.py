"""Pipelines: authoring (``@step``, ``@pipeline``), tracing, caching and step execution."""

from dockyard.pipelines.execution import StepContext, get_step_context, run_step
from dockyard.pipelines.pipeline import Pipeline, pipeline
from dockyard.pipelines.runs import ArtifactView, Run, StepView
from dockyard.pipelines.step import Step, step

__all__ = [
    "ArtifactView",
    "Pipeline",
    "Run",
    "Step",
    "StepContext",
    "StepView",
    "get_step_context",
    "pipeline",
    "run_step",
    "step",
]
