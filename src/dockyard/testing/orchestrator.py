"""The Orchestrator contract, for every orchestrator.

Each orchestrator decides only when and where steps run; what a run records must not
depend on which one ran it. The suite writes a few pipelines into a user file of a fresh
project folder (made the working directory and ``DOCKYARD_HOME``) whose active stack is
the default one with the orchestrator under test.

A subclass provides the ``orchestrator_config`` fixture, the stack entry of the
orchestrator (``{"flavor": ..., **options}``, the flavor being its name in the
``dockyard.orchestrators`` entry point group), and says with ``runs_steps_in_parallel``
whether independent steps overlap::

    class TestMyOrchestrator(OrchestratorContract):
        runs_steps_in_parallel = True

        @pytest.fixture
        def orchestrator_config(self):
            return {"flavor": "my-flavor", "workers": 3}
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest

from dockyard.errors import StepFailed
from dockyard.stacks.config import DEFAULT_STACK_CONFIG, ProjectConfig
from dockyard.stacks.stack import clear_cache, load_stack

__all__ = ["FLOW", "OrchestratorContract"]

#: The pipelines the suite runs, as a user's file.
FLOW = """
import time
from typing import Annotated
from dockyard import pipeline, step


@step
def source(n: int = 4) -> list:
    return list(range(n))


@step
def square(xs: list) -> list:
    return [x * x for x in xs]


@step
def negate(xs: list) -> list:
    return [-x for x in xs]


@step
def combine(a: list, b: list) -> Annotated[int, "total"]:
    return sum(a) + sum(b)


@step
def fail(xs: list) -> list:
    raise RuntimeError("step exploded")


@step(enable_cache=False)
def nap(i: int) -> int:
    time.sleep(0.6)
    return i


@pipeline
def diamond(n: int = 4):
    xs = source(n=n)
    combine(square(xs), negate(xs))


@pipeline
def broken():
    xs = source()
    combine(fail(xs), negate(xs))


@pipeline
def naps():
    for i in range(3):
        nap(i=i)
"""


def _recorded(when: datetime | None) -> datetime:
    """A step run's start or end time, which every executed step records."""
    assert when is not None, "an executed step run must record when it started and ended"
    return when


class OrchestratorContract:
    """The rules every orchestrator keeps. Subclass it in a ``Test*`` class.

    Fixture to provide: ``orchestrator_config`` (see the module docstring).

    Attributes:
        runs_steps_in_parallel: independent steps run at the same time (checked from
            the recorded step intervals).
    """

    runs_steps_in_parallel: ClassVar[bool] = False

    # fixtures the subclass provides ----------------------------------------------------
    @pytest.fixture
    def orchestrator_config(self) -> dict[str, Any]:
        """The stack entry of the orchestrator under test: ``{"flavor": ..., **options}``."""
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'orchestrator_config' fixture (see "
            "dockyard.testing.OrchestratorContract)"
        )

    @pytest.fixture
    def flow(
        self,
        orchestrator_config: dict[str, Any],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> Iterator[ModuleType]:
        """The test pipelines in a user file, on a stack using the orchestrator under test."""
        project = tmp_path / "proj"
        project.mkdir()
        monkeypatch.chdir(project)
        monkeypatch.setenv("DOCKYARD_HOME", str(project))
        (project / "flow.py").write_text(FLOW)
        config = ProjectConfig.load(project)
        config.register("under-test", {**DEFAULT_STACK_CONFIG, "orchestrator": orchestrator_config})
        config.active_stack = "under-test"
        config.save()
        clear_cache()
        from dockyard.pipelines.loader import load_module

        module = load_module(str(project / "flow.py"))
        yield module
        clear_cache()

    # the rules -------------------------------------------------------------------------
    def test_runs_every_step_in_dependency_order(self, flow: Any) -> None:
        """A step must see its inputs: the diamond's join runs after both branches."""
        run = flow.diamond(n=4)
        assert run.status == "completed"
        assert run.steps["combine"].outputs["total"].load() == (0 + 1 + 4 + 9) - (0 + 1 + 2 + 3)
        records = load_stack().metadata_store.list_step_runs(run.id)
        order = {r.name: _recorded(r.started_at) for r in records}
        assert order["source"] < order["square"] < order["combine"]
        assert order["negate"] < order["combine"]

    def test_failure_skips_dependents_and_keeps_the_rest(self, flow: Any) -> None:
        """Nothing is lost: independent work finishes, dependents are skipped, not run."""
        with pytest.raises(
            StepFailed, match=r"Step .fail. failed in run \w+: RuntimeError: step exploded"
        ):
            flow.broken()
        stack = load_stack()
        run = stack.metadata_store.list_runs(limit=1)[0]
        statuses = {r.name: r.status for r in stack.metadata_store.list_step_runs(run.id)}
        assert statuses["source"] == "completed"
        assert statuses["fail"] == "failed"
        assert statuses["combine"] == "skipped"
        assert run.status == "failed"

    def test_second_run_is_served_from_the_cache(self, flow: Any) -> None:
        """Caching lives in the step-execution function, so it works on every orchestrator."""
        flow.diamond(n=3)
        again = flow.diamond(n=3)
        assert all(step.cache_hit for step in again.steps.values())

    def test_independent_steps_overlap_only_when_parallel(self, flow: Any) -> None:
        """A sequential orchestrator runs one step at a time; a parallel one runs
        independent steps at once.

        Proven from the recorded step intervals, not from wall-clock thresholds.
        """
        run = flow.naps()
        assert run.status == "completed"
        spans = sorted(
            (_recorded(r.started_at), _recorded(r.ended_at))
            for r in load_stack().metadata_store.list_step_runs(run.id)
        )
        overlaps = sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1])
        if self.runs_steps_in_parallel:
            assert overlaps >= 1, spans
        else:
            assert overlaps == 0, spans

    def test_step_outputs_are_identical_across_orchestrators(self, flow: Any) -> None:
        """Same code, same data, same artifact: content addressing is orchestrator-blind."""
        run = flow.diamond(n=5)
        total: int = run.steps["combine"].outputs["total"].load()
        assert total == 30 - 10
