"""Batch jobs on the local lake: every input row exactly once, resumable, with rejects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from batch_support import FEATURES, Scoring, write_table

import dockyard.batch as batch
from dockyard.batch.output import chunk_file
from dockyard.batch.scoring import ChunkResult, ChunkTask
from dockyard.errors import BatchError
from dockyard.registry import register_model
from support import free_port

IN = "lake://curated/customers"
OUT = "lake://predictions/churn"


def _out(s: Scoring, name: str = "predictions/churn") -> pa.Table:
    return s.lake.read(name)


def test_lake_to_lake_scores_every_row_once(scoring: Scoring) -> None:
    summary = batch.run(
        "churn@production", input=IN, output=OUT, id_column="customer_id", chunk_rows=300
    )
    assert (summary.model_name, summary.model_version, summary.input_version) == ("churn", 1, 0)
    assert summary.chunks_total == summary.chunks_done >= 2
    assert (summary.rows, summary.rejected, summary.chunks_failed) == (2_000, 0, 0)
    out = _out(scoring)
    assert sorted(out.column("customer_id").to_pylist()) == scoring.ids
    assert set(out.column("model_version").to_pylist()) == {1}
    assert set(out.column("job_id").to_pylist()) == {summary.job_id}
    assert out.column_names == [
        "customer_id",
        "prediction",
        "model_name",
        "model_version",
        "job_id",
    ]
    # The predictions are the runtime's own.
    got = dict(zip(out["customer_id"].to_pylist(), out["prediction"].to_pylist(), strict=True))
    from dockyard.runtime import load_runtime

    expected = load_runtime("churn:1").predict(scoring.frame[FEATURES])
    assert [got[i] for i in scoring.ids] == expected.tolist()

    again = batch.run(
        "churn@production", input=IN, output=OUT, id_column="customer_id", chunk_rows=300
    )
    assert again.job_id == summary.job_id  # derived from the model, input and options
    assert again.nothing_to_do and "already complete" in again.describe()
    assert _out(scoring).num_rows == 2_000
    st = batch.status(summary.job_id)
    assert (st.job.status, st.job.chunks_done, st.job.rows) == (
        "succeeded",
        summary.chunks_total,
        2_000,
    )


def test_row_position_is_the_id_without_an_id_column(scoring: Scoring, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    scoring.frame.to_csv(path, index=False)
    summary = batch.run("churn:2", input=str(path), output=str(tmp_path / "out"), chunk_rows=700)
    assert summary.chunks_total == 3
    from deltalake import DeltaTable

    out = DeltaTable(str(tmp_path / "out")).to_pyarrow_table()
    assert sorted(out.column("row_position").to_pylist()) == list(range(2_000))
    assert set(out.column("model_version").to_pylist()) == {2}


def test_resume_skips_committed_chunks_and_ignores_uncommitted_files(
    scoring: Scoring, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dockyard.batch.executors as executors

    score = executors.score_chunk

    def stop_at_the_fifth(task: ChunkTask) -> ChunkResult:
        if task.chunk.chunk_id == "c000004":
            raise KeyboardInterrupt  # the driver stops while scoring a chunk
        return score(task)

    monkeypatch.setattr(executors, "score_chunk", stop_at_the_fifth)

    with pytest.raises(KeyboardInterrupt):
        batch.run(
            "churn:1",
            input=IN,
            output=OUT,
            id_column="customer_id",
            chunk_rows=250,
            job_id="nightly",
        )
    monkeypatch.setattr(executors, "score_chunk", score)
    committed = _out(scoring).num_rows // 250  # commits may hold several chunks
    assert 1 <= committed <= 4 and _out(scoring).num_rows == committed * 250
    # A chunk file written but never committed (a driver killed before its commit).
    table_dir = Path(scoring.lake.table_uri("predictions/churn"))
    pq.write_table(pa.table({"junk": [1]}), table_dir / chunk_file("nightly", "c000007"))
    assert batch.status("nightly").job.status == "failed"

    summary = batch.run(
        "churn:1", input=IN, output=OUT, id_column="customer_id", chunk_rows=250, job_id="nightly"
    )
    assert (summary.chunks_skipped, summary.chunks_done) == (committed, 8 - committed)
    assert summary.rows == 2_000 - committed * 250
    ids = _out(scoring).column("customer_id").to_pylist()
    assert sorted(ids) == scoring.ids  # every row exactly once
    assert batch.status("nightly").job.status == "succeeded"


def test_pinned_input_version_is_kept(scoring: Scoring) -> None:
    write_table(
        scoring.lake, "curated/customers", scoring.frame.head(10), mode="append"
    )  # version 1: +10 rows
    summary = batch.run("churn:1", input=IN, output=OUT, input_version=0, job_id="old")
    assert (summary.input_version, summary.rows) == (0, 2_000)
    assert batch.status("old").job.spec.input_version == 0
    pinned = batch.run("churn:1", input=IN + "@1", output="lake://predictions/latest")
    assert (pinned.input_version, pinned.rows) == (1, 2_010)


def test_filter_selects_rows(scoring: Scoring) -> None:
    summary = batch.run(
        "churn:1", input=IN, output=OUT, id_column="customer_id", filter="region = 'EU' and f0 > 0"
    )
    expected = scoring.frame[(scoring.frame.region == "EU") & (scoring.frame.f0 > 0)]
    assert summary.rows == len(expected)
    assert sorted(_out(scoring).column("customer_id").to_pylist()) == sorted(expected.customer_id)
    with pytest.raises(BatchError, match="column 'nope'"):
        batch.run("churn:1", input=IN, output=OUT, filter="nope = 1")


def test_refused_rows_go_to_the_rejects_table(scoring: Scoring) -> None:
    frame = scoring.frame.copy()
    frame.loc[[3, 1500], "f2"] = np.nan
    frame.loc[7, "f0"] = np.inf
    write_table(scoring.lake, "curated/dirty", frame)
    summary = batch.run(
        "churn:1", input="lake://curated/dirty", output=OUT, id_column="customer_id", chunk_rows=500
    )
    assert (summary.rows, summary.rejected, summary.chunks_failed) == (1_997, 3, 0)
    rejects = _out(scoring, "predictions/churn__rejects").to_pylist()
    reasons = {r["customer_id"]: r["reason"] for r in rejects}
    assert set(reasons) == {100_003, 101_500, 100_007}
    assert "input 'f2': NaN is not allowed" in reasons[100_003]
    assert "input 'f0': infinity is not allowed" in reasons[100_007]
    assert batch.status(summary.job_id).job.rejected == 3
    ids = set(_out(scoring).column("customer_id").to_pylist())
    assert len(ids) == 1_997 and not ids & set(reasons)


class Flaky:
    """Raises on rows with a large f0 while the marker file exists."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.n_features_in_ = 4

    def predict(self, x: np.ndarray) -> np.ndarray:
        if Path(self.marker).exists() and (np.asarray(x)[:, 0] > 3.0).any():
            raise RuntimeError("cannot score an outlier")
        return (np.asarray(x)[:, 0] > 0).astype(np.int64)


