"""The FrameworkAdapter contract (:mod:`dockyard.testing.framework_adapter`) on the built-in.

PredictAdapter, with scikit-learn models fitted on a DataFrame (it then wants a frame)
and on a numpy array, and a regressor that has no ``predict_proba``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from dockyard.runtime.adapters import PredictAdapter
from dockyard.testing import FrameworkAdapterContract

_X = np.array([[0.0, 1.0, 3.0], [1.0, 0.0, 2.5], [2.0, 2.0, 0.5], [3.0, 1.0, 0.0], [0.5, 0.2, 2.0]])
_Y = np.array([0, 0, 1, 1, 0])


class TestLogisticRegressionOnFrame(FrameworkAdapterContract):
    adapter_class = PredictAdapter

    @pytest.fixture
    def model(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression().fit(pd.DataFrame(_X, columns=["age", "income", "tenure"]), _Y)

    @pytest.fixture
    def rows(self) -> np.ndarray:
        return _X

    def test_a_frame_fitted_model_wants_a_frame(self, model: Any) -> None:
        """The runtime gives a model fitted on named columns a DataFrame of them, or
        scikit-learn warns on every request that the feature names are missing."""
        assert PredictAdapter(model).wants_frame is True


class TestLogisticRegressionOnArray(FrameworkAdapterContract):
    adapter_class = PredictAdapter

    @pytest.fixture
    def model(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression().fit(_X, _Y)

    @pytest.fixture
    def rows(self) -> np.ndarray:
        return _X


class TestRegressorWithoutProbabilities(FrameworkAdapterContract):
    adapter_class = PredictAdapter
    has_predict_proba = False

    @pytest.fixture
    def model(self) -> Any:
        from sklearn.linear_model import LinearRegression

        return LinearRegression().fit(_X, _X @ np.array([1.0, -2.0, 0.5]))

    @pytest.fixture
    def rows(self) -> np.ndarray:
        return _X
