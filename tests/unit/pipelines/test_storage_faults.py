"""Runs under storage faults: killed processes, damaged blobs, failures around the step.

Issue #8 items 13, 19 and 24: a SIGKILLed ``dockyard run`` stayed ``running`` forever; a
cached rerun reported success over corrupted blobs; a failure outside the user's
function (the cache check, recording the step) left the step without a record; errors
lacked the step, output or path they were about; the run's error could hold SQLAlchemy's
multi-line ``[SQL: ...]`` text.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import pytest
import sqlalchemy as sa

from dockyard import pipeline, step
from dockyard.errors import MetadataUnavailableError, NoMaterializerError, RunFailed
from dockyard.metadata.sql_store import SqlMetadataStore
from dockyard.pipelines.artifact_io import ArtifactProblem, verify_artifacts
from dockyard.pipelines.execution import get_step_context
from dockyard.pipelines.runs import Run
from dockyard.stacks.config import ProjectConfig
from dockyard.stacks.stack import Stack, clear_cache, load_stack

executions: list[str] = []


@pytest.fixture(autouse=True)
def _fresh(project: Path) -> Any:
    executions.clear()
    clear_cache()
    yield
    clear_cache()


@step
def produce(n: int = 3) -> list:
    executions.append("produce")
    return list(range(n))


@step
def double(xs: list) -> Annotated[list, "doubled"]:
    executions.append("double")
    return [2 * x for x in xs]


@step
def total(xs: list) -> int:
    executions.append("total")
    return sum(xs)


@pipeline
def numbers(n: int = 3) -> None:
    total(double(produce(n=n)))


def _blob(stack: Stack, artifact_id: str) -> Path:
    return Path(stack.metadata_store.get_artifact(artifact_id).uri.removeprefix("file://"))


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))


# heartbeats and crashed runs ------------------------------------------------------------
def _use_stack(project: Path, **metadata_options: Any) -> None:
    config = ProjectConfig.load(project)
    config.register(
        "fast",
        {
            "orchestrator": {"flavor": "local"},
            "artifact_store": {"flavor": "local", "path": "artifacts"},
            "metadata_store": {"flavor": "sql", "url": "sqlite:///metadata.db", **metadata_options},
        },
    )
    config.active_stack = "fast"
    config.save()
    clear_cache()


beats: list[Any] = []


@step
def wait_for_two_beats() -> int:
    context = get_step_context()
    assert context is not None
    first = context.metadata.get_run(context.run_id).heartbeat_at
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        now = context.metadata.get_run(context.run_id).heartbeat_at
        if now is not None and first is not None and now > first:
            beats.append(now)
            if len(beats) == 2:
                break
            first = now
        time.sleep(0.02)
    return len(beats)


@pipeline
def heartbeating() -> None:
    wait_for_two_beats()


def test_a_running_pipeline_heartbeats(project: Path) -> None:
    """While the steps run, the run's heartbeat moves on (a thread, every heartbeat_s),
    so a reader on any host can tell a live run from a dead one."""
    _use_stack(project, heartbeat_s=0.05, stale_after_s=5)
    beats.clear()
    run = heartbeating()
    assert run.steps["wait_for_two_beats"].outputs["output"].load() == 2
    assert run.status == "completed"
    import threading

    assert not [t for t in threading.enumerate() if t.name.startswith("dockyard-heartbeat")]


FLOW = """
import time
from pathlib import Path
from dockyard import pipeline, step

@step
def first() -> int:
    return 1

@step
def hang(x: int) -> int:
    Path("started").write_text("yes")
    time.sleep(120)
    return x

@pipeline
def slow():
    hang(first())
