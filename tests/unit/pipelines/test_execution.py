"""Running pipelines on the embedded stack: caching, resume, retries, logs, bad outputs."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Annotated

import pytest

from dockyard import pipeline, step
from dockyard.errors import (
    ArtifactCorruptedError,
    ArtifactNotFoundError,
    NoMaterializerError,
    StepFailed,
    StepOutputError,
    UnsafeArtifactError,
)
from dockyard.stacks.stack import clear_cache, load_stack

executions: list[str] = []


@pytest.fixture(autouse=True)
def _fresh(project: Path):
    executions.clear()
    clear_cache()
    yield
    clear_cache()


@step
def produce(n: int = 3) -> list:
    executions.append("produce")
    print(f"producing {n}")
    return list(range(n))


@step
def double(xs: list) -> Annotated[list, "doubled"]:
    executions.append("double")
    return [2 * x for x in xs]


@step
def summarize(xs: list) -> tuple[Annotated[int, "total"], Annotated[int, "count"]]:
    executions.append("summarize")
    return sum(xs), len(xs)


@pipeline
def numbers(n: int = 3) -> None:
    summarize(double(produce(n=n)))


def test_run_records_steps_and_outputs_load() -> None:
    run = numbers(n=4)
    assert run.status == "completed"
    assert list(run.steps) == ["produce", "double", "summarize"]
    assert run.steps["summarize"].outputs["total"].load() == 12
    assert run.steps["summarize"].outputs["count"].load() == 4
    assert run.steps["double"].outputs["doubled"].load() == [0, 2, 4, 6]
    assert all(s.duration_s is not None for s in run.steps.values())
    assert "producing 4" in run.steps["produce"].logs()


def test_second_run_is_fully_cached_and_executes_nothing() -> None:
    numbers(n=3)
    executions.clear()
    run = numbers(n=3)
    assert executions == []
    assert all(s.cache_hit and s.status == "cached" for s in run.steps.values())
    assert run.steps["summarize"].outputs["total"].load() == 6


def test_changed_parameter_reruns_only_what_depends_on_it() -> None:
    numbers(n=3)
    executions.clear()
    numbers(n=5)
    assert executions == ["produce", "double", "summarize"]
    executions.clear()

    @pipeline
    def other(n: int = 3) -> None:
        summarize(double(produce(n=3)))

    other()
    assert executions == []  # same step code, params and inputs: all cached across pipelines


def test_cache_can_be_disabled_per_run_and_per_pipeline() -> None:
    numbers(n=3)
    executions.clear()
    numbers.with_options(enable_cache=False)(n=3)
    assert executions == ["produce", "double", "summarize"]


def test_cache_hit_with_missing_bytes_is_a_miss(project: Path) -> None:
    """Someone cleaned the lake: the step must run again, not fail or serve nothing."""
    run = numbers(n=3)
    uri = run.steps["double"].outputs["doubled"].uri
    Path(uri.removeprefix("file://")).unlink()
    executions.clear()
    again = numbers(n=3)
    assert "double" in executions
    assert again.steps["double"].outputs["doubled"].load() == [0, 2, 4]


def test_failed_run_keeps_earlier_steps_and_rerun_resumes_from_cache() -> None:
    state = {"fail": True}

    @step
    def fragile(xs: list) -> int:
        executions.append("fragile")
        if state["fail"]:
            raise ValueError("flaky upstream service")
        return len(xs)

    @pipeline
    def p() -> None:
        fragile(double(produce()))

    with pytest.raises(
        StepFailed, match=r"Step 'fragile' failed .* ValueError: flaky upstream service"
    ) as info:
        p()
    assert isinstance(info.value.__cause__, ValueError)
    stack = load_stack()
    run = stack.metadata_store.get_run(info.value.run_id)
    assert run.status == "failed"
    records = {s.name: s for s in stack.metadata_store.list_step_runs(run.id)}
    assert records["produce"].status == "completed"
    assert records["fragile"].status == "failed"
    assert "ValueError: flaky upstream service" in records["fragile"].error

    state["fail"] = False
    executions.clear()
    resumed = p()
    assert executions == ["fragile"]
    assert resumed.steps["produce"].cache_hit and not resumed.steps["fragile"].cache_hit


def test_steps_after_a_failure_are_skipped() -> None:
    @step
    def boom(xs: list) -> list:
        raise RuntimeError("no")

    @pipeline
    def p() -> None:
        double(boom(produce()))

    with pytest.raises(StepFailed) as info:
        p()
    steps = {
        s.name: s.status for s in load_stack().metadata_store.list_step_runs(info.value.run_id)
    }
    assert steps == {"produce": "completed", "boom": "failed", "double": "skipped"}


def test_retries_with_backoff() -> None:
    attempts = []

    @step(retries=2, retry_backoff_s=0.01)
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return 7

    @pipeline
    def p() -> None:
        flaky()

    run = p()
    assert len(attempts) == 3
    assert run.steps["flaky"].record.attempts == 3
    assert "attempt 1 failed" in run.steps["flaky"].logs()


def test_wrong_number_of_outputs() -> None:
    @step
    def two() -> tuple[Annotated[int, "a"], Annotated[int, "b"]]:
        return 1, 2, 3  # type: ignore[return-value]

    @pipeline
    def p() -> None:
        two()

    with pytest.raises(
        StepOutputError, match=r"Step 'two' declares 2 outputs \(a, b\) but returned 3 values"
    ):
        p()


def test_output_no_materializer_can_save() -> None:
    @step
    def lock() -> object:
        return threading.Lock()

    @pipeline
    def p() -> None:
        lock()

    with pytest.raises(NoMaterializerError, match="lock"):
        p()


def test_corrupted_artifact_is_detected_on_load(project: Path) -> None:
    run = numbers(n=3)
    view = run.steps["double"].outputs["doubled"]
    Path(view.uri.removeprefix("file://")).write_bytes(b"[666]")
    with pytest.raises(ArtifactCorruptedError, match="corrupted"):
        view.load()


def test_missing_artifact_on_load(project: Path) -> None:
    run = numbers(n=3)
    view = run.steps["double"].outputs["doubled"]
    Path(view.uri.removeprefix("file://")).unlink()
    with pytest.raises(ArtifactNotFoundError, match="No artifact"):
        view.load()


class Opaque:
    def __init__(self, v: int) -> None:
        self.v = v


def test_pickled_artifact_needs_trust_outside_the_writer() -> None:
    @step
    def make() -> Opaque:
        return Opaque(5)

    @pipeline
    def p() -> None:
        make()

    run = p()
    view = run.steps["make"].outputs["output"]
    assert view.record.unsafe
    assert view.load().v == 5  # this process wrote it
    from dockyard.pipelines import artifact_io

    artifact_io._WRITTEN_HERE.clear()  # as if another process loads it
    with pytest.raises(UnsafeArtifactError, match="trust_pickle=True"):
        view.load()
    assert view.load(trust_pickle=True).v == 5


def test_local_parallel_runs_independent_steps_at_once(project: Path) -> None:
    from dockyard.stacks.config import DEFAULT_STACK_CONFIG, ProjectConfig

    config = ProjectConfig.load(project)
    config.register(
        "par", {**DEFAULT_STACK_CONFIG, "orchestrator": {"flavor": "local-parallel", "workers": 4}}
    )
    config.save()

    @step(enable_cache=False)
    def nap(i: int) -> int:
        time.sleep(0.5)
        return i

    @pipeline
    def naps() -> None:
        for i in range(4):
            nap(i=i)

    t0 = time.perf_counter()
    run = naps.with_options(stack="par")()
    took = time.perf_counter() - t0
    assert run.status == "completed" and len(run.steps) == 4
    assert took < 1.5, f"4 x 0.5 s steps on 4 workers took {took:.2f} s"


def test_parallel_failure_skips_dependents(project: Path) -> None:
    from dockyard.stacks.config import DEFAULT_STACK_CONFIG, ProjectConfig

    config = ProjectConfig.load(project)
    config.register(
        "par", {**DEFAULT_STACK_CONFIG, "orchestrator": {"flavor": "local-parallel", "workers": 2}}
    )
    config.save()

    @step
    def bad() -> int:
        raise ValueError("x")

    @step
    def after_bad(v: int) -> int:
        return v

    @pipeline
    def p() -> None:
        after_bad(bad())
        produce()

    with pytest.raises(StepFailed):
        p.with_options(stack="par")()
