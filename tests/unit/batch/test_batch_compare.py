"""The blue/green comparison's figures come from the rollout analysis."""

from __future__ import annotations

import numpy as np
import pytest

from dockyard.batch.comparison import compare_predictions
from dockyard.rollout.analysis import js_distance


def test_class_predictions() -> None:
    agreement, divergence, classes, _, _ = compare_predictions(
        np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2])
    )
    assert agreement == 0.75
    assert [(c.label, c.count_a, c.count_b) for c in classes] == [
        ("0", 1, 1),
        ("1", 2, 1),
        ("2", 1, 2),
    ]
    # The rollout's divergence (with its smoothing of 0.5 per bin).
    assert divergence == pytest.approx(
        js_distance({"c:0": 1, "c:1": 2, "c:2": 1}, {"c:0": 1, "c:1": 1, "c:2": 2}, smoothing=0.5)
    )
    assert classes[1].share_difference(4) == -0.25


def test_identical_versions_agree() -> None:
    a = np.array(["yes", "no", "yes"])
    agreement, divergence, _, _, _ = compare_predictions(a, a.copy())
    assert (agreement, divergence) == (1.0, 0.0)


def test_scores_are_compared_with_a_tolerance() -> None:
    agreement, _, classes, scores_a, _ = compare_predictions(
        np.array([0.1, 0.5, 0.9]), np.array([0.1 + 1e-12, 0.6, 0.9])
    )
    assert agreement == pytest.approx(2 / 3)
    assert classes == ()
    assert scores_a == [0.1, 0.5, 0.9]