"""

_RUN_FLOW = "from dockyard.pipelines.loader import load_module\nload_module('flow.py').slow()\n"


def test_a_killed_run_reads_as_crashed_and_resumes_from_the_cache(project: Path) -> None:
    """The issue's repro: SIGKILL a `dockyard run` in its second step. The run must not
    read `running` forever: `runs list` says crashed, with what to do, and running the
    pipeline again reuses the step that completed."""
    (project / "flow.py").write_text(FLOW)
    child = subprocess.Popen(
        [sys.executable, "-c", _RUN_FLOW],
        cwd=project,
        env={**os.environ, "DOCKYARD_HOME": str(project)},
    )
    try:
        deadline = time.monotonic() + 60
        while not (project / "started").exists():
            assert child.poll() is None, "the pipeline process ended early"
            assert time.monotonic() < deadline, "the step did not start within 60 s"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)

    store = load_stack().metadata_store
    (run,) = store.list_runs()
    assert run.status == "crashed"
    assert run.owner_pid == child.pid
    assert run.error == (
        f"Crashed: the process running it (pid {child.pid} on {run.owner_host}) ended "
        "without recording the run's end (it was killed, or lost the metadata database). "
        "Run the pipeline again: the steps that completed are reused from the cache."
    )
    assert store.get_run(run.id[:8]).status == "crashed"
    assert Run.load(run.id, load_stack()).error == run.error
    assert [s.name for s in store.list_step_runs(run.id)] == ["first"]

    (project / "flow.py").write_text(FLOW.replace("time.sleep(120)", "pass"))
    from dockyard.pipelines.loader import load_module

    again = load_module(str(project / "flow.py")).slow()
    assert again.status == "completed"
    assert again.steps["first"].cache_hit
    assert store.get_run(run.id).status == "crashed"  # the old run stays what it was


# damaged blobs --------------------------------------------------------------------------
def test_a_cached_rerun_re_executes_over_a_damaged_small_blob(project: Path) -> None:
    """A fully cached rerun used to report success over a corrupted blob (it checked
    existence only). Small outputs are hash-checked before a hit is taken: the damaged
    step runs again, rewrites the blob, and what depends on it stays cached."""
    first = numbers(n=4)
    stack = load_stack()
    blob = _blob(stack, first.steps["double"].record.outputs["doubled"])
    _flip_a_byte(blob)
    executions.clear()
    second = numbers(n=4)
    assert executions == ["double"]
    assert [s.cache_hit for s in second.steps.values()] == [True, False, True]
    assert second.steps["double"].outputs["doubled"].load() == [0, 2, 4, 6]
    executions.clear()
    numbers(n=4)
    assert executions == []


def test_verify_finds_damaged_and_missing_artifacts(project: Path) -> None:
    """What `dockyard artifacts verify` prints: every artifact of a run (or of the
    project) read back and checked, each problem with its artifact and the fix; after a
    --no-cache rerun there is none."""
    run = numbers(n=4)
    stack = load_stack()
    md, store = stack.metadata_store, stack.artifact_store
    assert verify_artifacts(md, store, run_id=run.id[:8]) == []
    assert verify_artifacts(md, store) == []

    damaged = run.steps["double"].record.outputs["doubled"]
    missing = run.steps["total"].record.outputs["output"]
    _flip_a_byte(_blob(stack, damaged))
    _blob(stack, missing).unlink()
    checked: list[str] = []
    problems = verify_artifacts(md, store, run_id=run.id, on_checked=lambda a: checked.append(a.id))
    assert [(p.artifact_id, p.problem) for p in problems] == [
        (damaged, "corrupted"),
        (missing, "missing"),
    ]
    assert all(isinstance(p, ArtifactProblem) and "--no-cache" in p.message for p in problems)
    assert len(checked) == 3
    assert {p.artifact_id for p in verify_artifacts(md, store, page_size=1)} == {damaged, missing}

    numbers.with_options(enable_cache=False)(n=4)
    assert verify_artifacts(md, store) == []


# failures around the user's function ----------------------------------------------------
def test_a_failing_cache_check_is_recorded_on_the_step(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache check runs outside the user's function: when it fails (an artifact
    store that refuses reads), the step is recorded failed with the reason, never left
    without a record ('pending' in a failed run)."""
    numbers(n=2)
    from dockyard.artifacts.fsspec_store import FsspecArtifactStore

    def refuse(self: object, uri: str) -> bytes:
        raise PermissionError(f"read denied: {uri[-8:]}")

    monkeypatch.setattr(FsspecArtifactStore, "get", refuse)
    with pytest.raises(RunFailed) as info:
        numbers(n=2)
    assert "failed at step 'produce': PermissionError: read denied" in str(info.value)
    md = load_stack().metadata_store
    latest = md.list_runs(limit=1)[0]
    assert latest.status == "failed"
    steps = {s.name: s for s in md.list_step_runs(latest.id)}
    assert steps["produce"].status == "failed"
    assert steps["produce"].error is not None
    assert steps["produce"].error.startswith("PermissionError: read denied")
    assert steps["double"].status == "skipped"


