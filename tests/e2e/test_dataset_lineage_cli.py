"""Dataset lineage as a user sees it: a pipeline reads a lake table, ``runs show`` lists
the dataset versions, ``models show`` names what the model was trained on, and a new
version of the data is a cache miss."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

FLOW = """
from typing import Annotated

import dockyard.lake
from dockyard import pipeline, register_model, step
from dockyard.lake import DatasetRef


@step
def train(data: DatasetRef = dockyard.lake.ref("raw/points")) -> Annotated[int, "version"]:
    from sklearn.linear_model import LogisticRegression

    df = dockyard.lake.open().read(data.name, version=data.version).to_pandas()
    model = LogisticRegression().fit(df[["x"]], df.y)
    return register_model("points", model, sample=df[["x"]]).version


@pipeline
def training(data: DatasetRef = dockyard.lake.ref("raw/points")):
    train(data=data)
"""


def _points(n: int) -> pa.Table:
    return pa.table({"x": [float(i) for i in range(n)], "y": [i % 2 for i in range(n)]})


def test_runs_show_and_models_show_name_the_dataset_versions(cli, project: Path) -> None:
    (project / "lakeflow.py").write_text(FLOW)
    pq.write_table(_points(20), project / "p.parquet")
    cli("lake", "import", "raw/points", "p.parquet")

    out = cli("run", "lakeflow.py:training").stdout
    run_id = next(w for w in out.split() if len(w) == 8 and all(c in "0123456789abcdef" for c in w))
    shown = cli("runs", "show", run_id).stdout
    assert "lake datasets" in shown
    assert "lake://raw/points@0" in shown and "read" in shown

    model = cli("models", "show", "points:1").stdout
    assert "trained on   lake://raw/points@0" in model

    cli("lake", "import", "raw/points", "p.parquet")  # version 1: a cache miss
    cli("run", "lakeflow.py:training")
    assert "trained on   lake://raw/points@1" in cli("models", "show", "points:2").stdout

    pinned = cli("run", "lakeflow.py:training", "-p", "data=raw/points@0").stdout
    assert "cached" in pinned or "hit" in pinned
    bad = cli("run", "lakeflow.py:training", "-p", "data=raw/nothing", ok=False)
    assert bad.returncode == 1
    assert "Step 'train' reads lake://raw/nothing" in bad.stderr
    assert bad.stderr.startswith("Error: ") and "Datasets in raw: raw/points." in bad.stderr
