"""Live per-version figures of the gateway, kept in memory, in analysis windows.

The gateway records every answered request against the version that answered it:
a count, whether it failed (5xx or no answer), its latency in a fixed-bucket log
histogram (about 2% precision, constant memory), and the predictions it returned (counts
per class label; numeric scores in a bounded reservoir sample). Mirrored requests to a
shadow version also record how often the shadow agreed with the answer the client got.

The analysis compares two versions over the *same* window: :meth:`RolloutMetrics.rotate`
closes the current window and opens the next one atomically, so no request falls between
two windows. Everything returned is an immutable snapshot.

Example::

    >>> metrics = RolloutMetrics()
    >>> metrics.record("3", latency_ms=4.2, error=False, predictions=[0, 1, 1])
    >>> snap = metrics.snapshot()
    >>> snap["3"].requests, dict(snap["3"].classes)
    (1, {'0': 1, '1': 2})
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "LatencyHistogram",
    "MetricsSnapshot",
    "RolloutMetrics",
    "VersionSnapshot",
    "prediction_label",
    "summarize_predictions",
]

# Log-spaced latency buckets: bucket i covers (MIN * GROWTH**(i-1), MIN * GROWTH**i] ms.
_MIN_MS = 0.01
_GROWTH = 1.02
_LOG_GROWTH = math.log(_GROWTH)
_MAX_MS = 600_000.0
_BUCKETS = math.ceil(math.log(_MAX_MS / _MIN_MS) / _LOG_GROWTH) + 2

RESERVOIR_SIZE = 2048
MAX_CLASSES = 512
OTHER_CLASS = "__other__"

_EMPTY: Mapping[str, int] = MappingProxyType({})


class LatencyHistogram:
    """A fixed-bucket (HDR-like) latency histogram: O(1) record, bounded memory."""

    __slots__ = ("count", "counts", "max_ms", "total_ms")

    def __init__(self) -> None:
        self.counts = [0] * _BUCKETS
        self.count = 0
        self.total_ms = 0.0
        self.max_ms = 0.0

    def record(self, ms: float) -> None:
        if ms != ms or ms < 0:  # NaN or a clock step backwards: not a latency
            return
        index = (
            0 if ms <= _MIN_MS else min(_BUCKETS - 1, int(math.log(ms / _MIN_MS) / _LOG_GROWTH) + 1)
        )
        self.counts[index] += 1
        self.count += 1
        self.total_ms += ms
        if ms > self.max_ms:
            self.max_ms = ms

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0..100) in ms; ``None`` when empty."""
        if self.count == 0:
            return None
        rank = max(1, math.ceil(self.count * q / 100.0))
        seen = 0
        for index, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                upper = _MIN_MS * _GROWTH**index
                return min(upper, self.max_ms)
        return self.max_ms  # pragma: no cover - unreachable: counts sum to count


def prediction_label(item: Any) -> str | float | None:
    """A class label (str) or a score (float) for one prediction; None to skip it."""
    if isinstance(item, bool):
        return str(item).lower()
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        return item if item == item else None  # drop NaN
    if isinstance(item, str):
        return item
    if isinstance(item, list | tuple) and item:
        if len(item) == 1:
            return prediction_label(item[0])
        # A row of class probabilities or scores: its argmax is the predicted class.
        try:
            best = max(range(len(item)), key=item.__getitem__)
        except TypeError:
            return None
        return str(best)
    return None


def summarize_predictions(predictions: Iterable[Any]) -> tuple[dict[str, int], list[float]]:
    """Split predictions into class-label counts and numeric scores."""
    classes: dict[str, int] = {}
    scores: list[float] = []
    for item in predictions:
        label = prediction_label(item)
        if label is None:
            continue
        if isinstance(label, float):
            scores.append(label)
        else:
            classes[label] = classes.get(label, 0) + 1
    return classes, scores