def test_a_failing_chunk_names_the_version_and_a_rerun_retries_it(scoring: Scoring) -> None:
    marker = scoring.root / "broken"
    marker.write_text("x")
    register_model("flaky", Flaky(str(marker)), sample=scoring.frame[FEATURES])
    kwargs = dict(
        input=IN, output="lake://predictions/flaky", chunk_rows=200, job_id="f1", trust_pickle=True
    )
    outliers = int((scoring.frame.f0 > 3.0).sum())
    assert outliers >= 1
    first = batch.run("flaky:1", **kwargs)  # type: ignore[arg-type]
    assert (
        first.chunks_failed >= 1 and first.chunks_done == first.chunks_total - first.chunks_failed
    )
    assert "model flaky version 1 failed" in first.errors[0][1]
    assert "cannot score an outlier" in first.errors[0][1]
    assert batch.status("f1").errors[0][1] == first.errors[0][1]
    marker.unlink()
    second = batch.run("flaky:1", **kwargs)  # type: ignore[arg-type]
    assert (second.chunks_done, second.chunks_skipped) == (first.chunks_failed, first.chunks_done)
    assert sorted(_out(scoring, "predictions/flaky").column("row_position").to_pylist()) == list(
        range(2_000)
    )


def test_input_without_the_model_columns_names_them(scoring: Scoring) -> None:
    scoring.lake.write("curated/thin", scoring.frame.drop(columns=["f1", "f3"]))
    with pytest.raises(BatchError, match=r"lacks the model's input columns f1, f3"):
        batch.run("churn:1", input="lake://curated/thin", output=OUT)


