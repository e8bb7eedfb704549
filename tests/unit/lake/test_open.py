"""``dockyard.lake.open()``: the stack's lake component, and a light import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import dockyard.lake
from dockyard import _plugins
from dockyard.errors import StackError
from dockyard.lake import Lake
from dockyard.stacks.stack import clear_cache, load_stack


@pytest.fixture(autouse=True)
def _fresh_stacks() -> None:
    clear_cache()


def test_import_loads_neither_deltalake_nor_pyarrow() -> None:
    """``import dockyard.lake`` happens in steps and CLI calls that may never read a table."""
    code = (
        "import sys, dockyard.lake\n"
        "dockyard.lake.parse_ref('lake://raw/x@1'); dockyard.lake.DatasetRef\n"
        "print(' '.join(sys.modules))"
    )
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert not {
        m for m in loaded if m.split(".")[0] in {"deltalake", "pyarrow", "pandas", "fsspec"}
    }


def test_lake_is_a_plugin_kind() -> None:
    assert "lake" in _plugins.available("dockyard.stack_kinds")
    assert "delta" in _plugins.available("dockyard.lakes")


def test_open_gives_the_active_stacks_lake_under_dot_dockyard(project: Path) -> None:
    lake = dockyard.lake.open()
    assert isinstance(lake, Lake)
    assert lake.url == str(project / ".dockyard" / "lake")
    assert lake is dockyard.lake.open(load_stack())  # built once per stack


def test_stack_config_sets_path_zones_and_options(project: Path) -> None:
    (project / ".dockyard").mkdir()
    (project / ".dockyard" / "config.yaml").write_text(
        "active_stack: default\nstacks:\n  default:\n"
        "    lake: {flavor: delta, path: s3://bucket/lake, zones: [bronze, gold],\n"
        "           storage_options: {AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_REGION: eu-west-1}}\n"
    )
    lake = dockyard.lake.open()
    assert lake.url == "s3://bucket/lake"
    assert lake.zones == ("bronze", "gold")
    assert lake.storage_options["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    assert lake.storage_options["AWS_ALLOW_HTTP"] == "true"
    assert lake.table_uri("gold/kpis") == "s3://bucket/lake/gold/kpis"


def test_bad_lake_options_are_a_stack_error(project: Path) -> None:
    (project / ".dockyard").mkdir()
    (project / ".dockyard" / "config.yaml").write_text(
        "active_stack: default\nstacks:\n  default:\n    lake: {flavor: delta, path: lake, colour: red}\n"
    )
    with pytest.raises(StackError, match="Bad options for lake 'delta'"):
        dockyard.lake.open()


def test_a_process_that_read_a_table_exits_cleanly(tmp_path) -> None:
    """Reading a Delta table through Arrow's thread pools made the interpreter abort at
    exit about every other time ("terminate called without an active exception", delta-rs
    with pyarrow 26): every CLI command that read the lake could fail after its work."""
    import pyarrow as pa

    from dockyard.lake.delta import DeltaLake

    DeltaLake(str(tmp_path / "lake")).write("raw/x", pa.table({"a": list(range(100))}))
    code = (
        "import sys; from dockyard.lake.delta import DeltaLake\n"
        "lake = DeltaLake(sys.argv[1])\n"
        "assert lake.read('raw/x').num_rows == 100\n"
        "assert sum(b.num_rows for b in lake.scan('raw/x')) == 100\n"
    )
    codes = [
        subprocess.run([sys.executable, "-c", code, str(tmp_path / "lake")], timeout=60).returncode
        for _ in range(6)
    ]
    assert codes == [0] * 6
