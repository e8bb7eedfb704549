"""Batch scoring (ETML): score a lake table or files with a registered model, exactly once.

::

    import dockyard.batch

    summary = dockyard.batch.run(
        "churn@production",
        input="lake://curated/customers",
        output="lake://predictions/churn",
        id_column="customer_id",
        executor="dask",  # or "local", or "dask://HOST:PORT"
    )
    print(summary.describe())
    dockyard.batch.status(summary.job_id)
    dockyard.batch.compare("churn:3", "churn:4", input="lake://curated/customers")

Models are loaded through the shared runtime (:func:`dockyard.runtime.load_runtime`'s
:class:`~dockyard.runtime.RuntimeSpec`) and inputs validated by its validator. Names are
re-exported lazily: ``import dockyard.batch`` loads neither pyarrow nor deltalake.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.batch.comparison import Comparison, compare
    from dockyard.batch.job import JobProgress, JobStatus, JobSummary, list_jobs, run, status
    from dockyard.batch.store import BatchChunkRecord, BatchJobRecord, BatchJobSpec, BatchStore

_EXPORTS = {
    "Comparison": "comparison",
    "compare": "comparison",
    "JobProgress": "job",
    "JobStatus": "job",
    "JobSummary": "job",
    "list_jobs": "job",
    "run": "job",
    "status": "job",
    "BatchChunkRecord": "store",
    "BatchJobRecord": "store",
    "BatchJobSpec": "store",
    "BatchStore": "store",
}

__all__ = [
    "BatchChunkRecord",
    "BatchJobRecord",
    "BatchJobSpec",
    "BatchStore",
    "Comparison",
    "JobProgress",
    "JobStatus",
    "JobSummary",
    "compare",
    "list_jobs",
    "run",
    "status",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.batch' has no attribute {name!r}")
    value = getattr(import_module(f"dockyard.batch.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