def test_a_step_whose_completion_cannot_be_recorded_is_recorded_failed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording the completed step is the last thing that can fail: the step then
    shows failed with the database's one-line error, and the run stores it in one line
    (never SQLAlchemy's '[SQL: ...]' text)."""
    real = SqlMetadataStore.record_step_run

    def flaky(self: SqlMetadataStore, run_id: str, name: str, **kw: Any) -> Any:
        if kw.get("status") == "completed" and name == "double":
            raise self.database.explain(
                sa.exc.OperationalError(
                    "INSERT INTO step_runs ...", {}, Exception("database or disk is full")
                )
            )
        return real(self, run_id, name, **kw)

    monkeypatch.setattr(SqlMetadataStore, "record_step_run", flaky)
    with pytest.raises(Exception, match="database or disk is full") as info:
        numbers(n=2)
    message = str(info.value)
    assert "\n" not in message
    md = load_stack().metadata_store
    run = md.list_runs(limit=1)[0]
    assert run.status == "failed"
    assert run.error == message
    assert "[SQL" not in (run.error or "")
    double_step = md.get_step_run(run.id, "double")
    assert double_step.status == "failed"
    assert double_step.error == f"MetadataError: {message}"


def test_an_unreachable_database_at_the_end_keeps_the_step_error(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the step fails and the database is gone too, the user hears about the
    step (the run will read crashed), with a note that its end was not recorded."""

    @step
    def broken() -> int:
        raise ValueError("bad data")

    @pipeline
    def p() -> None:
        broken()

    def down(self: SqlMetadataStore, *args: Any, **kw: Any) -> None:
        raise MetadataUnavailableError("Cannot reach the metadata database (test).")

    monkeypatch.setattr(SqlMetadataStore, "finish_run", down)
    monkeypatch.setattr(SqlMetadataStore, "record_step_run", down)
    from dockyard.errors import StepFailed

    with pytest.raises(StepFailed, match="bad data") as info:
        p()
    notes = getattr(info.value, "__notes__", [])
    assert any("was not recorded: Cannot reach the metadata database" in n for n in notes)


@step
def opaque() -> Any:
    import threading

    return threading.Lock()


@pipeline
def opaque_pipeline() -> None:
    opaque()


def test_a_missing_materializer_names_the_step_and_output(project: Path) -> None:
    with pytest.raises(NoMaterializerError) as info:
        opaque_pipeline()
    message = str(info.value)
    assert message.startswith("Step 'opaque' output 'output' of run ")
    assert "No materializer can save a value of type" in message


def test_a_missing_materializer_on_load_names_the_step_and_input(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers(n=2)
    from dockyard.artifacts.materializers.registry import MaterializerRegistry

    real_get = MaterializerRegistry.get

    def only_some(self: MaterializerRegistry, name: str) -> Any:
        if executions and executions[-1] == "produce":
            raise NoMaterializerError(f"No materializer named {name!r} is installed.")
        return real_get(self, name)

    monkeypatch.setattr(MaterializerRegistry, "get", only_some)
    executions.clear()
    with pytest.raises(NoMaterializerError) as info:
        numbers.with_options(enable_cache=False)(n=2)
    assert str(info.value).startswith("Step 'double' input 'xs' of run ")
    assert "No materializer named 'builtins' is installed." in str(info.value)
