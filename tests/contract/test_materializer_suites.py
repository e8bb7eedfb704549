"""The Materializer contract (:mod:`dockyard.testing.materializer`) on every built-in one.

Materializers: builtins (JSON), numpy, pandas, sklearn (skops), cloudpickle.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest

from dockyard.artifacts.materializers.base import Materializer
from dockyard.artifacts.materializers.builtins import JsonMaterializer
from dockyard.artifacts.materializers.numpy import NumpyMaterializer
from dockyard.artifacts.materializers.pandas import PandasMaterializer
from dockyard.artifacts.materializers.pickle import CloudpickleMaterializer
from dockyard.artifacts.materializers.sklearn import SkopsMaterializer
from dockyard.testing import MaterializerContract


class TestJson(MaterializerContract):
    @pytest.fixture
    def materializer(self) -> Materializer:
        return JsonMaterializer()

    @pytest.fixture
    def samples(self) -> Sequence[Any]:
        return [
            None,
            True,
            3,
            2.5,
            float("inf"),
            "héllo ✓",
            [1, "a", None, [2.0]],
            (1, (2, 3), [4]),
            {"a": [1, 2], "b": {"c": None}},
            {1: "a", (2, 3): "b", "t": (1,)},
        ]

    @pytest.fixture
    def unsupported_values(self) -> Sequence[Any]:
        return [{1, 2}, collections.Counter("abca"), {"k": object()}, [1, {2}]]


class TestNumpy(MaterializerContract):
    @pytest.fixture
    def materializer(self) -> Materializer:
        return NumpyMaterializer()

    @pytest.fixture
    def samples(self) -> Sequence[Any]:
        return [
            np.arange(6, dtype=np.int32).reshape(2, 3),
            np.asfortranarray(np.linspace(0.0, 1.0, 12).reshape(3, 4)),
            np.array([1.5, np.nan, -np.inf]),
            np.array(["a", "bcd"]),
            np.array([True, False]),
            np.zeros((0, 3)),
            np.float64(0.5),
            np.int16(7),
        ]

    @pytest.fixture
    def unsupported_values(self) -> Sequence[Any]:
        return [
            np.array([object(), 1], dtype=object),
            np.ma.masked_array([1, 2], mask=[False, True]),
        ]

    def assert_same(self, loaded: Any, original: Any) -> None:
        assert np.asarray(loaded).dtype == np.asarray(original).dtype
        np.testing.assert_array_equal(loaded, original)
        if isinstance(original, np.ndarray):
            assert loaded.shape == original.shape
            assert loaded.flags.f_contiguous == original.flags.f_contiguous


class _Frame(pd.DataFrame):
    """A DataFrame subclass: Parquet would hand it back as a plain DataFrame."""


class TestPandas(MaterializerContract):
    @pytest.fixture
    def materializer(self) -> Materializer:
        return PandasMaterializer()

    @pytest.fixture
    def samples(self) -> Sequence[Any]:
        frame = pd.DataFrame(
            {
                "n": [1, 2, 3],
                "x": [0.5, np.nan, 2.0],
                "s": ["a", "b", "c"],
                "c": pd.Categorical(["u", "v", "u"]),
                "t": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]).tz_localize(UTC),
                "k": pd.array([1, None, 3], dtype="Int64"),
            },
            index=pd.Index([10, 20, 30], name="id"),
        )
        return [
            frame,
            pd.DataFrame({"a": [1.0]}),
            pd.Series([1.0, 2.0], name="y"),
            pd.Series(["p", "q"], name=3),
            pd.Series([1, 2]),
        ]

    @pytest.fixture
    def unsupported_values(self) -> Sequence[Any]:
        return [
            pd.DataFrame([[1, 2]], columns=["a", "a"]),
            pd.DataFrame({"a": [1, "x", object()]}),
            _Frame({"a": [1]}),
        ]

    def assert_same(self, loaded: Any, original: Any) -> None:
        if isinstance(original, pd.DataFrame):
            pd.testing.assert_frame_equal(loaded, original)
        else:
            pd.testing.assert_series_equal(loaded, original)


def _user_function(x: Any) -> Any:
    return x


_X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0], [0.5, 0.2], [2.5, 2.1]])
_Y = np.array([0, 0, 1, 1, 0, 1])


class TestSklearn(MaterializerContract):
    # skops archives name their entries by object id and stamp them with the save time:
    # the same estimator saved twice gives different bytes, so its artifacts are never
    # deduplicated by content.
    deterministic = False

    @pytest.fixture
    def materializer(self) -> Materializer:
        return SkopsMaterializer()

    @pytest.fixture
    def samples(self) -> Sequence[Any]:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return [
            LogisticRegression().fit(_X, _Y),
            make_pipeline(StandardScaler(), LogisticRegression()).fit(_X, _Y),
            StandardScaler().fit(_X),
        ]

    @pytest.fixture
    def unsupported_values(self) -> Sequence[Any]:
        from sklearn.preprocessing import FunctionTransformer

        # Loading it would import and trust a function from the user's module.
        return [FunctionTransformer(func=_user_function).fit(_X)]

    def assert_same(self, loaded: Any, original: Any) -> None:
        assert repr(loaded) == repr(original)
        if hasattr(original, "predict_proba"):
            np.testing.assert_array_equal(loaded.predict_proba(_X), original.predict_proba(_X))
        else:
            np.testing.assert_array_equal(loaded.transform(_X), original.transform(_X))


class Point(NamedTuple):
    x: int
    y: int


@dataclasses.dataclass
class Config:
    name: str
    weights: list[float]


def _numbers() -> Iterator[int]:
    yield 1


class TestCloudpickle(MaterializerContract):
    loading_runs_code = True

    @pytest.fixture
    def materializer(self) -> Materializer:
        return CloudpickleMaterializer()

    @pytest.fixture
    def samples(self) -> Sequence[Any]:
        return [
            {1, 2, 3},
            frozenset({4, 5}),
            collections.Counter([1, 1, 2]),
            1 + 2j,
            Decimal("1.10"),
            datetime(2024, 5, 1, 12, tzinfo=UTC),
            Point(1, 2),
            Config("c", [0.5, 1.5]),
        ]

    @pytest.fixture
    def unsupported_values(self) -> Sequence[Any]:
        return [threading.Lock(), _numbers()]