def test_a_reused_job_id_with_another_model_or_input_is_refused(scoring: Scoring) -> None:
    batch.run("churn:1", input=IN, output=OUT, job_id="daily", chunk_rows=1_000)
    with pytest.raises(
        BatchError,
        match=r"Job daily exists.*model: it scored with churn:1, this run asks for churn:2",
    ):
        batch.run("churn:2", input=IN, output=OUT, job_id="daily", chunk_rows=1_000)
    scoring.lake.write("curated/other", scoring.frame)
    with pytest.raises(
        BatchError, match=r"input: it used lake://curated/customers, this run lake://curated/other"
    ):
        batch.run(
            "churn:1", input="lake://curated/other", output=OUT, job_id="daily", chunk_rows=1_000
        )


def test_bad_inputs_say_what_is_wrong(scoring: Scoring, tmp_path: Path) -> None:
    with pytest.raises(BatchError, match="does not exist"):
        batch.run("churn:1", input=str(tmp_path / "missing.parquet"), output=OUT)
    with pytest.raises(BatchError, match="input table lake://curated/nothing does not exist"):
        batch.run("churn:1", input="lake://curated/nothing", output=OUT)
    with pytest.raises(BatchError, match="id column 'cid' is not in the input"):
        batch.run("churn:1", input=IN, output=OUT, id_column="cid")
    with pytest.raises(BatchError, match="Bad job id"):
        batch.run("churn:1", input=IN, output=OUT, job_id="../x")


def test_an_unreachable_scheduler_fails_before_any_work(scoring: Scoring) -> None:
    port = free_port()
    with pytest.raises(
        BatchError, match=rf"Cannot reach the Dask scheduler at dask://127.0.0.1:{port}"
    ):
        batch.run(
            "churn:1", input=IN, output=OUT, executor=f"dask://127.0.0.1:{port}", job_id="nowhere"
        )
    with pytest.raises(BatchError, match="No batch job 'nowhere'"):
        batch.status("nowhere")


def test_a_local_lake_with_a_remote_scheduler_is_refused(scoring: Scoring) -> None:
    with pytest.raises(
        BatchError, match=r"on another machine, but lake://curated/customers.* local folder"
    ):
        batch.run("churn:1", input=IN, output=OUT, executor="dask://192.0.2.1:8786")


def test_compare_two_versions(scoring: Scoring) -> None:
    c = batch.compare("churn:1", "churn:2", input=IN, sample_rows=500)
    assert (c.model_a, c.model_b, c.rows, c.input_version) == ("churn:1", "churn:2", 500, 0)
    assert c.agreement_rate is not None and c.agreement_rate < 0.05  # v2 predicts the opposite
    assert c.divergence is not None and c.divergence >= 0
    counts = {k.label: (k.count_a, k.count_b) for k in c.classes}
    assert counts["0"] == (counts["1"][1], counts["1"][0])
    same = batch.compare("churn@production", "churn:1", input=IN)
    assert (same.rows, same.agreement_rate, same.divergence) == (2_000, 1.0, 0.0)
