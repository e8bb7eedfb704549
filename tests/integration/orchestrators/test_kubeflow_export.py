"""``dockyard export kubeflow`` verified with the kfp SDK: the compiled YAML loads back
with a task per step, the DAG's ``dependentTasks`` and the image; ``kfp.local``'s
``SubprocessRunner`` runs it to success, leaving the records of an in-process run.

kfp runs from its own virtual environment (``.venv-kfp/``, built once from
``tests/kubeflow/requirements.lock`` plus dockyard, editable).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from engine_support import init_project, records, write_flow

from dockyard.pipelines.loader import load_module
from dockyard.stacks.stack import clear_cache
from venvs import ROOT, isolated_venv

pytestmark = [pytest.mark.slow, pytest.mark.kubeflow]

IMAGE = "ghcr.io/acme/flow-steps:1.0"

RUN_LOCALLY = """
import sys
from kfp import components, local

local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=sys.argv[2])
components.load_component_from_file(sys.argv[1])()
print("KFP-PIPELINE-SUCCEEDED")
"""


@pytest.fixture(scope="module")
def kfp_bin() -> Path:
    return isolated_venv(
        "kfp", ROOT / "tests" / "kubeflow" / "requirements.lock", editable_dockyard=True
    )


def _run(argv: list[str], project: Path) -> str:
    env = {**os.environ, "DOCKYARD_HOME": str(project)}
    env.pop("DOCKYARD_STACK", None)
    proc = subprocess.run(argv, env=env, cwd=project, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(argv[:4])} failed:\n{out[-4000:]}"
    return out


def test_compiled_pipeline_loads_back_and_runs_with_the_records_of_a_local_run(
    kfp_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = write_flow(tmp_path / "code")
    local, remote = tmp_path / "local", tmp_path / "kfp"
    init_project(local)
    init_project(remote)
    monkeypatch.setenv("DOCKYARD_HOME", str(local))
    clear_cache()
    module: Any = load_module(str(flow))
    module.flow()
    clear_cache()

    out = remote / "pipeline.yaml"
    dockyard = str(kfp_bin / "dockyard")
    _run([dockyard, "export", "kubeflow", f"{flow}:flow", "-o", str(out), "--image", IMAGE,
          "--dockyard-command", dockyard], remote)  # fmt: skip

    spec = yaml.safe_load(out.read_text())
    root = spec["root"]["dag"]["tasks"]
    finish = root.pop("dockyard-finish")
    [(group, handler)] = root.items()  # the ExitHandler around the plan and the steps
    # dockyard-finish is its exit task: it runs when the group ends, failed or not
    assert finish["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    assert finish["dependentTasks"] == [group]
    tasks = spec["components"][handler["componentRef"]["name"]]["dag"]["tasks"]
    assert set(tasks) == {"dockyard-plan", "load", "scale", "shift", "report"}
    deps = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    assert deps == {
        "dockyard-plan": set(),
        "load": {"dockyard-plan"},
        "scale": {"dockyard-plan", "load"},
        "shift": {"dockyard-plan", "load"},
        "report": {"dockyard-plan", "scale", "shift"},
    }
    executors = spec["deploymentSpec"]["executors"]
    assert {e["container"]["image"] for e in executors.values()} == {IMAGE}
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert {k: (v["parameterType"], v["defaultValue"]) for k, v in params.items()} == {
        "n": ("NUMBER_INTEGER", 5),
        "k": ("NUMBER_DOUBLE", 2.0),
    }
    assert tasks["scale"]["retryPolicy"]["maxRetryCount"] == 1  # the step's retries

    script = tmp_path / "run_kfp.py"
    script.write_text(RUN_LOCALLY)
    log = _run([str(kfp_bin / "python"), str(script), str(out), str(tmp_path / "kfp-root")], remote)
    assert "KFP-PIPELINE-SUCCEEDED" in log

    expected = records(local)
    assert expected["status"] == "completed"
    assert records(remote) == expected
