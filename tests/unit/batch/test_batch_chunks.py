"""Chunks are derived from the input alone: the same input gives the same chunks."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake

from dockyard.batch.executors import parse_executor
from dockyard.batch.filters import parse_filter, to_expression
from dockyard.batch.output import chunk_file
from dockyard.batch.sources import iter_chunk, plan_chunks, read_chunk, resolve_source
from dockyard.errors import BatchError


def _table(n: int) -> pa.Table:
    return pa.table({"id": list(range(n)), "x": [float(i) for i in range(n)]})


def test_row_groups_are_grouped_never_cut(tmp_path: Path) -> None:
    pq.write_table(_table(1000), tmp_path / "a.parquet", row_group_size=300)
    source = resolve_source(str(tmp_path / "a.parquet"), None)
    # Row groups of 300, 300, 300, 100: a larger one than chunk_rows is a chunk alone
    # (streamed when scored); smaller ones are grouped up to chunk_rows.
    assert [(c.row_groups, c.length, c.row_base) for c in plan_chunks(source, 250)] == [
        ((0,), 300, 0),
        ((1,), 300, 300),
        ((2,), 300, 600),
        ((3,), 100, 900),
    ]
    chunks = plan_chunks(source, 650)
    assert [(c.row_groups, c.length) for c in chunks] == [((0, 1), 600), ((2, 3), 400)]
    ids = [i for c in chunks for i in read_chunk(source, c, ["id"]).column("id").to_pylist()]
    assert ids == list(range(1000))
    streamed = list(iter_chunk(source, chunks[0], ["id"], batch_rows=128))
    assert max(t.num_rows for t in streamed) <= 128
    assert [i for t in streamed for i in t.column("id").to_pylist()] == list(range(600))


def test_planning_is_deterministic_over_a_folder(tmp_path: Path) -> None:
    for name in ("b.parquet", "a.parquet", "c.parquet"):
        pq.write_table(_table(120), tmp_path / name, row_group_size=40)
    source = resolve_source(str(tmp_path), None)
    first = plan_chunks(source, 100)
    again = plan_chunks(resolve_source(str(tmp_path), None), 100)
    assert first == again
    assert [Path(c.path).name for c in first][:3] == ["a.parquet", "a.parquet", "b.parquet"]
    assert [c.chunk_id for c in first] == [f"c{i:06d}" for i in range(len(first))]
    assert sum(c.length for c in first) == 360


def test_delta_chunks_pin_the_version_and_fill_partitions(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    data = pa.table({"id": [1, 2, 3, 4], "region": ["EU", "US", "EU", "US"]})
    write_deltalake(uri, data, partition_by=["region"])
    write_deltalake(uri, data, partition_by=["region"], mode="append")
    pinned = resolve_source(uri, None, version=0)
    assert pinned.version == 0
    chunks = plan_chunks(pinned, 10)
    rows = [r for c in chunks for r in read_chunk(pinned, c).to_pylist()]
    assert sorted((r["id"], r["region"]) for r in rows) == [
        (1, "EU"),
        (2, "US"),
        (3, "EU"),
        (4, "US"),
    ]
    only_eu = plan_chunks(pinned, 10, to_expression(parse_filter("region = 'EU'")))
    assert len(only_eu) == 1  # the US partition's file is never read
    with pytest.raises(BatchError, match=r"no version 7; its versions are 0\.\.1"):
        resolve_source(uri, None, version=7)


def test_csv_chunks_are_row_ranges(tmp_path: Path) -> None:
    pcsv.write_csv(_table(25), tmp_path / "in.csv")
    source = resolve_source(str(tmp_path / "in.csv"), None)
    chunks = plan_chunks(source, 10)
    assert [(c.offset, c.length) for c in chunks] == [(0, 10), (10, 10), (20, 5)]
    assert read_chunk(source, chunks[1], ["id"]).column("id").to_pylist() == list(range(10, 20))


def test_missing_input_is_named(tmp_path: Path) -> None:
    with pytest.raises(BatchError, match="does not exist"):
        resolve_source(str(tmp_path / "nope.parquet"), None)


def test_chunk_files_are_named_by_job_and_chunk() -> None:
    assert chunk_file("nightly-1", "c000003") == "batch-nightly-1-c000003.parquet"


@pytest.mark.parametrize(
    ("text", "kind", "address", "remote"),
    [
        ("local", "local", None, False),
        ("dask", "dask", None, False),
        ("dask://127.0.0.1:8786", "dask", "tcp://127.0.0.1:8786", False),
        ("dask://10.1.2.3:8786", "dask", "tcp://10.1.2.3:8786", True),
    ],
)
def test_executors(text: str, kind: str, address: str | None, remote: bool) -> None:
    e = parse_executor(text)
    assert (e.kind, e.address, e.remote) == (kind, address, remote)


@pytest.mark.parametrize("text", ["ray", "dask://host", "dask://:99999"])
def test_bad_executor(text: str) -> None:
    with pytest.raises(BatchError, match="executor"):
        parse_executor(text)
