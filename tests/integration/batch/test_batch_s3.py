"""A batch job whose lake is on S3 (moto's server as a subprocess): the remote path of
inputs, chunk files and commits, and a resume, as on the local folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from batch_support import FEATURES, customers, write_table
from sklearn.linear_model import LogisticRegression

import dockyard.batch as batch
from dockyard.registry import register_model
from dockyard.stacks.stack import clear_cache
from lake_moto import make_bucket, s3_options, start_moto, stop_moto

pytestmark = pytest.mark.s3


@pytest.fixture
def s3_project(project: Path, tmp_path: Path) -> Iterator[Path]:
    """A project whose stack keeps its lake on moto's S3 (artifacts stay local)."""
    proc, endpoint = start_moto(log=tmp_path / "moto.log")
    try:
        config = {
            "active_stack": "s3lake",
            "stacks": {
                "s3lake": {
                    "orchestrator": {"flavor": "local"},
                    "artifact_store": {"flavor": "local", "path": "artifacts"},
                    "metadata_store": {"flavor": "sql", "url": "sqlite:///metadata.db"},
                    "lake": {
                        "flavor": "delta",
                        "path": f"s3://{make_bucket(endpoint)}/lake",
                        "storage_options": s3_options(endpoint),
                    },
                }
            },
        }
        folder = project / ".dockyard"
        folder.mkdir(exist_ok=True)
        (folder / "config.yaml").write_text(yaml.safe_dump(config))
        clear_cache()
        yield project
    finally:
        clear_cache()
        stop_moto(proc)


def test_a_job_on_an_s3_lake_scores_every_row_once_and_resumes(s3_project: Path) -> None:
    import dockyard.lake

    frame = customers(600)
    x, y = frame[FEATURES], (frame.f0 > 0).astype(int)
    register_model("churn", LogisticRegression().fit(x, y), sample=x)
    lake = dockyard.lake.open()
    assert lake.url.startswith("s3://")
    write_table(lake, "curated/customers", frame, row_group=200)  # three chunks

    def run() -> batch.JobSummary:
        return batch.run(
            "churn:1",
            input="lake://curated/customers",
            output="lake://predictions/churn",
            id_column="customer_id",
            chunk_rows=200,
            job_id="s3-job",
        )

    summary = run()
    assert (summary.rows, summary.chunks_done, summary.chunks_total) == (600, 3, 3)
    out = lake.read("predictions/churn")
    assert sorted(out.column("customer_id").to_pylist()) == frame["customer_id"].tolist()
    again = run()
    assert again.nothing_to_do
    assert lake.read("predictions/churn").num_rows == 600
