"""A job killed with SIGKILL at any point and resumed leaves every row exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from batch_support import Scoring, write_table

import dockyard.batch as batch

pytestmark = pytest.mark.slow

SCRIPT = """
import dockyard.batch as batch
batch.run("churn:1", input="lake://curated/many", output="lake://predictions/churn",
          id_column="customer_id", chunk_rows=25, job_id="killed")
"""


def _commits(scoring: Scoring) -> int:
    if not scoring.lake.exists("predictions/churn"):
        return 0
    return scoring.lake.latest_version("predictions/churn")


@pytest.mark.parametrize("after_commits", [1, 7])
def test_sigkill_mid_job_then_resume(scoring: Scoring, after_commits: int) -> None:
    write_table(scoring.lake, "curated/many", scoring.frame, row_group=25)  # 80 chunks
    env = {**os.environ, "DOCKYARD_HOME": str(scoring.root)}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=scoring.root, env=env)
    try:
        deadline = time.monotonic() + 120
        while _commits(scoring) < after_commits:  # bounded by the deadline
            assert proc.poll() is None, "the job ended before it could be killed"
            assert time.monotonic() < deadline, "no commit within 120 s"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)  # wherever it is: scoring, writing, committing
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    partial = scoring.lake.read("predictions/churn").num_rows
    assert 0 < partial < 2_000

    summary = batch.run(
        "churn:1",
        input="lake://curated/many",
        output="lake://predictions/churn",
        id_column="customer_id",
        chunk_rows=25,
        job_id="killed",
    )
    assert summary.chunks_skipped >= 1
    assert summary.chunks_skipped + summary.chunks_done == summary.chunks_total == 80
    ids = scoring.lake.read("predictions/churn").column("customer_id").to_pylist()
    assert len(ids) == 2_000 and sorted(ids) == scoring.ids  # every row exactly once
    assert batch.run(
        "churn:1",
        input="lake://curated/many",
        output="lake://predictions/churn",
        id_column="customer_id",
        chunk_rows=25,
        job_id="killed",
    ).nothing_to_do
    assert batch.status("killed").job.rows == 2_000
