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

An orchestrator whose steps run in other processes or on other machines sends
``runner.remote(name)`` there (a picklable :class:`RemoteStep`) or runs
``runner.command(name)``; it refuses a stack it cannot serve in :meth:`Orchestrator.check`,
before the run is recorded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True)
class RemoteStep:
    """One step of a run, packaged to execute in another process (a Dask worker).

    ``call`` is picklable (cloudpickle or pickle) and holds no open connection: called in
    any process that reaches the stack's stores, it rebuilds the stack from its config
    and runs the step through dockyard's one step-execution function, recording it
    exactly as an in-process run would. It returns True when the step completed or was
    served from the cache, False when the step failed (the failure is recorded), and
    raises when the step could not be executed at all.
    """

    #: Unique per run and step (``dockyard-<run id>-<step>``): a task key for the cluster.
    key: str
    call: Callable[[], bool]


class StepRunner(Protocol):
    """What the orchestrator is handed to run steps with."""

    def execute(self, name: str) -> bool:
        """Run one step in this process; True when it completed or was cached."""

    def skip(self, name: str, reason: str) -> None:
        """Record that a step will not run."""

    def command(self, name: str) -> list[str]:
        """A shell command that runs this one step in a fresh process."""

    def remote(self, name: str) -> RemoteStep:
        """This step as a picklable callable, to run in another Python process."""


class Orchestrator(ABC):
    flavor: ClassVar[str] = ""

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abstractmethod
    def run(self, graph: Mapping[str, Sequence[str]], runner: StepRunner) -> None:
        """Execute the DAG; return when every step has been executed or skipped."""

    def check(self, *, local_stores: Sequence[str]) -> None:  # noqa: B027 - optional
        """Raise :class:`~dockyard.errors.OrchestratorError` (with the fix) when this
        orchestrator cannot run the stack's steps; called before a run is recorded.

        Args:
            local_stores: the stack's stores that live on this machine's disk, described
                for a message (``"artifact store /home/me/proj/.dockyard/artifacts"``):
                workers on another machine cannot reach them.
        """

    def describe(self) -> dict[str, Any]:
        return {"flavor": self.flavor, **self.options}
