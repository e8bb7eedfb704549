"""The Lake contract: what every lake flavor keeps, on every storage it supports.

Tables, versions, time travel, filters, schema checks, file datasets, and the message for
each bad input. Pipelines, batch jobs and the CLI rely on these rules whichever table
format or storage a stack configures.

A subclass provides one fixture, ``make_lake``: a function returning a lake over the
same, initially empty, storage on every call; it takes ``zones=[...]`` to configure the
zones. Example::

    class TestMyLake(LakeContract):
        @pytest.fixture
        def make_lake(self, tmp_path):
            return lambda **options: MyLake(str(tmp_path / "lake"), **options)

The suite needs pyarrow and pandas (``pip install 'dockyard[lake,test]'``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dockyard.errors import DatasetNotFoundError, LakeError, LakeSchemaError
from dockyard.lake.base import Lake

__all__ = ["LakeContract", "customers"]


def customers(n: int = 100, start: int = 0) -> pa.Table:
    ids = list(range(start, start + n))
    return pa.table(
        {
            "id": ids,
            "region": [("EU", "US", "ASIA", "AF")[i % 4] for i in ids],
            "score": [i / 10 for i in ids],
        }
    )


class LakeContract:
    """The rules every lake keeps. Subclass it in a ``Test*`` class and provide
    ``make_lake`` (see the module docstring)."""

    @pytest.fixture
    def make_lake(self) -> Callable[..., Lake]:
        """A factory of lakes over one fresh storage (``make_lake(zones=[...])``)."""
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'make_lake' fixture (see dockyard.testing.lake)"
        )

    @pytest.fixture
    def lake(self, make_lake: Callable[..., Lake]) -> Lake:
        return make_lake()

    def test_write_returns_versions_and_reads_them_back(self, lake: Lake) -> None:
        """Every write is a version: a model trained on version 3 can find version 3 again."""
        assert lake.write("raw/customers", customers(10)) == 0
        assert lake.write("raw/customers", customers(5, start=10)) == 1
        assert lake.latest_version("raw/customers") == 1
        assert lake.read("raw/customers").num_rows == 15
        assert lake.read("raw/customers", version=0).num_rows == 10
        assert lake.exists("raw/customers")
        assert not lake.exists("raw/other")
        assert lake.write("raw/customers", customers(3), mode="overwrite") == 2
        assert lake.read("raw/customers").num_rows == 3
        history = lake.history("raw/customers")
        assert [h.version for h in history] == [0, 1, 2]
        assert [h.rows_added for h in history] == [10, 5, 3]
        assert all(h.operation == "WRITE" for h in history)

    def test_every_kind_of_input_is_written(self, lake: Lake) -> None:
        """DataFrames, Arrow tables, batches and streams of batches are what steps and batch jobs produce; each must land whole."""
        table = customers(8)
        df = table.to_pandas()
        lake.write("raw/a", df)
        lake.write("raw/a", table.to_batches()[0])
        lake.write("raw/a", iter(table.to_batches(max_chunksize=3)))  # streamed
        lake.write("raw/a", pa.RecordBatchReader.from_batches(table.schema, table.to_batches()))
        lake.write("raw/a", [df.iloc[:4], df.iloc[4:]])
        assert lake.read("raw/a").num_rows == 40
        assert lake.read("raw/a").to_pandas().dtypes["score"] == "float64"

    def test_as_of_reads_the_version_of_that_time(self, lake: Lake) -> None:
        """Reproducing last week's training set means reading the table as it was then."""
        lake.write("raw/t", customers(2))
        time.sleep(0.05)
        between = datetime.now(UTC)
        time.sleep(0.05)
        lake.write("raw/t", customers(3))
        assert lake.read("raw/t", as_of=between).num_rows == 2
        assert lake.read("raw/t", as_of=datetime.now(UTC) + timedelta(seconds=1)).num_rows == 5
        with pytest.raises(
            DatasetNotFoundError, match=r"did not exist at 2000-01-01.*first version is from"
        ):
            lake.read("raw/t", as_of=datetime(2000, 1, 1, tzinfo=UTC))
        with pytest.raises(LakeError, match="version or as_of, not both"):
            lake.read("raw/t", version=0, as_of=between)

    def test_partitions_columns_and_filters(self, lake: Lake) -> None:
        """Filters (tuples or expressions), column selection and streaming scans give the same rows a full read would."""
        lake.write("curated/c", customers(400), partition_by=["region"])
        eu = lake.read("curated/c", filters=[("region", "=", "EU")])
        assert eu.num_rows == 100
        assert set(eu.column("region").to_pylist()) == {"EU"}
        expr = (pc.field("region") == "US") & (pc.field("score") > 30)
        assert lake.read("curated/c", filters=expr).num_rows == len(
            [i for i in range(400) if i % 4 == 1 and i / 10 > 30]
        )
        either = lake.read("curated/c", filters=[[("region", "=", "EU")], [("region", "=", "AF")]])
        assert either.num_rows == 200
        assert lake.read("curated/c", columns=["id"]).column_names == ["id"]
        batches = list(
            lake.scan("curated/c", columns=["id", "score"], filters=[("id", "<", 50)], batch_size=7)
        )
        assert sum(b.num_rows for b in batches) == 50
        assert max(b.num_rows for b in batches) <= 7
        info = lake.describe("curated/c")
        assert info.partition_by == ["region"]
        assert info.rows == 400
        assert info.files == 4
        assert info.schema == [("id", "int64"), ("region", "string"), ("score", "double")]

    def test_schema_evolution_only_on_request(self, lake: Lake) -> None:
        """A new column is added only when asked for: a typo in a pipeline must not widen a shared table."""
        lake.write("features/f", customers(3))
        wider = customers(2).append_column("age", pa.array([30, 40]))
        with pytest.raises(
            LakeSchemaError, match=r"columns not in the table: age \(int64\).*schema_mode=\"merge\""
        ):
            lake.write("features/f", wider)
        assert lake.write("features/f", wider, schema_mode="merge") == 1
        ages = lake.read("features/f").column("age").to_pylist()  # file order is not row order
        assert sorted(ages, key=lambda a: -1 if a is None else a) == [None, None, None, 30, 40]

    def test_schema_mismatch_on_append_names_the_columns(self, lake: Lake) -> None:
        """A mismatch names every differing column and commits nothing, so the fix is obvious and the table untouched."""
        lake.write("raw/s", customers(3))
        bad = pa.table({"id": ["a"], "region": ["EU"], "extra": [1.0]})
        with pytest.raises(LakeSchemaError) as info:
            lake.write("raw/s", bad)
        text = str(info.value)
        assert "table 'raw/s'" in text
        assert "columns not in the table: extra (double)" in text
        assert "columns missing from the data: score (double)" in text
        assert "different types: id (table int64, data string)" in text
        assert lake.latest_version("raw/s") == 0  # nothing was committed

    def test_unknown_dataset_and_zone(self, lake: Lake) -> None:
        """A typo in a dataset or zone name says what exists instead of failing deep in the storage layer."""
        lake.write("raw/known", customers(1))
        with pytest.raises(
            DatasetNotFoundError,
            match=r"Unknown dataset 'raw/nope' in the lake at .*Datasets in raw: raw/known",
        ):
            lake.read("raw/nope")
        with pytest.raises(DatasetNotFoundError, match=r"Zone curated holds no datasets yet"):
            lake.latest_version("curated/x")
        with pytest.raises(
            LakeError,
            match=r"Unknown lake zone 'gold' in dataset 'gold/x'\. Zones: raw, curated, features, predictions",
        ):
            lake.read("gold/x")
        with pytest.raises(LakeError, match=r"Unknown lake zone 'gold'\. Zones:"):
            lake.list("gold")

    def test_missing_version_names_the_versions(self, lake: Lake) -> None:
        """A pinned version that does not exist names the versions that do."""
        lake.write("raw/v", customers(1))
        lake.write("raw/v", customers(1))
        with pytest.raises(
            DatasetNotFoundError, match=r"Table 'raw/v' has no version 5; its versions are 0-1"
        ):
            lake.read("raw/v", version=5)
        with pytest.raises(DatasetNotFoundError, match=r"has no version 5"):
            list(lake.scan("raw/v", version=5))

    def test_unknown_column_in_filter_or_columns(self, lake: Lake) -> None:
        """A filter or column on an unknown column names it and the table's columns, not an Arrow internals message."""
        lake.write("raw/f", customers(4))
        known = "its columns are id, region, score"
        with pytest.raises(
            LakeSchemaError, match=rf"Unknown column 'regio' in the filter on 'raw/f'; {known}"
        ):
            lake.read("raw/f", filters=[("regio", "=", "EU")])
        with pytest.raises(
            LakeSchemaError, match=rf"Unknown column 'nope' in the filter on 'raw/f'; {known}"
        ):
            lake.read("raw/f", filters=pc.field("nope") == 1)
        with pytest.raises(LakeSchemaError, match=r"Unknown column 'nope' in the filter"):
            next(lake.scan("raw/f", filters=pc.field("nope") == 1))
        with pytest.raises(
            LakeSchemaError, match=rf"Unknown column 'x' in columns= for 'raw/f'; {known}"
        ):
            lake.read("raw/f", columns=["id", "x"])

    def test_bad_writes(self, lake: Lake) -> None:
        """Writes that cannot be right (unknown mode, non-tabular data, wrong partitioning) are refused before any commit."""
        with pytest.raises(LakeError, match="Unknown write mode 'upsert'"):
            lake.write("raw/w", customers(1), mode="upsert")  # type: ignore[arg-type]
        with pytest.raises(LakeError, match="Cannot write a str"):
            lake.write("raw/w", "rows")
        with pytest.raises(LakeError, match="the batches are empty"):
            lake.write("raw/w", [])
        with pytest.raises(LakeSchemaError, match=r"Cannot partition 'raw/w' by \['nope'\]"):
            lake.write("raw/w", customers(1), partition_by=["nope"])
        lake.write("raw/w", customers(1), partition_by=["region"])
        with pytest.raises(LakeSchemaError, match=r"partitioned by \['region'\], not \['id'\]"):
            lake.write("raw/w", customers(1), partition_by=["id"])

    def test_list_and_describe(self, lake: Lake, tmp_path: Path) -> None:
        """``lake ls`` and ``lake show`` list tables and file datasets with their kind, version, size and rows."""
        assert lake.list() == []
        lake.write("raw/b", customers(2))
        lake.write("curated/a", customers(2))
        (tmp_path / "docs").mkdir()
        (tmp_path / "docs" / "x.json").write_text("{}")
        lake.put_files("raw/docs", tmp_path / "docs")
        listed = [(d.name, d.kind, d.version) for d in lake.list()]
        assert listed == [
            ("raw/b", "table", 0),
            ("raw/docs", "files", 0),
            ("curated/a", "table", 0),
        ]
        assert [d.name for d in lake.list("curated")] == ["curated/a"]
        d = lake.describe("raw/docs")
        assert (d.kind, d.rows, d.size_bytes) == ("files", 1, 2)

    def test_file_datasets_are_versioned_and_deduplicated(self, lake: Lake, tmp_path: Path) -> None:
        """Unchanged files are stored once however many versions name them."""
        photos = tmp_path / "photos"
        (photos / "cats").mkdir(parents=True)
        (photos / "cats" / "1.jpg").write_bytes(b"cat-one")
        (photos / "notes.json").write_text('{"a": 1}')
        assert lake.put_files("raw/images", photos) == 0
        (photos / "cats" / "2.jpg").write_bytes(b"cat-two")
        assert lake.put_files("raw/images", photos) == 1
        v0 = lake.files("raw/images", version=0)
        v1 = lake.files("raw/images")
        assert [f.path for f in v0] == ["cats/1.jpg", "notes.json"]
        assert [f.path for f in v1] == ["cats/1.jpg", "cats/2.jpg", "notes.json"]
        assert v1[0] == v0[0]
        assert v1[0].content_type == "image/jpeg"
        assert v1[0].size == 7
        assert [h.rows_added for h in lake.history("raw/images")] == [2, 1]
        with lake.open_file("raw/images", "cats/2.jpg") as f:
            assert f.read() == b"cat-two"
        # one more file alone adds to the listing; replace=True makes the listing exactly it
        extra = tmp_path / "dog.png"
        extra.write_bytes(b"dog")
        assert lake.put_files("raw/images", [extra]) == 2
        assert len(lake.files("raw/images")) == 4
        assert lake.put_files("raw/images", [extra], replace=True) == 3
        assert [f.path for f in lake.files("raw/images")] == ["dog.png"]

    def test_file_dataset_errors(self, lake: Lake, tmp_path: Path) -> None:
        """File datasets and tables are not confused, and missing files or versions are named."""
        (tmp_path / "a.txt").write_text("a")
        lake.put_files("raw/f", tmp_path / "a.txt")
        with pytest.raises(
            DatasetNotFoundError,
            match=r"No file 'b.txt' in version 0 of file dataset 'raw/f'; it lists 1 files: a.txt",
        ):
            lake.open_file("raw/f", "b.txt")
        with pytest.raises(DatasetNotFoundError, match=r"has no version 4; its versions are 0"):
            lake.files("raw/f", version=4)
        with pytest.raises(DatasetNotFoundError, match="Unknown dataset 'raw/g'"):
            lake.files("raw/g")
        with pytest.raises(LakeError, match="no such file or folder"):
            lake.put_files("raw/f", tmp_path / "missing")
        with pytest.raises(LakeError, match="is a file dataset"):
            lake.write("raw/f", customers(1))
        with pytest.raises(LakeError, match="is a file dataset, not a table"):
            lake.read("raw/f")
        lake.write("raw/t", customers(1))
        with pytest.raises(LakeError, match="is a table"):
            lake.put_files("raw/t", tmp_path / "a.txt")

    def test_zones_are_configurable(self, make_lake: Callable[..., Lake]) -> None:
        """A team's own zones (bronze/silver/gold) replace the default ones."""
        lake = make_lake(zones=["bronze", "silver"])
        lake.write("silver/x", customers(1))
        assert [d.name for d in lake.list()] == ["silver/x"]
        with pytest.raises(LakeError, match="Zones: bronze, silver"):
            lake.write("raw/x", customers(1))

    def test_pandas_round_trip(self, lake: Lake) -> None:
        """What pandas users write is what they read back."""
        df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
        lake.write("raw/pd", df)
        pd.testing.assert_frame_equal(lake.read("raw/pd").to_pandas(), df, check_dtype=False)
