"""The Orchestrator port: decide *when and where* each step runs, never *how*.

An orchestrator receives the DAG (invocation name -> names it waits for, in a valid
order) and a :class:`StepRunner` that executes one step through dockyard's single
step-execution function. It must call ``runner.execute`` for each step whose upstream
steps all succeeded, and ``runner.skip`` for each step it will not run.

Example (a minimal sequential orchestrator)::

    class Sequential(Orchestrator):
        flavor = "sequential"

        def run(self, graph, runner):
            failed = set()
            for name, upstream in graph.items():
                if failed.intersection(upstream):
                    runner.skip(name, "an upstream step failed")
                    failed.add(name)
                elif not runner.execute(name):
                    failed.add(name)

Register it under the ``dockyard.orchestrators`` entry point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol


class StepRunner(Protocol):
    """What the orchestrator is handed to run steps with."""

    def execute(self, name: str) -> bool:
        """Run one step in this process; True when it completed or was cached."""

    def skip(self, name: str, reason: str) -> None:
        """Record that a step will not run."""

    def command(self, name: str) -> list[str]:
        """A shell command that runs this one step in a fresh process."""


class Orchestrator(ABC):
    flavor: ClassVar[str] = ""

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abstractmethod
    def run(self, graph: Mapping[str, Sequence[str]], runner: StepRunner) -> None:
        """Execute the DAG; return when every step has been executed or skipped."""

    def describe(self) -> dict[str, Any]:
        return {"flavor": self.flavor, **self.options}
