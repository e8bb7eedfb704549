"""Fixtures of the stream-scoring tests: a project with ``churn@production`` registered,
and fresh topics on each broker (helpers live in events_support)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from events_support import FEATURES, Stream

from dockyard.stacks.stack import clear_cache


@pytest.fixture
def churn(project: Path) -> Iterator[Path]:
    """A project where churn@production is a logistic regression on f0..f3."""
    from sklearn.linear_model import LogisticRegression

    from dockyard.registry import register_model

    clear_cache()
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(500, 4)), columns=FEATURES)
    y = (x.f0 + x.f1 > 0).astype(int)
    register_model("churn", LogisticRegression().fit(x, y), sample=x, aliases=["production"])
    yield project
    clear_cache()


@pytest.fixture(params=["redis", "nats", "rabbitmq"])
def broker_url(request: pytest.FixtureRequest) -> str:
    """Each real broker in turn (marked, so ``-m 'not nats'`` leaves one out)."""
    name = request.param
    request.applymarker(getattr(pytest.mark, name))
    return str(request.getfixturevalue(f"{name}_url"))


@pytest.fixture
def stream(broker_url: str) -> Iterator[Stream]:
    """Fresh topics on the broker; ``ack_wait=2`` in the URL (before any group exists: a
    NATS consumer keeps the ack_wait it was created with), so a killed consumer's
    messages come back within seconds."""
    s = Stream.fresh(broker_url + ("&" if "?" in broker_url else "?") + "ack_wait=2")
    s.prepare()
    yield s
    s.clean()
