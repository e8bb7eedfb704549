"""Analysis: each criterion passes and fails with its figures, never passes without evidence."""

from __future__ import annotations

import math
import random
from types import MappingProxyType

import pytest

from dockyard.errors import RolloutError
from dockyard.rollout.analysis import (
    AnalysisConfig,
    Outcome,
    analyze,
    js_distance,
    prediction_divergence,
    score_histograms,
)
from dockyard.rollout.metrics import VersionSnapshot


def snap(
    version: str,
    requests: int = 1000,
    errors: int = 0,
    p99_ms: float | None = 20.0,
    classes: dict[str, int] | None = None,
    scores: tuple[float, ...] = (),
) -> VersionSnapshot:
    classes = {"0": requests // 2, "1": requests - requests // 2} if classes is None else classes
    return VersionSnapshot(
        version=version,
        requests=requests,
        errors=errors,
        p99_ms=p99_ms,
        classes=MappingProxyType(classes),
        scores=scores,
        score_count=len(scores),
        predictions=sum(classes.values()) + len(scores),
    )


CONFIG = AnalysisConfig(max_error_rate=0.01, max_p99_ms=50, max_divergence=0.1, min_requests=200)


def test_a_good_candidate_passes_with_every_figure() -> None:
    verdict = analyze(snap("1"), snap("2", requests=300, errors=1, p99_ms=30.0), CONFIG)
    assert verdict.outcome is Outcome.PASS and verdict.passed
    assert "passed over 300 requests" in verdict.reason
    assert [c.name for c in verdict.checks] == ["error_rate", "p99", "divergence"]
    figures = verdict.figures
    assert figures["candidate_requests"] == 300
    assert figures["candidate_error_rate"] == pytest.approx(1 / 300)
    assert figures["stable_p99_ms"] == 20.0 and figures["candidate_p99_ms"] == 30.0
    assert figures["divergence"] == pytest.approx(0.0, abs=0.01)
    assert verdict.to_dict()["outcome"] == "pass"


def test_error_rate_over_the_limit_fails_with_the_figures() -> None:
    verdict = analyze(snap("1"), snap("2", requests=300, errors=60), CONFIG)
    assert verdict.failed
    assert verdict.reason == "error rate 20.00% (60 of 300 requests) is over the limit of 1.00%"


def test_p99_over_the_limit_fails() -> None:
    verdict = analyze(snap("1"), snap("2", requests=300, p99_ms=180.0), CONFIG)
    assert verdict.failed
    assert verdict.reason == "p99 latency 180.0 ms is over the limit of 50 ms"


def test_constant_class_fails_on_divergence_although_it_never_errs() -> None:
    constant = snap("2", requests=300, classes={"0": 300})
    verdict = analyze(snap("1"), constant, CONFIG)
    assert verdict.failed
    assert "prediction divergence" in verdict.reason and "over the limit of 0.1" in verdict.reason
    assert verdict.figures["divergence"] > 0.5
    assert verdict.figures["candidate_error_rate"] == 0.0


def test_every_failing_criterion_is_named() -> None:
    bad = snap("2", requests=300, errors=60, p99_ms=500.0, classes={"9": 240})
    verdict = analyze(snap("1"), bad, CONFIG)
    assert verdict.failed
    for words in ("error rate", "p99 latency", "divergence"):
        assert words in verdict.reason


def test_too_few_candidate_requests_is_inconclusive_never_pass() -> None:
    verdict = analyze(snap("1"), snap("2", requests=199), CONFIG)
    assert verdict.inconclusive
    assert "199 requests" in verdict.reason and "200 are needed" in verdict.reason
    # even a terrible candidate is not judged without evidence
    assert analyze(snap("1"), snap("2", requests=10, errors=10), CONFIG).inconclusive
    # and an empty window is not a pass
    empty = VersionSnapshot("2")
    assert analyze(VersionSnapshot("1"), empty, AnalysisConfig(min_requests=1)).inconclusive


def test_too_few_stable_requests_makes_comparisons_inconclusive() -> None:
    verdict = analyze(snap("1", requests=50), snap("2", requests=300), CONFIG)
    assert verdict.inconclusive
    assert "stable 1 has 50 requests" in verdict.reason


def test_a_failure_wins_over_an_inconclusive_check() -> None:
    verdict = analyze(snap("1", requests=50), snap("2", requests=300, errors=100), CONFIG)
    assert verdict.failed
    assert "error rate" in verdict.reason


def test_relative_thresholds_compare_with_stable() -> None:
    config = AnalysisConfig(max_error_rate=2.0, max_p99_ms=1.5, min_requests=200, relative=True)
    stable = snap("1", errors=20, p99_ms=40.0)  # 2% errors, p99 40 ms
    assert analyze(stable, snap("2", requests=300, errors=9, p99_ms=55.0), config).passed
    slow = analyze(stable, snap("2", requests=300, errors=9, p99_ms=61.0), config)
    assert slow.failed and "1.5x the stable p99 (40.0 ms)" in slow.reason
    erring = analyze(stable, snap("2", requests=300, errors=15, p99_ms=40.0), config)
    assert erring.failed and "2x the stable error rate (2.00%)" in erring.reason
    # a stable version without errors counts as one error in its requests
    clean = snap("1", requests=1000, errors=0)
    assert analyze(clean, snap("2", requests=1000, errors=2), config).passed
    assert analyze(clean, snap("2", requests=1000, errors=3), config).failed


def test_relative_can_be_chosen_per_threshold() -> None:
    config = AnalysisConfig(max_error_rate=0.01, max_p99_ms=2, min_requests=100, relative={"p99"})
    assert config.relative == frozenset({"p99"})
    stable = snap("1", p99_ms=100.0)
    assert analyze(stable, snap("2", requests=200, p99_ms=150.0), config).passed
    verdict = analyze(stable, snap("2", requests=200, errors=5, p99_ms=150.0), config)
    assert verdict.failed and "limit of 1.00%" in verdict.reason
    with pytest.raises(RolloutError, match="cannot be relative"):
        AnalysisConfig(relative={"divergence"})


def test_known_js_distances() -> None:
    assert js_distance([1, 0], [1, 0]) == 0.0
    assert js_distance([5, 0], [0, 7]) == pytest.approx(1.0)
    # P = (1/2, 1/2), Q = (1, 0): JSD = H(3/4, 1/4) - 1/2 = 0.311278..., distance = sqrt
    expected = math.sqrt(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)) - 0.5)
    assert js_distance([1, 1], [1, 0]) == pytest.approx(expected)
    assert js_distance({"a": 1, "b": 1}, {"a": 2}) == pytest.approx(expected)
    assert js_distance([10, 20, 30], [1, 2, 3]) == pytest.approx(0.0, abs=1e-9)
    # symmetric, and smoothing pulls disjoint samples below 1
    assert js_distance([3, 1], [1, 2]) == pytest.approx(js_distance([1, 2], [3, 1]))
    assert js_distance([5, 0], [0, 5], smoothing=0.5) < 1.0
    with pytest.raises(RolloutError, match="empty"):
        js_distance([0, 0], [1, 0])
    with pytest.raises(RolloutError, match="same bins"):
        js_distance([1, 2], [1, 2, 3])


