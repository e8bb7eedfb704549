"""Fixtures of the serving integration tests (helpers live in serving_support)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from serving_support import BODY_LIMIT, Iris, Server, runtimes
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from dockyard.serving import ServeConfig, create_app


@pytest.fixture(scope="session")
def iris() -> Iris:
    data = load_iris(as_frame=True)
    frame = data.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    x, y = frame.to_numpy(), data.target.to_numpy()
    return Iris(
        x=x,
        frame=frame,
        y=y,
        model=LogisticRegression(max_iter=500).fit(x, y),
        old_model=DecisionTreeClassifier(max_depth=1, random_state=0).fit(x, y),
    )


@pytest.fixture(scope="module")
def server(iris: Iris) -> Iterator[Server]:
    app = create_app(runtimes(iris), ServeConfig(max_body_bytes=BODY_LIMIT, max_latency_ms=5))
    with Server(app) as s:
        yield s


@pytest.fixture(scope="module")
def auth_server(iris: Iris) -> Iterator[Server]:
    app = create_app(runtimes(iris)[:1], ServeConfig(token="s3cret"))
    with Server(app) as s:
        yield s
