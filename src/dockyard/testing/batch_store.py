"""The BatchStore contract, for every adapter.

A batch job is resumed from what the store says about it: its identity (model version,
input and its pinned version, output, options) decides whether a rerun with the same job
id is the same job, and its chunks' outcomes are what ``dockyard batch status`` shows. A
driver killed at any moment must find what it last wrote.

A subclass provides the ``make_store`` fixture: a function that opens the store under
test, with the same data on every call::

    class TestMyStore(BatchStoreContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda: MyBatchStore(tmp_path / "jobs")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest

from dockyard.batch.store import BatchJobSpec, BatchStore
from dockyard.errors import BatchError

__all__ = ["BatchStoreContract"]


def _spec(job_id: str = "nightly-1", version: int = 3) -> BatchJobSpec:
    return BatchJobSpec(
        job_id=job_id,
        model_name="churn",
        model_version=version,
        model_ref="churn@production",
        input_uri="lake://curated/customers",
        input_version=7,
        output_uri="lake://predictions/churn",
        rejects_uri="lake://predictions/churn__rejects",
        options={"chunk_rows": 100_000, "filter": "region = 'EU'", "id_column": None},
    )


class BatchStoreContract:
    """The rules every batch store keeps. Subclass it in a ``Test*`` class.

    Fixture to provide: ``make_store`` (see the module docstring).

    Attributes:
        supports_durability: the data outlives the store object (False for a database
            in memory): switches the reopening test on or off.
    """

    supports_durability: ClassVar[bool] = True

    @pytest.fixture
    def make_store(self) -> Callable[[], BatchStore]:
        """Opens the store under test; every call opens the same (initially empty) data."""
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'make_store' fixture (see "
            "dockyard.testing.BatchStoreContract)"
        )

    @pytest.fixture
    def store(self, make_store: Callable[[], BatchStore]) -> Iterator[BatchStore]:
        s = make_store()
        yield s
        s.close()

    def test_a_job_keeps_its_identity(self, store: BatchStore) -> None:
        """A rerun is compared field by field with the recorded job (model version, input
        and pinned version, options), so what is read back must equal what was written."""
        created = store.create_job(_spec(), chunks_total=4)
        assert (created.status, created.chunks_total, created.chunks_done) == ("running", 4, 0)
        job = store.get_job("nightly-1")
        assert job is not None
        assert job.spec == _spec()
        assert store.get_job("other") is None

    def test_a_job_id_is_created_once(self, store: BatchStore) -> None:
        """Two drivers must not both start one job as new: the second create is refused."""
        store.create_job(_spec(), chunks_total=1)
        with pytest.raises(BatchError, match="exists already"):
            store.create_job(_spec(version=4), chunks_total=1)

    def test_chunk_outcomes_make_the_job_figures(self, store: BatchStore) -> None:
        """Status shows done/total, rows and errors from the chunks; a retried chunk
        replaces its failure, so a rerun's success is not counted twice."""
        store.create_job(_spec(), chunks_total=3)
        store.record_chunk("nightly-1", "c000000", status="done", rows=10, rejected=2)
        store.record_chunk("nightly-1", "c000001", status="failed", error="model churn version 3")
        job = store.get_job("nightly-1")
        assert job is not None
        assert (job.chunks_done, job.chunks_failed) == (1, 1)
        store.record_chunk("nightly-1", "c000001", status="done", rows=5)
        job = store.set_job_status("nightly-1", "succeeded", seconds=3.0, output_version=9)
        assert (job.status, job.chunks_done, job.chunks_failed) == ("succeeded", 2, 0)
        assert (job.rows, job.rejected, job.output_version, job.seconds) == (15, 2, 9, 3.0)
        chunks = store.list_chunks("nightly-1")
        assert [(c.chunk_id, c.status, c.error) for c in chunks] == [
            ("c000000", "done", None),
            ("c000001", "done", None),
        ]

    def test_recent_jobs_first(self, store: BatchStore) -> None:
        """``dockyard batch status`` without an id lists the jobs touched last first."""
        store.create_job(_spec("a"), chunks_total=1)
        store.create_job(_spec("b"), chunks_total=1)
        store.record_chunk("a", "c000000", status="done", rows=1)
        assert [j.job_id for j in store.list_jobs()] == ["a", "b"]
        assert [j.job_id for j in store.list_jobs(limit=1)] == ["a"]

    def test_a_status_for_an_unknown_job_is_refused(self, store: BatchStore) -> None:
        """A typo in a job id must say so, not create a record."""
        with pytest.raises(BatchError, match="No batch job 'nope'"):
            store.set_job_status("nope", "failed")

    def test_reopened_store_has_the_jobs(self, make_store: Callable[[], BatchStore]) -> None:
        """A driver killed mid-job resumes from what the store kept."""
        if not self.supports_durability:
            pytest.skip("this store keeps nothing after it is closed")
        first = make_store()
        first.create_job(_spec(), chunks_total=2)
        first.record_chunk("nightly-1", "c000000", status="done", rows=4)
        first.close()
        again = make_store()
        try:
            job = again.get_job("nightly-1")
            assert job is not None
            assert (job.spec, job.rows) == (_spec(), 4)
        finally:
            again.close()
