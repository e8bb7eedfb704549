"""Orchestrators: when and where each step of a run executes."""

from dockyard.orchestrators.base import Orchestrator, RemoteStep, StepRunner
from dockyard.orchestrators.compiler import PipelineCompiler, PipelineSpec, StepSpec

__all__ = [
    "Orchestrator",
    "PipelineCompiler",
    "PipelineSpec",
    "RemoteStep",
    "StepRunner",
    "StepSpec",
]