class _Window:
    """Mutable figures of one version in one window (always used under the lock)."""

    __slots__ = (
        "agreed",
        "classes",
        "compared",
        "errors",
        "failovers",
        "latency",
        "mirrored",
        "predictions",
        "requests",
        "score_count",
        "scores",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.failovers = 0
        self.mirrored = 0
        self.latency = LatencyHistogram()
        self.classes: dict[str, int] = {}
        self.scores: list[float] = []
        self.score_count = 0
        self.predictions = 0
        self.compared = 0
        self.agreed = 0

    def add_predictions(self, classes: Mapping[str, int], scores: list[float]) -> None:
        own = self.classes
        for label, n in classes.items():
            if label not in own and len(own) >= MAX_CLASSES:
                label = OTHER_CLASS
            own[label] = own.get(label, 0) + n
            self.predictions += n
        for value in scores:
            self.score_count += 1
            self.predictions += 1
            if len(self.scores) < RESERVOIR_SIZE:
                self.scores.append(value)
            else:  # reservoir sampling (Algorithm R): a uniform sample of every score
                j = random.randrange(self.score_count)
                if j < RESERVOIR_SIZE:
                    self.scores[j] = value


@dataclass(frozen=True, slots=True)
class VersionSnapshot:
    """Immutable figures of one version over one window (plus lifetime totals).

    Latency figures are in milliseconds and ``None`` when nothing was measured;
    ``agreement_rate`` is ``None`` unless the version ran as a shadow.
    """

    version: str
    requests: int = 0
    errors: int = 0
    failovers: int = 0
    mirrored: int = 0
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    max_ms: float | None = None
    classes: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    scores: tuple[float, ...] = ()
    score_count: int = 0
    predictions: int = 0
    compared: int = 0
    agreed: int = 0
    total_requests: int = 0
    total_errors: int = 0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def agreement_rate(self) -> float | None:
        return self.agreed / self.compared if self.compared else None

    def to_dict(self, *, include_scores: bool = True) -> dict[str, Any]:
        data = {
            "version": self.version,
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "failovers": self.failovers,
            "mirrored": self.mirrored,
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "mean_ms": self.mean_ms,
            "max_ms": self.max_ms,
            "classes": dict(self.classes),
            "score_count": self.score_count,
            "predictions": self.predictions,
            "compared": self.compared,
            "agreed": self.agreed,
            "agreement_rate": self.agreement_rate,
            "total_requests": self.total_requests,
            "total_errors": self.total_errors,
        }
        if include_scores:
            data["scores"] = list(self.scores)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VersionSnapshot:
        """Rebuild a snapshot from :meth:`to_dict` output (e.g. ``GET /gateway/metrics``)."""
        names = {f for f in cls.__dataclass_fields__ if f not in ("classes", "scores")}
        kwargs = {k: v for k, v in data.items() if k in names}
        return cls(
            **kwargs,
            classes=MappingProxyType({str(k): int(v) for k, v in data.get("classes", {}).items()}),
            scores=tuple(float(v) for v in data.get("scores", ())),
        )


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Immutable figures of every version over one window.

    ``snapshot[version]`` and :meth:`get` return an empty :class:`VersionSnapshot` for a
    version that has not been seen, so callers need no special case.
    """

    window_started: float
    window_s: float
    versions: Mapping[str, VersionSnapshot]

    def __getitem__(self, version: str) -> VersionSnapshot:
        return self.get(version)

    def __contains__(self, version: object) -> bool:
        return version in self.versions

    def __iter__(self) -> Iterator[str]:
        return iter(self.versions)

    def get(self, version: str) -> VersionSnapshot:
        found = self.versions.get(str(version))
        return found if found is not None else VersionSnapshot(version=str(version))

    def to_dict(self, *, include_scores: bool = True) -> dict[str, Any]:
        return {
            "window_started": self.window_started,
            "window_s": self.window_s,
            "versions": {
                v: s.to_dict(include_scores=include_scores) for v, s in self.versions.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricsSnapshot:
        versions = {str(v): VersionSnapshot.from_dict(s) for v, s in data["versions"].items()}
        return cls(
            window_started=float(data["window_started"]),
            window_s=float(data["window_s"]),
            versions=MappingProxyType(versions),
        )


class RolloutMetrics:
    """Per-version live figures, safe to use from threads and from the event loop.

    A lock guards the counters; each record holds it for a few microseconds, so the
    event loop is never blocked for long.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._totals: dict[str, list[int]] = {}  # version -> [requests, errors]
        self._window_started = time.time()

    def _window(self, version: str) -> _Window:
        window = self._windows.get(version)
        if window is None:
            window = self._windows[version] = _Window()
            self._totals.setdefault(version, [0, 0])
        return window

    def record(
        self,
        version: str,
        *,
        latency_ms: float | None,
        error: bool,
        predictions: Iterable[Any] | None = None,
        failover: bool = False,
    ) -> None:
        """Record one request answered (or failed) by ``version``.

        Args:
            version: The version that was asked.
            latency_ms: Time to its answer; ``None`` when there was no answer to time
                (e.g. connection refused).
            error: A 5xx answer or no answer at all.
            predictions: The predictions in its answer, when it had any.
            failover: The request was then retried on the stable version.
        """
        if isinstance(predictions, list | tuple) and predictions:
            classes, scores = summarize_predictions(predictions)
        else:  # no answer, or not a list of predictions: nothing to count
            classes, scores = {}, []
        with self._lock:
            window = self._window(version)
            window.requests += 1
            totals = self._totals[version]
            totals[0] += 1
            if error:
                window.errors += 1
                totals[1] += 1
            if failover:
                window.failovers += 1
            if latency_ms is not None:
                window.latency.record(latency_ms)
            if classes or scores:
                window.add_predictions(classes, scores)

    def record_shadow(
        self,
        version: str,
        *,
        latency_ms: float | None,
        error: bool,
        predictions: Iterable[Any] | None = None,
        agreed: int = 0,
        compared: int = 0,
    ) -> None:
        """Record one mirrored request answered by the shadow ``version``.

        ``agreed`` of ``compared`` predictions matched the answer the client got.
        """
        self.record(version, latency_ms=latency_ms, error=error, predictions=predictions)
        with self._lock:
            window = self._window(version)
            window.mirrored += 1
            window.agreed += agreed
            window.compared += compared

    def snapshot(self) -> MetricsSnapshot:
        """The figures of the current window so far."""
        with self._lock:
            return self._snapshot_locked(time.time())

    def reset_window(self) -> None:
        """Start a new analysis window (lifetime totals are kept)."""
        with self._lock:
            self._windows = {}
            self._window_started = time.time()

    def rotate(self) -> MetricsSnapshot:
        """Close the current window and start the next one, atomically.

        Returns:
            The figures of the window just closed. No request is lost or counted twice
            between the two windows.
        """
        with self._lock:
            now = time.time()
            closed = self._snapshot_locked(now)
            self._windows = {}
            self._window_started = now
            return closed

    def _snapshot_locked(self, now: float) -> MetricsSnapshot:
        versions: dict[str, VersionSnapshot] = {}
        for version, totals in self._totals.items():
            w = self._windows.get(version) or _Window()
            lat = w.latency
            versions[version] = VersionSnapshot(
                version=version,
                requests=w.requests,
                errors=w.errors,
                failovers=w.failovers,
                mirrored=w.mirrored,
                p50_ms=lat.percentile(50),
                p90_ms=lat.percentile(90),
                p99_ms=lat.percentile(99),
                mean_ms=lat.total_ms / lat.count if lat.count else None,
                max_ms=lat.max_ms if lat.count else None,
                classes=MappingProxyType(dict(w.classes)),
                scores=tuple(w.scores),
                score_count=w.score_count,
                predictions=w.predictions,
                compared=w.compared,
                agreed=w.agreed,
                total_requests=totals[0],
                total_errors=totals[1],
            )
        return MetricsSnapshot(
            window_started=self._window_started,
            window_s=max(0.0, now - self._window_started),
            versions=MappingProxyType(versions),
        )
