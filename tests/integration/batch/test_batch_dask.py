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


class WorkerKiller:
    """Ends the process scoring any row with f0 > 3 while ``marker`` exists, the way an
    out-of-memory kill or a segfault in native code ends a Dask worker."""

    def __init__(self, marker: str) -> None:
        import os

        self.marker = marker
        self.driver = os.getpid()  # never this process: registering predicts on the sample

    def predict(self, x: object) -> object:
        import os

        import numpy as np

        values = np.asarray(x)
        if (
            os.getpid() != self.driver
            and os.path.exists(self.marker)
            and (values[:, 0] > 3.0).any()
        ):
            os._exit(1)
        return (values[:, 0] > 0).astype(np.int64)


def test_a_chunk_whose_workers_keep_dying_fails_alone_and_a_rerun_retries_it(
    scoring: Scoring,
) -> None:
    """Dask gives up on a task that killed its workers (``KilledWorker``): that chunk
    fails with the reason, the others are committed, and a rerun retries only it."""
    import sys

    import cloudpickle
    import dask
    from batch_support import FEATURES

    from dockyard.registry import register_model

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    marker = scoring.root / "kill"
    register_model("killer", WorkerKiller(str(marker)), sample=scoring.frame[FEATURES])
    marker.write_text("x")
    kwargs = dict(
        input="lake://curated/customers",
        output="lake://predictions/killer",
        chunk_rows=250,
        job_id="k",
        executor="dask",
        trust_pickle=True,
    )
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        first = batch.run("killer:1", **kwargs)  # type: ignore[arg-type]
    assert first.chunks_failed >= 1
    assert first.chunks_done == first.chunks_total - first.chunks_failed
    assert "could not be scored on the Dask cluster: KilledWorker" in first.errors[0][1]
    assert "rerun the job to retry it" in first.errors[0][1]
    marker.unlink()
    second = batch.run("killer:1", **kwargs)  # type: ignore[arg-type]
    assert (second.chunks_done, second.chunks_skipped) == (first.chunks_failed, first.chunks_done)
    assert scoring.lake.read("predictions/killer").num_rows == 2_000
