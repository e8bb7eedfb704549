"""Per-version live metrics: counts, latency percentiles, predictions, windows."""

from __future__ import annotations

import random
import threading

import pytest

from dockyard.rollout.metrics import (
    RESERVOIR_SIZE,
    LatencyHistogram,
    MetricsSnapshot,
    RolloutMetrics,
    summarize_predictions,
)


def test_latency_percentiles_are_within_two_percent() -> None:
    rng = random.Random(3)
    values = [rng.expovariate(1 / 20) for _ in range(20_000)]
    hist = LatencyHistogram()
    for v in values:
        hist.record(v)
    values.sort()
    for q in (50, 90, 99):
        exact = values[int(len(values) * q / 100) - 1]
        assert hist.percentile(q) == pytest.approx(exact, rel=0.03)
    assert hist.percentile(100) == pytest.approx(values[-1])
    assert LatencyHistogram().percentile(99) is None


def test_predictions_split_into_classes_and_scores() -> None:
    classes, scores = summarize_predictions([0, 1, 1, "cat", True, 0.25, [0.1, 0.9], None])
    assert classes == {"0": 1, "1": 3, "cat": 1, "true": 1}  # [0.1, 0.9] is class 1
    assert scores == [0.25]
    classes, _ = summarize_predictions([[0.2, 0.7, 0.1]])
    assert classes == {"1": 1}


def test_records_and_snapshots_per_version() -> None:
    metrics = RolloutMetrics()
    for i in range(100):
        metrics.record("1", latency_ms=float(i + 1), error=False, predictions=[i % 2])
    metrics.record("2", latency_ms=5.0, error=True, failover=True)
    metrics.record("2", latency_ms=None, error=True)
    snap = metrics.snapshot()
    one, two = snap["1"], snap["2"]
    assert (one.requests, one.errors, one.predictions) == (100, 0, 100)
    assert dict(one.classes) == {"0": 50, "1": 50}
    assert one.p50_ms == pytest.approx(50, rel=0.03)
    assert one.p99_ms == pytest.approx(99, rel=0.03)
    assert (two.requests, two.errors, two.failovers, two.error_rate) == (2, 2, 1, 1.0)
    assert snap["unknown"].requests == 0 and "unknown" not in snap
    with pytest.raises(TypeError):
        one.classes["0"] = 3  # type: ignore[index]
    with pytest.raises(AttributeError):
        one.requests = 5  # type: ignore[misc]


def test_windows_rotate_atomically_and_keep_totals() -> None:
    metrics = RolloutMetrics()
    metrics.record("1", latency_ms=1.0, error=True)
    closed = metrics.rotate()
    assert closed["1"].requests == 1
    assert metrics.snapshot()["1"].requests == 0
    metrics.record("1", latency_ms=1.0, error=False)
    metrics.reset_window()
    metrics.record("1", latency_ms=1.0, error=False)
    now = metrics.snapshot()["1"]
    assert (now.requests, now.errors, now.total_requests, now.total_errors) == (1, 0, 3, 1)


def test_shadow_records_agreement() -> None:
    metrics = RolloutMetrics()
    metrics.record_shadow(
        "3", latency_ms=7.0, error=False, predictions=[1, 1], agreed=1, compared=2
    )
    metrics.record_shadow(
        "3", latency_ms=9.0, error=False, predictions=[0, 1], agreed=2, compared=2
    )
    shadow = metrics.snapshot()["3"]
    assert (shadow.mirrored, shadow.compared, shadow.agreed) == (2, 4, 3)
    assert shadow.agreement_rate == 0.75
    assert metrics.snapshot()["1"].agreement_rate is None


def test_scores_are_a_bounded_reservoir() -> None:
    metrics = RolloutMetrics()
    metrics.record("1", latency_ms=1.0, error=False, predictions=[i / 10 for i in range(10_000)])
    snap = metrics.snapshot()["1"]
    assert len(snap.scores) == RESERVOIR_SIZE and snap.score_count == 10_000


def test_snapshot_round_trips_through_a_dict() -> None:
    metrics = RolloutMetrics()
    metrics.record("1", latency_ms=3.0, error=False, predictions=[1, 0.5])
    snap = metrics.snapshot()
    again = MetricsSnapshot.from_dict(snap.to_dict())
    assert again["1"] == snap["1"]


def test_concurrent_records_are_all_counted() -> None:
    metrics = RolloutMetrics()

    def work() -> None:
        for _ in range(2000):
            metrics.record("1", latency_ms=1.0, error=False, predictions=[1])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert metrics.snapshot()["1"].requests == 8000
    assert metrics.snapshot()["1"].classes["1"] == 8000
