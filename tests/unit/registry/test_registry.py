"""Registering models from pipelines, references, aliases, and loading them back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from dockyard import Model, pipeline, register_model, step
from dockyard.errors import ModelNotFoundError, RegistryError
from dockyard.registry import ModelRef, get_model_version, load_model, resolve
from dockyard.stacks.stack import clear_cache, load_stack


@pytest.fixture(autouse=True)
def _fresh(project: Path):
    clear_cache()
    yield
    clear_cache()


@step
def data() -> pd.DataFrame:
    frame = load_iris(as_frame=True).frame
    return frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))


def _features(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["target"])


@step
def train_and_register(df: pd.DataFrame, C: float = 1.0) -> Annotated[float, "accuracy"]:
    model = LogisticRegression(C=C, max_iter=500).fit(_features(df), df.target)
    acc = float(model.score(_features(df), df.target))
    register_model("iris", model, metrics={"accuracy": np.float64(acc)}, aliases=["staging"])
    return acc


@step
def train_as_output(df: pd.DataFrame) -> Annotated[Model, "iris-out"]:
    model = LogisticRegression(max_iter=500).fit(_features(df), df.target)
    return Model(model, metrics={"n": len(df)}, description="from an output")


@pipeline
def with_call(C: float = 1.0) -> None:
    train_and_register(data(), C=C)


@pipeline
def with_output() -> None:
    train_as_output(data())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("churn", ModelRef("churn")),
        ("churn:3", ModelRef("churn", version=3)),
        ("churn@production", ModelRef("churn", alias="production")),
        ("my-model.v2@blue_green", ModelRef("my-model.v2", alias="blue_green")),
    ],
)
def test_refs(text: str, expected: ModelRef) -> None:
    assert ModelRef.parse(text) == expected
    assert str(ModelRef.parse(text)) == text


@pytest.mark.parametrize("text", ["", "churn:", "churn:x", "churn@", "a b", "churn:1@x"])
def test_bad_refs(text: str) -> None:
    with pytest.raises(RegistryError, match="Invalid model reference"):
        ModelRef.parse(text)


def test_register_inside_a_step_records_lineage() -> None:
    run = with_call(C=0.5)
    store = load_stack().metadata_store
    v = get_model_version("iris@staging")
    assert (v.version, v.run_id, v.step) == (1, run.id, "train_and_register")
    assert v.metrics["accuracy"] > 0.9
    assert isinstance(v.metrics["accuracy"], float)
    assert "scikit-learn" in v.requirements
    assert "python" in v.requirements
    # lineage back to the training data: the producing step's inputs
    step_run = store.get_step_run(run.id, "train_and_register")
    data_artifact = run.steps["data"].outputs["output"].id
    assert step_run.inputs == {"df": data_artifact}


def test_model_output_registers_under_the_output_name() -> None:
    run = with_output()
    v = get_model_version("iris-out")
    assert v.description == "from an output"
    assert v.metrics == {"n": 150}
    # the registered artifact is the step's stored output: one artifact, not two
    assert run.steps["train_as_output"].outputs["iris-out"].id == v.artifact_id


def test_cached_rerun_does_not_register_again() -> None:
    with_output()
    with_output()
    assert [x.version for x in load_stack().registry_store.list_model_versions("iris-out")] == [1]


def test_load_model_predicts_like_the_original() -> None:
    with_call(C=0.5)
    model = load_model("iris:1")  # the active stack, as MLflow users expect
    X = _features(data.func())
    assert (
        model.predict(X)
        == LogisticRegression(C=0.5, max_iter=500).fit(X, data.func().target).predict(X)
    ).all()


def test_latest_and_alias_resolution() -> None:
    with_call(C=0.5)
    with_call(C=2.0)
    store = load_stack().registry_store
    assert resolve("iris", store).version == 2
    assert resolve("iris@staging", store).version == 2  # aliases move to the new version
    store.set_alias("iris", "production", 1)
    assert resolve("iris@production", store).version == 1
    with pytest.raises(ModelNotFoundError, match="No model named 'ghost'"):
        resolve("ghost@production", store)


def test_register_outside_a_step() -> None:
    model = LogisticRegression(max_iter=200).fit([[0.0], [1.0]], [0, 1])
    v = register_model("tiny", model, metrics={"acc": 1})
    assert (v.version, v.run_id, v.step) == (1, None, None)


def test_bad_metrics_are_refused() -> None:
    model = LogisticRegression(max_iter=200).fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(RegistryError, match="Metric 'curve' is a list"):
        register_model("tiny", model, metrics={"curve": [1, 2]})
