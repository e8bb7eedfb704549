"""The batch store keeps a job's identity and its chunks' outcomes."""

from __future__ import annotations

import pytest

from dockyard.batch.sql_store import SqlBatchStore
from dockyard.batch.store import BatchJobSpec
from dockyard.errors import BatchError


def _spec(job_id: str = "j1") -> BatchJobSpec:
    return BatchJobSpec(
        job_id=job_id,
        model_name="churn",
        model_version=3,
        model_ref="churn@production",
        input_uri="lake://curated/customers",
        input_version=4,
        output_uri="lake://predictions/churn",
        rejects_uri="lake://predictions/churn__rejects",
        options={"chunk_rows": 10},
    )


def test_job_figures_follow_its_chunks() -> None:
    store = SqlBatchStore("sqlite:///:memory:")
    job = store.create_job(_spec(), chunks_total=3)
    assert (job.status, job.chunks_total, job.chunks_done, job.spec) == ("running", 3, 0, _spec())
    store.record_chunk("j1", "c000000", status="done", rows=10, rejected=1, seconds=0.5)
    store.record_chunk("j1", "c000001", status="failed", error="model churn version 3 failed")
    store.record_chunk("j1", "c000001", status="done", rows=7)  # retried: replaced
    job = store.set_job_status("j1", "succeeded", seconds=2.0, output_version=5)
    assert (job.chunks_done, job.chunks_failed, job.rows, job.rejected) == (2, 0, 17, 1)
    assert job.rows_per_second == 8.5
    assert [c.chunk_id for c in store.list_chunks("j1")] == ["c000000", "c000001"]
    assert store.list_jobs()[0].job_id == "j1"
    assert store.get_job("nope") is None


def test_a_job_id_is_created_once() -> None:
    store = SqlBatchStore("sqlite:///:memory:")
    store.create_job(_spec(), chunks_total=1)
    with pytest.raises(BatchError, match="exists already"):
        store.create_job(_spec(), chunks_total=1)
    with pytest.raises(BatchError, match="No batch job 'other'"):
        store.set_job_status("other", "failed")
