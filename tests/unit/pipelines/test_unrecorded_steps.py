"""A run is never reported completed while a step has no record, and a step printing to
the captured stdout leaves a real descriptor for subprocesses (local-parallel processes)."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from dockyard.errors import RunFailed
from dockyard.orchestrators.base import Orchestrator, StepRunner
from dockyard.pipelines.loader import load_module
from dockyard.stacks.config import DEFAULT_STACK_CONFIG, ProjectConfig
from dockyard.stacks.stack import clear_cache, load_stack

FLOW = """
from dockyard import pipeline, step


@step
def one() -> int:
    print("one")
    return 1


@step
def two(x: int) -> int:
    return x + 1


@pipeline
def chain():
    two(one())
"""


class ForgetsLastStep(Orchestrator):
    """Runs every step but the last, and says nothing about it (a lost process)."""

    flavor = "forgets"

    def run(self, graph: Mapping[str, Sequence[str]], runner: StepRunner) -> None:
        for name in list(graph)[:-1]:
            runner.execute(name)


def test_a_step_left_without_a_record_fails_the_run(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "flow.py").write_text(FLOW)
    ProjectConfig.load(project).save()
    clear_cache()
    module = load_module(str(project / "flow.py"))
    stack = load_stack()
    monkeypatch.setitem(stack._built, "orchestrator", ForgetsLastStep())
    with pytest.raises(RunFailed, match=r"step\(s\) two were not recorded by the forgets"):
        module.chain.run(stack=stack)
    run = stack.metadata_store.list_runs(limit=1)[0]
    assert run.status == "failed"
    clear_cache()


def test_process_mode_after_an_in_process_run_records_every_step(
    project: Path,
) -> None:
    (project / "flow.py").write_text(FLOW)
    config = ProjectConfig.load(project)
    config.register(
        "procs",
        {**DEFAULT_STACK_CONFIG, "orchestrator": {"flavor": "local-parallel", "mode": "process"}},
    )
    config.save()
    clear_cache()
    module = load_module(str(project / "flow.py"))
    module.chain()  # in-process: installs the stdout router
    assert sys.stdout.fileno() >= 0
    run = module.chain.with_options(stack="procs", enable_cache=False)()
    assert {name: s.status for name, s in run.steps.items()} == {
        "one": "completed",
        "two": "completed",
    }
    clear_cache()