def test_score_divergence_uses_common_bins() -> None:
    rng = random.Random(1)
    a = tuple(rng.gauss(0, 1) for _ in range(2000))
    b = tuple(rng.gauss(0, 1) for _ in range(2000))
    shifted = tuple(rng.gauss(3, 1) for _ in range(2000))
    ref, other = score_histograms(a, b, bins=10)
    assert len(ref) == len(other) == 10 and sum(ref) == sum(other) == 2000
    same = prediction_divergence(snap("1", classes={}, scores=a), snap("2", classes={}, scores=b))
    far = prediction_divergence(
        snap("1", classes={}, scores=a), snap("2", classes={}, scores=shifted)
    )
    assert same is not None and same < 0.1
    assert far is not None and far > 0.7
    assert prediction_divergence(snap("1", classes={}), snap("2")) is None


def test_no_candidate_predictions_is_inconclusive_for_divergence() -> None:
    config = AnalysisConfig(max_divergence=0.2, min_requests=100)
    verdict = analyze(snap("1"), snap("2", requests=200, classes={}), config)
    assert verdict.inconclusive
    assert "no predictions were recorded for version 2" in verdict.reason


def test_hooks_add_custom_checks() -> None:
    def enough_agreement(stable: VersionSnapshot, candidate: VersionSnapshot) -> tuple[bool, str]:
        return candidate.requests > 250, f"custom check saw {candidate.requests} requests"

    def abstain(stable: VersionSnapshot, candidate: VersionSnapshot) -> tuple[None, str]:
        return None, "business metric not in yet"

    def broken(stable: VersionSnapshot, candidate: VersionSnapshot) -> tuple[bool, str]:
        raise ZeroDivisionError("oops")

    good = snap("2", requests=300)
    assert analyze(snap("1"), good, CONFIG, hooks=[enough_agreement]).passed
    failing = analyze(snap("1"), snap("2", requests=240), CONFIG, hooks=[enough_agreement])
    assert failing.failed and failing.reason == "custom check saw 240 requests"
    waiting = analyze(snap("1"), good, CONFIG, hooks=[abstain])
    assert waiting.inconclusive and waiting.reason == "business metric not in yet"
    crashed = analyze(snap("1"), good, CONFIG, hooks=[broken])
    assert crashed.failed and "hook broken raised ZeroDivisionError: oops" in crashed.reason
    with pytest.raises(RolloutError, match="callable"):
        analyze(snap("1"), good, CONFIG, hooks=["not callable"])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_error_rate": -0.01}, "max_error_rate must not be negative; got -0.01"),
        ({"max_p99_ms": -5}, "max_p99_ms must not be negative; got -5"),
        ({"max_divergence": -0.1}, "max_divergence must not be negative"),
        ({"max_error_rate": 5}, "fraction from 0 to 1"),
        ({"max_divergence": 2}, "from 0 to 1"),
        ({"max_p99_ms": float("nan")}, "finite"),
        ({"max_p99_ms": "fast"}, "must be a number"),
        ({"min_requests": 0}, "min_requests must be a whole number >= 1"),
        ({"failure_limit": 0}, "failure_limit must be a whole number >= 1"),
        ({"smoothing": -1}, "smoothing must not be negative"),
    ],
)
def test_bad_thresholds_are_rejected_with_a_clear_message(kwargs: dict, message: str) -> None:
    with pytest.raises(RolloutError, match=message.replace("(", r"\(")):
        AnalysisConfig(**kwargs)


def test_config_round_trips_through_a_dict() -> None:
    config = AnalysisConfig(max_error_rate=0.02, max_p99_ms=1.2, relative={"p99"}, failure_limit=3)
    assert AnalysisConfig.from_dict(config.to_dict()) == config
    with pytest.raises(RolloutError, match="Unknown analysis setting"):
        AnalysisConfig.from_dict({"max_errors": 1})
