"""What a step's output looks like on its page: metrics, a table's first rows, an image,
the start of a value; pickles and large artifacts are never loaded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from dockyard.dashboard import previews
from dockyard.metadata.base import ArtifactRecord


def record(materializer: str = "builtins", size: int = 10, unsafe: bool = False) -> ArtifactRecord:
    return ArtifactRecord(
        id="a" * 64,
        uri="file:///x",
        content_hash="a" * 64,
        size=size,
        data_type="x",
        materializer=materializer,
        materializer_version="1",
        unsafe=unsafe,
        created_at=datetime.now(UTC),
    )


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    value: list[Any] = [None]
    monkeypatch.setattr(previews, "_load", lambda rec, stack: value[0])
    return value


def test_metrics_tables_images_and_text(loaded: list[Any]) -> None:
    loaded[0] = {"accuracy": 0.9, "n": 3}
    assert previews.preview(record(), None).metrics == {"accuracy": 0.9, "n": 3.0}  # type: ignore[arg-type]
    loaded[0] = pd.DataFrame({"a": range(30), "b": ["x"] * 30})
    p = previews.preview(record(), None)  # type: ignore[arg-type]
    assert (p.kind, p.columns, len(p.rows), p.total_rows) == ("table", ["a", "b"], 10, 30)
    loaded[0] = b"\x89PNG\r\n\x1a\n...."
    assert previews.preview(record(), None).image.startswith("data:image/png;base64,")  # type: ignore[arg-type]
    loaded[0] = {"nested": {"a": 1}}
    assert previews.preview(record(), None).kind == "text"  # type: ignore[arg-type]
    loaded[0] = list(range(10_000))
    assert len(previews.preview(record(), None).text) <= 2001  # type: ignore[arg-type]


def test_pickles_and_large_artifacts_are_not_loaded(loaded: list[Any]) -> None:
    loaded[0] = {"never": 1.0}
    p = previews.preview(record("cloudpickle", unsafe=True), None)  # type: ignore[arg-type]
    assert p.kind == "none" and "pickled" in p.text
    p = previews.preview(record(size=previews.MAX_BYTES + 1), None)  # type: ignore[arg-type]
    assert p.kind == "none" and "too large" in p.text
