"""The quickstart pipeline: read iris from the lake, split, train, evaluate and register.

The training data is a lake table, ``raw/iris``: :func:`land_raw_data` writes it once
(the quickstart's ``run.py`` calls it). The ``load`` step declares it as a parameter, so
the run pins its version, the version is part of the cache key, and the model version's
lineage names it (``dockyard models show iris:1``: ``trained on lake://raw/iris@0``).

Run it with ``dockyard run examples/quickstart/pipeline.py:training -p C=0.5``, or from
Python: ``training(C=0.5)``.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import dockyard.lake
from dockyard import pipeline, register_model, step
from dockyard.lake import DatasetRef

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
RAW = "raw/iris"


def land_raw_data() -> int:
    """Write the iris data set that ships with scikit-learn (nothing is downloaded) to the
    lake as ``raw/iris``, once; returns its latest version."""
    lake = dockyard.lake.open()
    if lake.exists(RAW):
        return lake.latest_version(RAW)
    data = load_iris(as_frame=True)
    df = data.frame.rename(columns=dict(zip(data.feature_names, FEATURES, strict=True)))
    return lake.write(RAW, df)


@step
def load(data: DatasetRef = dockyard.lake.ref(RAW)) -> pd.DataFrame:
    """The training data, at the version the run pinned."""
    df = dockyard.lake.open().read(data.name, version=data.version).to_pandas()
    print(f"loaded {len(df)} rows from {data}")
    return df


@step(retries=2, retry_backoff_s=0.5)
def split(
    df: pd.DataFrame, test_size: float = 0.3, seed: int = 42
) -> tuple[Annotated[pd.DataFrame, "train"], Annotated[pd.DataFrame, "test"]]:
    train, test = train_test_split(df, test_size=test_size, random_state=seed, stratify=df.target)
    return train.reset_index(drop=True), test.reset_index(drop=True)


@step
def train(train: pd.DataFrame, C: float = 1.0) -> Annotated[Pipeline, "model"]:
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500))
    model.fit(train[FEATURES], train.target)
    return model


@step
def evaluate(model: Pipeline, test: pd.DataFrame) -> Annotated[dict, "metrics"]:
    predicted = model.predict(test[FEATURES])
    metrics = {
        "accuracy": float(accuracy_score(test.target, predicted)),
        "f1_macro": float(f1_score(test.target, predicted, average="macro")),
    }
    print(f"metrics: {metrics}")
    return metrics


@step
def register(model: Pipeline, metrics: dict, train: pd.DataFrame) -> Annotated[int, "version"]:
    """Register the model with its metrics; the signature is inferred from the features."""
    version = register_model(
        "iris", model, metrics=metrics, sample=train[FEATURES], description="quickstart"
    )
    return version.version


@pipeline
def training(C: float = 1.0) -> None:
    df = load()
    tr, te = split(df)
    model = train(tr, C=C)
    metrics = evaluate(model, te)
    register(model, metrics, tr)
