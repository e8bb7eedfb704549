"""Orchestrators: when and where each step of a run executes."""

from dockyard.orchestrators.base import Orchestrator, RemoteStep, StepRunner

__all__ = ["Orchestrator", "RemoteStep", "StepRunner"]
