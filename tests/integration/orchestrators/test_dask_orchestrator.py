"""The ``dask`` orchestrator on a real LocalCluster and against a scheduler that is not
there: same artifacts as in-process, refusals before the run with the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import OrchestratorError, OrchestratorUnavailableError
from dockyard.pipelines.loader import load_module
from dockyard.stacks.config import DEFAULT_STACK_CONFIG, ProjectConfig
from dockyard.stacks.stack import clear_cache, load_stack
from support import free_port

pytest.importorskip("distributed", reason="the dask extra is not installed")

FLOW = """
from dockyard import pipeline, step


@step
def load(n: int) -> list:
    return [float(i) for i in range(n)]


@step
def scale(xs: list, k: float) -> list:
    return [x * k for x in xs]


@step
def shift(xs: list) -> list:
    return [x + 1 for x in xs]


@step
def report(a: list, b: list) -> dict:
    return {"a": sum(a), "b": sum(b)}


@pipeline
def flow(n: int = 5, k: float = 2.0):
    xs = load(n=n)
    report(scale(xs, k=k), shift(xs))
"""


def _project(root: Path, stacks: dict[str, dict[str, Any]]) -> Any:
    root.mkdir(parents=True)
    (root / "flow.py").write_text(FLOW)
    config = ProjectConfig.load(root)
    for name, orchestrator in stacks.items():
        config.register(name, {**DEFAULT_STACK_CONFIG, "orchestrator": orchestrator})
    config.save()
    clear_cache()
    return load_module(str(root / "flow.py"))


def _hashes(run: Any) -> dict[tuple[str, str], str]:
    return {
        (name, out): view.record.content_hash
        for name, step in run.steps.items()
        for out, view in step.outputs.items()
    }


@pytest.mark.slow
def test_a_dask_run_gives_the_artifacts_of_an_in_process_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two projects (no shared cache): one run in-process, one on a LocalCluster."""
    results = {}
    for flavor in ("local", "dask"):
        root = tmp_path / flavor
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("DOCKYARD_HOME", str(root))
        module = _project(root, {"s": {"flavor": flavor}})
        run = module.flow.with_options(stack="s")(n=6, k=3.0)
        assert run.status == "completed"
        assert not any(step.cache_hit for step in run.steps.values())
        results[flavor] = run
        records = load_stack("s").metadata_store.list_step_runs(run.id)
        assert {r.name: r.status for r in records} == dict.fromkeys(
            ["load", "scale", "shift", "report"], "completed"
        )
    assert _hashes(results["dask"]) == _hashes(results["local"])
    assert results["dask"].steps["report"].outputs["output"].load() == {"a": 45.0, "b": 21.0}
    clear_cache()


def test_an_unreachable_scheduler_is_refused_before_the_run(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()  # nothing listens there
    module = _project(project / "p", {"s": {"flavor": "dask", "address": f"127.0.0.1:{port}"}})
    monkeypatch.setenv("DOCKYARD_HOME", str(project / "p"))
    with pytest.raises(OrchestratorUnavailableError) as info:
        module.flow.with_options(stack="s")()
    message = str(info.value)
    assert f"Cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in message
    assert "dask scheduler --host HOST --port PORT" in message
    assert load_stack("s").metadata_store.list_runs() == []  # nothing recorded
    clear_cache()


def test_a_remote_cluster_with_stores_on_this_disk_is_refused_before_the_run(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked before connecting: no network use (203.0.113.0/24 is TEST-NET-3)."""
    module = _project(project / "p", {"s": {"flavor": "dask", "address": "tcp://203.0.113.7:8786"}})
    monkeypatch.setenv("DOCKYARD_HOME", str(project / "p"))
    with pytest.raises(OrchestratorError) as info:
        module.flow.with_options(stack="s")()
    message = str(info.value)
    assert "tcp://203.0.113.7:8786 is on another machine" in message
    assert "artifact store " in message and "metadata store sqlite:///" in message
    assert "--artifact-store fsspec --artifact-path s3://BUCKET/PATH" in message
    assert "--metadata-url postgresql+psycopg://HOST/DB" in message
    assert load_stack("s").metadata_store.list_runs() == []
    clear_cache()


def test_an_in_memory_store_is_refused_even_on_a_local_cluster(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project / "p"
    module = _project(root, {})
    config = ProjectConfig.load(root)
    config.register(
        "mem",
        {
            **DEFAULT_STACK_CONFIG,
            "orchestrator": {"flavor": "dask"},
            "metadata_store": {"flavor": "sql", "url": "sqlite:///:memory:"},
        },
    )
    config.save()
    clear_cache()
    monkeypatch.setenv("DOCKYARD_HOME", str(root))
    with pytest.raises(OrchestratorError, match=r"cannot see this process's in-memory metadata"):
        module.flow.with_options(stack="mem")()
    clear_cache()


def test_a_missing_dask_extra_names_the_pip_command(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    module = _project(project / "p", {"s": {"flavor": "dask"}})
    monkeypatch.setenv("DOCKYARD_HOME", str(project / "p"))
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    with pytest.raises(OrchestratorError, match=r"pip install 'dockyard\[dask\]'"):
        module.flow.with_options(stack="s")()
    clear_cache()


def test_bad_dask_options_are_config_errors() -> None:
    from dockyard.errors import ConfigError
    from dockyard.orchestrators.dask import DaskOrchestrator

    with pytest.raises(ConfigError, match=r"write tcp://HOST:PORT"):
        DaskOrchestrator(address="tcp://nohost")
    with pytest.raises(ConfigError, match=r"workers must be a whole number >= 1, got 0"):
        DaskOrchestrator(workers=0)
