"""Fixtures of the batch scoring tests: a project with two versions of a model and a
customers table in its lake (helpers live in batch_support)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_support import FEATURES, Scoring, customers, write_table
from sklearn.linear_model import LogisticRegression

from dockyard.registry import register_model
from dockyard.stacks.stack import clear_cache


@pytest.fixture
def scoring(project: Path) -> Iterator[Scoring]:
    import dockyard.lake

    clear_cache()
    frame = customers()
    x, y = frame[FEATURES], (frame.f0 + frame.f1 > 0).astype(int)
    register_model("churn", LogisticRegression().fit(x, y), sample=x, aliases=["production"])
    register_model("churn", LogisticRegression().fit(x, 1 - y), sample=x)  # v2: the opposite
    lake = dockyard.lake.open()
    write_table(lake, "curated/customers", frame)
    yield Scoring(project, frame, lake)
    clear_cache()
