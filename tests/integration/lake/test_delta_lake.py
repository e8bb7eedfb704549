"""The delta flavor beyond the contract: file pruning from the Delta log, commit
properties kept, file objects stored once; and the contract on a folder and on S3."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dockyard.lake.delta import DeltaLake
from dockyard.testing import LakeContract
from dockyard.testing.lake import customers


class TestDeltaLake(LakeContract):
    """The contract on each backend of ``lake_spec`` (a local folder, S3 on moto)."""

    @pytest.fixture
    def make_lake(self, lake_spec: dict[str, Any]) -> Callable[..., DeltaLake]:
        return lambda **extra: DeltaLake(**lake_spec, **extra)


def test_scan_prunes_files_by_partition_and_statistics(lake: DeltaLake) -> None:
    """A 1%-selective filter must not open every file: that is what makes a lake scale."""
    for part in range(10):
        lake.write(
            "raw/p", customers(50, start=part * 50), partition_by=["region"] if part == 0 else None
        )
    table = lake._table("raw/p")  # the files the read plan holds, through the same call
    dnf = [("id", ">=", 450)]
    pruned = table.to_pyarrow_dataset(file_pruning_predicate=dnf)
    assert len(list(pruned.get_fragments())) == 4  # one write's files (per region) of 40
    assert lake.read("raw/p", filters=dnf).num_rows == 50


def test_commit_properties_reach_the_commit(lake: DeltaLake) -> None:
    """Batch jobs tag commits with app transactions to skip committed chunks on resume."""
    from deltalake import CommitProperties, DeltaTable, Transaction

    props = CommitProperties(
        app_transactions=[Transaction(app_id="job-1", version=3)], custom_metadata={"job": "j1"}
    )
    assert lake.write("predictions/p", customers(2), commit_properties=props) == 0
    assert lake.history("predictions/p")[0].parameters["job"] == "j1"
    table = DeltaTable(lake.table_uri("predictions/p"), storage_options=lake.storage_options)
    assert table.transaction_version("job-1") == 3


def test_unchanged_files_are_stored_once(lake: DeltaLake, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "1.jpg").write_bytes(b"one")
    (photos / "2.jpg").write_bytes(b"two")
    lake.put_files("raw/images", photos)
    (photos / "3.jpg").write_bytes(b"one")  # same bytes, another name
    lake.put_files("raw/images", photos)
    storage = lake._files.storage
    folders = storage.listdir(storage.path("_objects"))
    stored = sum(len(storage.listfiles(storage.path("_objects", d))) for d in folders)
    assert stored == 2  # two contents for five listed entries over two versions
