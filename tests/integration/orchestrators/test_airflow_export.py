"""``dockyard export airflow`` verified by Airflow itself: the DAG file imports with no
import errors and ``airflow dags test`` runs it, leaving the records and artifact hashes
of an in-process run of the same pipeline.

Airflow runs from its own virtual environment (``.venv-airflow/``, built once from
``tests/airflow/requirements.lock``); its tasks call this environment's ``dockyard``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from engine_support import init_project, records, write_flow

from dockyard.errors import StepFailed
from dockyard.pipelines.loader import load_module
from dockyard.stacks.stack import clear_cache
from venvs import ROOT, isolated_venv

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

DOCKYARD = str(Path(sys.executable).parent / "dockyard")


class Airflow:
    def __init__(self, bin_dir: Path, home: Path) -> None:
        self.bin = bin_dir
        self.home = home
        self.dags = home / "dags"
        self.dags.mkdir(parents=True, exist_ok=True)

    def __call__(self, *args: str, project: Path, ok: bool = True, timeout: float = 300) -> str:
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "DOCKYARD_HOME": str(project),
        }
        env.pop("DOCKYARD_STACK", None)
        proc = subprocess.run(
            [str(self.bin / "airflow"), *args],
            env=env,
            cwd=project,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        out = proc.stdout + proc.stderr
        assert (proc.returncode == 0) is ok, f"airflow {' '.join(args)}:\n{out[-4000:]}"
        return out


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Airflow:
    bin_dir = isolated_venv("airflow", ROOT / "tests" / "airflow" / "requirements.lock")
    engine = Airflow(bin_dir, tmp_path_factory.mktemp("airflow-home"))
    engine("db", "migrate", project=engine.home)
    return engine


def _json(out: str) -> Any:
    """The JSON document among Airflow's log lines (it prints it on one line)."""
    for line in out.splitlines():
        if line.startswith(("[", "{")):
            return json.loads(line)
    raise AssertionError(f"no JSON in Airflow's output:\n{out[-4000:]}")


def _export(project: Path, flow: Path, pipeline: str, airflow: Airflow) -> str:
    env = {**os.environ, "DOCKYARD_HOME": str(project)}
    proc = subprocess.run(
        [DOCKYARD, "export", "airflow", f"{flow}:{pipeline}", "-o", str(airflow.dags),
         "--schedule", "0 2 * * *", "--dockyard-command", DOCKYARD],
        env=env, cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return f"dockyard_{pipeline}"


def _local(home: Path, flow: Path, pipeline: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_HOME", str(home))
    clear_cache()
    module: Any = load_module(str(flow))
    with contextlib.suppress(StepFailed):
        getattr(module, pipeline)()
    clear_cache()


def test_the_dag_imports_and_runs_with_the_records_of_a_local_run(
    airflow: Airflow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = write_flow(tmp_path / "code")
    local, remote = tmp_path / "local", tmp_path / "airflow"
    init_project(local)
    init_project(remote)
    _local(local, flow, "flow", monkeypatch)

    dag_id = _export(remote, flow, "flow", airflow)
    errors = _json(airflow("dags", "list-import-errors", "--local", "-o", "json", project=remote))
    assert errors == [], errors
    listed = _json(airflow("dags", "list", "--local", "-o", "json", project=remote))
    assert [d["dag_id"] for d in listed] == [dag_id]
    log = airflow("dags", "test", dag_id, project=remote)
    assert "state=success" in log, log[-4000:]

    expected = records(local)
    assert expected["status"] == "completed"
    assert records(remote) == expected


def test_a_failed_step_fails_the_dag_run_and_records_what_a_local_run_does(
    airflow: Airflow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = write_flow(tmp_path / "code")
    local, remote = tmp_path / "local", tmp_path / "airflow"
    init_project(local)
    init_project(remote)
    _local(local, flow, "broken", monkeypatch)

    dag_id = _export(remote, flow, "broken", airflow)
    log = airflow("dags", "test", dag_id, project=remote, ok=False)
    assert "DagRun failed" in log, log[-4000:]

    expected = records(local)
    assert expected["status"] == "failed"
    assert expected["steps"]["report"]["status"] == "skipped"
    assert records(remote) == expected
