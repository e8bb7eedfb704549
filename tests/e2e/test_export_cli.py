"""``dockyard export`` and ``dockyard step plan/finish`` refusing bad input, as a user
meets it: one line naming the value and the fix, no traceback, exit status 1."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]

UNTRACEABLE = """
from dockyard import pipeline, step


@step
def count() -> int:
    return 3


@step
def report(n: int) -> int:
    return n


@pipeline
def branchy():
    n = count()
    if n:  # a step's output is not known while tracing
        report(n)
"""


def _refused(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return " ".join(proc.stderr.split())


def test_a_pipeline_that_cannot_be_traced_is_refused_before_writing(
    cli: Cli, project: Path
) -> None:
    (project / "branchy.py").write_text(UNTRACEABLE)
    for engine, extra in (("airflow", ()), ("kubeflow", ("--image", "acme/steps:1"))):
        out = project / f"out-{engine}"
        message = _refused(
            cli("export", engine, "branchy.py:branchy", "-o", str(out), *extra, ok=False)
        )
        assert "step output" in message.lower() or "tracing" in message.lower(), message
        assert not out.exists()


@pytest.mark.parametrize(
    "image",
    ["Acme/Steps:1", "acme/steps:", "acme steps", "acme/steps:1@sha256:xyz", "-acme/steps", ""],
)
def test_an_invalid_image_name_is_refused_with_the_form_to_use(
    cli: Cli, project: Path, image: str
) -> None:
    message = _refused(
        cli("export", "kubeflow", "flow.py:sums", "-o", "p.yaml", "--image", image, ok=False)
    )
    assert f"Invalid image name {image!r}" in message
    assert "[REGISTRY[:PORT]/]NAME[:TAG][@DIGEST]" in message
    assert not (project / "p.yaml").exists()


def test_a_missing_kfp_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    from dockyard.errors import OrchestratorError
    from dockyard.orchestrators.compiler import PipelineSpec, StepSpec
    from dockyard.orchestrators.kubeflow import KubeflowCompiler

    monkeypatch.setitem(sys.modules, "kfp", None)  # import kfp fails
    spec = PipelineSpec("p", "flow.py:p", {}, (StepSpec("a", ()),))
    with pytest.raises(OrchestratorError, match=r"pip install 'dockyard\[kubeflow\]'"):
        KubeflowCompiler().compile(spec, tmp_path / "p.yaml", image="acme/steps:1")


def test_bad_schedules_are_refused(cli: Cli, project: Path) -> None:
    message = _refused(
        cli("export", "airflow", "flow.py:sums", "--schedule", "99 2 * * *", ok=False)
    )
    assert "Invalid cron expression '99 2 * * *'" in message
    message = _refused(
        cli("export", "airflow", "flow.py:sums", "--from-schedule", "nope", ok=False)
    )
    assert "nope" in message and "schedule" in message.lower()
    message = _refused(
        cli("export", "airflow", "flow.py:sums", "--schedule", "0 2 * * *",
            "--from-schedule", "x", ok=False)
    )  # fmt: skip
    assert "--schedule or --from-schedule, not both" in message


def test_an_unknown_engine_lists_the_installed_ones(cli: Cli) -> None:
    proc = cli("export", "argo", "flow.py:sums", ok=False)
    assert proc.returncode == 2  # a usage error: no such command


def test_export_airflow_takes_the_cron_and_timezone_of_a_dockyard_schedule(
    cli: Cli, project: Path
) -> None:
    cli("schedule", "add", "nightly", "--cron", "30 1 * * *", "--timezone", "Europe/Madrid",
        "--", "run", "flow.py:sums")  # fmt: skip
    proc = cli("export", "airflow", "flow.py:sums", "-o", "dags", "--from-schedule", "nightly")
    assert "dags/dockyard_sums.py" in proc.stdout
    source = (project / "dags" / "dockyard_sums.py").read_text()
    compile(source, "dockyard_sums.py", "exec")  # valid Python (Airflow runs it in its tests)
    assert "CronTriggerTimetable('30 1 * * *', timezone='Europe/Madrid')" in source


def test_step_plan_records_a_run_and_finish_ends_it(cli: Cli) -> None:
    from dockyard.stacks.stack import clear_cache, load_stack

    run_id = cli("step", "plan", "flow.py:sums", "-p", "n=4").stdout.strip().splitlines()[-1]
    clear_cache()
    # No process owns a run planned for an external orchestrator: the planning process
    # has ended, and the run still reads running (not crashed) while steps are to come.
    assert load_stack().metadata_store.get_run(run_id).status == "running"
    clear_cache()
    for step in ("numbers", "total"):
        cli("step", "run", "--run", run_id, "--step", step)
    assert "completed" in cli("step", "finish", "--run", run_id).stdout
    assert "completed" in cli("runs", "show", run_id[:8]).stdout


def test_planning_again_with_the_same_key_returns_the_same_run(cli: Cli) -> None:
    """A retried plan task (Airflow, KFP) must not leave a second, orphaned run."""
    first = cli("step", "plan", "flow.py:sums", "--key", "dagrun-1").stdout.split()[-1]
    again = cli("step", "plan", "flow.py:sums", "--key", "dagrun-1").stdout.split()[-1]
    other = cli("step", "plan", "flow.py:sums", "--key", "dagrun-2").stdout.split()[-1]
    assert first == again != other
    for step in ("numbers", "total"):
        cli("step", "run", "--run", first, "--step", step)
    out = cli("step", "finish", "--key", "dagrun-1", "--pipeline", "sums").stdout
    assert f"Run {first[:8]} of sums: completed" in out


def test_finish_refuses_an_unknown_key_and_a_half_given_target(cli: Cli) -> None:
    message = _refused(cli("step", "finish", "--key", "nope", "--pipeline", "sums", ok=False))
    assert "No run of pipeline 'sums' was planned with key 'nope'" in message
    message = _refused(cli("step", "finish", "--key", "nope", ok=False))
    assert "Give --run RUN, or --key KEY with --pipeline NAME." in message


def test_finish_fails_with_the_steps_error_and_records_unrun_steps_as_skipped(
    cli: Cli, project: Path
) -> None:
    (project / "bad.py").write_text(
        "from dockyard import pipeline, step\n\n"
        "@step\ndef boom() -> int:\n    raise ValueError('no data')\n\n"
        "@step\ndef after(x: int) -> int:\n    return x\n\n"
        "@pipeline\ndef bad():\n    after(boom())\n"
    )
    run_id = cli("step", "plan", "bad.py:bad").stdout.split()[-1]
    assert cli("step", "run", "--run", run_id, "--step", "boom", ok=False).returncode == 1
    message = _refused(cli("step", "finish", "--run", run_id, ok=False))
    assert f"Step 'boom' failed in run {run_id[:8]}: ValueError: no data" in message
    from dockyard.stacks.stack import clear_cache, load_stack

    clear_cache()
    md = load_stack().metadata_store
    assert {r.name: r.status for r in md.list_step_runs(run_id)} == {
        "boom": "failed",
        "after": "skipped",
    }
    assert md.get_run(run_id).status == "failed"
    clear_cache()
