"""``dockyard batch run | status | compare`` as a user runs them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from dockyard.registry import register_model
from dockyard.stacks.stack import clear_cache
from support import free_port

Cli = Callable[..., CompletedProcess[str]]


@pytest.fixture
def data(project: Path) -> Path:
    clear_cache()
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(2_000, 3)), columns=["a", "b", "c"])
    y = (frame.a > 0).astype(int)
    register_model(
        "churn", LogisticRegression().fit(frame, y), sample=frame, aliases=["production"]
    )
    register_model("churn", LogisticRegression(C=0.01).fit(frame, y), sample=frame)
    frame["customer_id"] = np.arange(2_000)
    frame["region"] = np.where(frame.index % 2 == 0, "EU", "US")
    path = project / "customers.parquet"
    frame.to_parquet(path, row_group_size=500)
    clear_cache()
    return path


def _error(proc: CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("Error: ") and lines[1:] == ["(run with --debug for the traceback)"]
    return lines[0]


def test_run_status_and_rerun(cli: Cli, data: Path) -> None:
    args = [
        "batch",
        "run",
        "churn@production",
        "--input",
        str(data),
        "--output",
        "lake://predictions/churn",
        "--id-column",
        "customer_id",
        "--chunk-rows",
        "500",
        "--job-id",
        "cli1",
    ]
    out = cli(*args).stdout
    assert "Job cli1: 2,000 rows scored by churn:1" in out
    assert "rows/s" in out and "lake://predictions/churn version" in out
    assert "already complete" in cli(*args).stdout
    status = cli("batch", "status", "cli1").stdout
    assert "chunks    4/4 done, 0 failed" in status
    assert "rows      2,000 scored, 0 refused" in status
    assert "cli1" in cli("batch", "status").stdout
    reused = _error(cli(*[a if a != "churn@production" else "churn:2" for a in args], ok=False))
    assert "Job cli1 exists with other settings" in reused and "churn:2" in reused


def test_filter_proba_and_compare(cli: Cli, data: Path) -> None:
    out = cli(
        "batch",
        "run",
        "churn:2",
        "--input",
        str(data),
        "--output",
        "lake://predictions/eu",
        "--filter",
        "region = 'EU'",
        "--proba",
        "--json",
    ).stdout
    assert '"rows": 1000' in out and '"status": "succeeded"' in out
    compare = cli(
        "batch", "compare", "churn:1", "churn:2", "--input", str(data), "--sample-rows", "400"
    ).stdout
    assert "churn:1 vs churn:2 on 400 rows" in compare
    assert "agreement" in compare and "JS divergence" in compare


def test_errors_are_one_line(cli: Cli, data: Path) -> None:
    assert "does not exist" in _error(
        cli("batch", "run", "churn:1", "--input", "missing.parquet", "--output", "out", ok=False)
    )
    assert "Cannot parse the filter" in _error(
        cli(
            "batch",
            "run",
            "churn:1",
            "--input",
            str(data),
            "--output",
            "out",
            "--filter",
            "a >",
            ok=False,
        )
    )
    port = free_port()
    assert f"Cannot reach the Dask scheduler at dask://127.0.0.1:{port}" in _error(
        cli(
            "batch",
            "run",
            "churn:1",
            "--input",
            str(data),
            "--output",
            "out",
            "--executor",
            f"dask://127.0.0.1:{port}",
            ok=False,
        )
    )
    assert "No batch job 'nope'" in _error(cli("batch", "status", "nope", ok=False))
