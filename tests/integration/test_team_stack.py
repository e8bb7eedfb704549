"""A whole pipeline on the production adapters: PostgreSQL + S3 (moto) + local-parallel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.stacks.config import ProjectConfig
from dockyard.stacks.stack import clear_cache, load_stack

FLOW = """
from typing import Annotated
import pandas as pd
from dockyard import pipeline, step


@step
def frame(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame({"x": range(n), "y": [v * 2.5 for v in range(n)]})


@step
def stats(df: pd.DataFrame) -> tuple[Annotated[float, "mean"], Annotated[int, "rows"]]:
    return float(df.y.mean()), len(df)


@step
def head(df: pd.DataFrame) -> pd.DataFrame:
    return df.head(2)


@pipeline
def report(n: int = 5):
    df = frame(n=n)
    stats(df)
    head(df)
"""


@pytest.mark.postgres
@pytest.mark.s3
def test_pipeline_on_postgres_and_s3(
    project: Path, postgres_url: str, s3_endpoint: str, s3_bucket: str
) -> None:
    config = ProjectConfig.load(project)
    config.register(
        "team",
        {
            "orchestrator": {"flavor": "local-parallel", "workers": 2},
            "artifact_store": {
                "flavor": "fsspec",
                "path": s3_bucket,
                "storage_options": {
                    "client_kwargs": {"endpoint_url": s3_endpoint},
                    "key": "testing",
                    "secret": "testing",
                },
            },
            "metadata_store": {"flavor": "sql", "url": postgres_url},
        },
    )
    config.active_stack = "team"
    config.save()
    (project / "flow.py").write_text(FLOW)
    clear_cache()
    try:
        from dockyard.pipelines.loader import load_module

        flow = load_module(str(project / "flow.py"))
        run = flow.report(n=4)
        assert run.steps["stats"].outputs["mean"].load() == pytest.approx(3.75)
        assert run.steps["head"].outputs["output"].uri.startswith("s3://")
        assert len(run.steps["head"].outputs["output"].load()) == 2

        again = flow.report(n=4)
        assert all(s.cache_hit for s in again.steps.values())
        stack = load_stack()
        assert stack.metadata_store.describe()["url"].startswith("postgresql")
        assert [r.id for r in stack.metadata_store.list_runs(limit=2)] == [again.id, run.id]
        # Owned by this process, finished by it: the statuses read as written.
        recorded = stack.metadata_store.get_run(run.id)
        assert (recorded.status, recorded.owner_pid) == ("completed", os.getpid())
        # Every artifact on S3 reads back whole (what `dockyard artifacts verify` checks).
        from dockyard.pipelines.artifact_io import verify_artifacts

        assert verify_artifacts(stack.metadata_store, stack.artifact_store) == []
    finally:
        clear_cache()
