"""``local``: every step in this process, one after another (the default)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dockyard.orchestrators.base import Orchestrator, StepRunner


class LocalOrchestrator(Orchestrator):
    flavor = "local"

    def run(self, graph: Mapping[str, Sequence[str]], runner: StepRunner) -> None:
        failed: set[str] = set()
        for name, upstream in graph.items():
            if failed.intersection(upstream):
                runner.skip(name, "an upstream step failed")
                failed.add(name)
            elif not runner.execute(name):
                failed.add(name)
