"""Drift against the training profile: quiet on data like the training sample, loud on
shifted inputs, with the divergence math rollout analysis uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from dockyard.divergence import histogram, js_distance, psi, quantile_edges
from dockyard.registry.profile import build_profile
from dockyard.runtime.drift import DriftMonitor

FEATURES = ["f0", "f1"]


@pytest.fixture(scope="module")
def fitted() -> tuple[LogisticRegression, dict]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(5000, 2)), columns=FEATURES)
    y = (x.f0 + x.f1 > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    return model, build_profile(x, model.predict(x))


def _window(model: LogisticRegression, monitor: DriftMonitor, shift: float, seed: int):
    rng = np.random.default_rng(seed)
    report = None
    for _ in range(10):  # batches of 100 rows: the window of 1,000 fills on the last
        x = pd.DataFrame(rng.normal(loc=shift, size=(100, 2)), columns=FEATURES)
        report = monitor.add({c: x[c].to_numpy() for c in FEATURES}, model.predict(x))
    return report


def test_the_profile_records_predictions_and_numeric_inputs(fitted) -> None:
    _, profile = fitted
    assert profile["rows"] == 5000
    assert profile["predictions"]["kind"] == "classes"
    assert sum(profile["predictions"]["counts"].values()) == 5000
    assert set(profile["features"]) == set(FEATURES)
    assert sum(profile["features"]["f0"]["counts"]) == 5000
    assert len(profile["features"]["f0"]["edges"]) == 9


def test_data_like_the_training_sample_does_not_drift(fitted) -> None:
    model, profile = fitted
    report = _window(model, DriftMonitor(profile, window=1000), shift=0.0, seed=1)
    assert report is not None and report.rows == 1000
    assert not report.drifted, report.reasons
    assert report.prediction_js is not None and report.prediction_js < 0.1


def test_shifted_inputs_drift_and_say_why(fitted) -> None:
    model, profile = fitted
    report = _window(model, DriftMonitor(profile, window=1000), shift=2.0, seed=2)
    assert report is not None and report.drifted
    assert any("input 'f0': PSI" in r for r in report.reasons)
    assert report.features["f1"]["psi"] > 0.25
    assert report.to_dict()["drifted"] is True


def test_no_report_until_the_window_fills(fitted) -> None:
    model, profile = fitted
    monitor = DriftMonitor(profile, window=1000)
    x = pd.DataFrame(np.zeros((999, 2)), columns=FEATURES)
    assert monitor.add({c: x[c].to_numpy() for c in FEATURES}, model.predict(x)) is None
    with pytest.raises(ValueError, match="at least 1 row"):
        DriftMonitor(profile, window=0)


def test_divergence_basics() -> None:
    assert js_distance([1, 0], [1, 0]) == 0.0
    assert psi([10, 10], [10, 10]) == pytest.approx(0.0)
    assert psi([50, 50], [90, 10]) > 0.25
    edges = quantile_edges(range(100), bins=4)
    assert edges == [25, 50, 75]
    assert histogram([0, 30, 60, 99], edges) == [1, 1, 1, 1]
