"""Lake datasets in steps: declared as parameters, pinned at planning, part of the cache
key, and every read and write recorded in lineage as (dataset, version)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import pytest

import dockyard.lake
from dockyard import pipeline, register_model, step
from dockyard.errors import DatasetNotFoundError, LakeError, ParameterError
from dockyard.lake import DatasetRef
from dockyard.registry import training_datasets
from dockyard.stacks.stack import clear_cache, load_stack

executions: list[str] = []


@pytest.fixture(autouse=True)
def _fresh(project: Path):
    executions.clear()
    clear_cache()
    yield
    clear_cache()


def _write(rows: int, mode: str = "append") -> int:
    frame = pd.DataFrame({"x": [float(i) for i in range(rows)], "y": [i % 2 for i in range(rows)]})
    return dockyard.lake.open().write("curated/points", frame, mode=mode)  # type: ignore[arg-type]


@step
def load(data: DatasetRef = dockyard.lake.ref("curated/points")) -> pd.DataFrame:
    executions.append(f"load {data}")
    return dockyard.lake.open().read(data.name, version=data.version).to_pandas()


@step
def enrich(df: pd.DataFrame) -> Annotated[int, "rows"]:
    lake = dockyard.lake.open()
    lake.read("curated/points")  # an undeclared read of the latest version
    return lake.write("features/points", df.assign(z=df.x * 2), mode="overwrite")


@step
def fit(df: pd.DataFrame) -> Annotated[int, "version"]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(df[["x"]], df.y)
    return register_model("points", model, sample=df[["x"]]).version


@pipeline
def training() -> None:
    df = load()
    enrich(df)
    fit(df)


@pipeline
def pinned(data: DatasetRef = dockyard.lake.ref("curated/points@0")) -> None:
    load(data=data)


@pipeline
def by_text(data: str = "curated/points") -> None:
    load(data=data)


def _uses(run_id: str) -> list[tuple[str | None, str, int, str]]:
    uses = load_stack().metadata_store.list_dataset_uses(run_id)
    return [(u.step, u.dataset, u.version, u.direction) for u in uses]


def test_reads_and_writes_are_recorded_with_their_versions() -> None:
    """The run names every dataset version its steps read and wrote."""
    _write(10)
    run = training()
    assert _uses(run.id) == [
        ("load", "curated/points", 0, "input"),
        ("enrich", "curated/points", 0, "input"),
        ("enrich", "features/points", 0, "output"),
    ]
    assert run.record.spec["invocations"]["load"]["params"]["data"] == {
        "$dataset": "lake://curated/points@0"
    }


def test_the_version_is_part_of_the_cache_key() -> None:
    """The same version is a cache hit (and its lineage is carried over); a new version is
    a miss that reads it."""
    _write(10)
    first = training()
    second = training()
    assert executions == ["load lake://curated/points@0"]
    assert second.steps["load"].cache_hit
    assert _uses(second.id)[0] == ("load", "curated/points", 0, "input")

    _write(5)
    third = training()
    assert executions[-1] == "load lake://curated/points@1"
    assert not third.steps["load"].cache_hit
    assert ("load", "curated/points", 1, "input") in _uses(third.id)
    assert first.id != third.id


def test_a_pinned_version_stays_pinned() -> None:
    """``@N`` reads that version even after newer ones land."""
    _write(10)
    _write(5)
    run = pinned()
    assert executions == ["load lake://curated/points@0"]
    assert _uses(run.id) == [("load", "curated/points", 0, "input")]
    assert run.steps["load"].outputs["output"].load().shape[0] == 10


def test_text_for_a_dataset_parameter_is_a_reference() -> None:
    """A parameter annotated ``DatasetRef`` takes text (``-p data=curated/points@0``)."""
    _write(10)
    _write(3)
    run = by_text(data="curated/points@1")
    assert _uses(run.id) == [("load", "curated/points", 1, "input")]


def test_bad_reference_text_names_the_parameter() -> None:
    with pytest.raises(ParameterError, match=r"Parameter 'data' of step 'load'.*lake://ZONE/NAME"):
        by_text(data="points")


def test_a_missing_dataset_fails_before_any_step_runs() -> None:
    """Planning resolves the version: an unknown dataset names the step and parameter, and
    nothing runs."""
    with pytest.raises(DatasetNotFoundError, match=r"Step 'load' reads lake://curated/points"):
        training()
    assert executions == []
    assert load_stack().metadata_store.list_runs() == []


def test_an_unknown_zone_names_the_zones() -> None:
    @pipeline
    def wrong_zone() -> None:
        load(data=dockyard.lake.ref("bronze/points"))

    with pytest.raises(LakeError, match=r"Unknown lake zone 'bronze'.*raw, curated"):
        wrong_zone()


def test_model_version_lineage_names_the_training_data() -> None:
    """A model version's lineage names the dataset versions read upstream of the step
    that registered it (``dockyard models show``), not what sibling steps wrote."""
    _write(10)
    run = training()
    version = run.steps["fit"].outputs["version"].load()
    used = training_datasets(f"points:{version}")
    assert [(u.dataset, u.version, u.step) for u in used] == [("curated/points", 0, "load")]
    assert used[0].ref == "lake://curated/points@0"


def test_a_model_registered_outside_a_run_has_no_training_data() -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    record = register_model("points", model)
    assert training_datasets(record) == []


def test_outside_a_step_nothing_is_recorded() -> None:
    """The lake handed out outside a step is the stack's own, not a recording view."""
    lake = dockyard.lake.open()
    assert type(lake).__name__ == "DeltaLake"
