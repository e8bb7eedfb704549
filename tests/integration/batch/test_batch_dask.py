"""The same job on a Dask LocalCluster gives the local run's output, row for row."""

from __future__ import annotations

import pytest
from batch_support import Scoring

import dockyard.batch as batch

pytestmark = pytest.mark.slow


def test_dask_output_equals_local_output(scoring: Scoring) -> None:
    common = dict(input="lake://curated/customers", id_column="customer_id", chunk_rows=250)
    local = batch.run("churn:1", output="lake://predictions/local", job_id="l", **common)  # type: ignore[arg-type]
    dask = batch.run(
        "churn:1", output="lake://predictions/dask", job_id="d", executor="dask", **common
    )  # type: ignore[arg-type]
    assert (dask.chunks_done, dask.rows, dask.chunks_failed) == (local.chunks_done, 2_000, 0)
    a = scoring.lake.read("predictions/local").drop_columns(["job_id"]).sort_by("customer_id")
    b = scoring.lake.read("predictions/dask").drop_columns(["job_id"]).sort_by("customer_id")
    assert a.equals(b)
    # Resuming on Dask is the same no-op as locally.
    assert batch.run(
        "churn:1", output="lake://predictions/dask", job_id="d", executor="dask", **common
    ).nothing_to_do  # type: ignore[arg-type]
