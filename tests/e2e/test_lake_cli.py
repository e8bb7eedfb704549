"""``dockyard lake`` as a user drives it: import, list, show, head, history, and each bad
input's one-line message."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq


def _customers(n: int, start: int = 0) -> pa.Table:
    ids = list(range(start, start + n))
    return pa.table(
        {"id": ids, "region": [("EU", "US")[i % 2] for i in ids], "score": [i * 0.5 for i in ids]}
    )


def test_import_ls_show_head_history(cli, project: Path) -> None:
    pq.write_table(_customers(30), project / "c.parquet")
    out = cli("lake", "import", "raw/customers", "c.parquet", "--partition-by", "region").stdout
    assert "Imported 30 rows into raw/customers (version 0)" in out
    pcsv.write_csv(_customers(5, start=30), project / "more.csv")
    assert "(version 1)" in cli("lake", "import", "lake://raw/customers", "more.csv").stdout

    folder = project / "parts"
    folder.mkdir()
    for i in range(3):
        pq.write_table(_customers(4, start=100 + 4 * i), folder / f"part-{i}.parquet")
    assert (
        "Imported 12 rows into curated/customers (version 0)"
        in cli("lake", "import", "curated/customers", "parts").stdout
    )

    listing = cli("lake", "ls").stdout
    assert "raw/customers" in listing and "curated/customers" in listing and "table" in listing
    assert "raw/customers" not in cli("lake", "ls", "curated").stdout

    shown = cli("lake", "show", "raw/customers").stdout
    assert "Dataset raw/customers (table)  version 1" in shown
    assert "35" in shown and "region" in shown and "partitioned by  region" in shown
    assert "score" in shown and "double" in shown

    head = cli("lake", "head", "raw/customers", "-n", "3").stdout
    assert len([line for line in head.splitlines() if line.strip()]) == 4  # header + 3 rows
    assert (
        len(
            [
                line
                for line in cli(
                    "lake", "head", "raw/customers", "--version", "0", "-n", "100"
                ).stdout.splitlines()
                if line.strip()
            ]
        )
        == 31
    )

    history = cli("lake", "history", "raw/customers").stdout
    assert re.search(r"^\s*0\s+\S+ \S+\s+WRITE\s+30\s*$", history, re.M), history
    assert re.search(r"^\s*1\s+\S+ \S+\s+WRITE\s+5\s*$", history, re.M), history

    out = cli("lake", "import", "raw/customers", "more.csv", "--mode", "overwrite").stdout
    assert "(version 2)" in out
    assert "Dataset raw/customers (table)  version 2" in cli("lake", "show", "raw/customers").stdout


def test_file_dataset_shows_in_the_cli(cli, project: Path) -> None:
    import os
    import subprocess
    import sys

    (project / "docs").mkdir()
    (project / "docs" / "a.json").write_text("{}")
    code = "import dockyard.lake; print(dockyard.lake.open().put_files('raw/docs', 'docs'))"
    env = {**os.environ, "DOCKYARD_HOME": str(project)}
    subprocess.run([sys.executable, "-c", code], cwd=project, env=env, check=True, timeout=60)
    assert "raw/docs" in cli("lake", "ls").stdout and "files" in cli("lake", "ls").stdout
    assert "a.json" in cli("lake", "head", "raw/docs").stdout
    assert "PUT FILES" in cli("lake", "history", "raw/docs").stdout


def _error(proc) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr.splitlines()[0]


def test_bad_input_messages(cli, project: Path) -> None:
    pq.write_table(_customers(3), project / "c.parquet")
    cli("lake", "import", "raw/c", "c.parquet")
    assert _error(cli("lake", "show", "raw/nope", ok=False)).startswith(
        "Error: Unknown dataset 'raw/nope' in the lake at "
    )
    assert "Unknown lake zone 'gold'" in _error(cli("lake", "head", "gold/c", ok=False))
    assert "Zones: raw, curated, features, predictions" in _error(
        cli("lake", "ls", "gold", ok=False)
    )
    assert "has no version 7; its versions are 0" in _error(
        cli("lake", "head", "raw/c", "--version", "7", ok=False)
    )
    pq.write_table(pa.table({"id": ["x"], "other": [1]}), project / "bad.parquet")
    msg = _error(cli("lake", "import", "raw/c", "bad.parquet", ok=False))
    assert "does not match the schema of table 'raw/c'" in msg and "other (int64)" in msg
    (project / "x.txt").write_text("hi")
    assert "give a .parquet or .csv file" in _error(
        cli("lake", "import", "raw/t", "x.txt", ok=False)
    )
    assert "no such file or folder" in _error(
        cli("lake", "import", "raw/t", "missing.parquet", ok=False)
    )
    assert "--mode 'merge'" in _error(
        cli("lake", "import", "raw/t", "c.parquet", "--mode", "merge", ok=False)
    )
    assert "Bad dataset name 'c'" in _error(cli("lake", "history", "c", ok=False))


def test_help_texts(cli) -> None:
    out = cli("lake", "--help").stdout
    for command in ("ls", "show", "head", "history", "import"):
        assert command in out
    assert "--partition-by" in cli("lake", "import", "--help").stdout
