"""Drift: windows of live inputs and predictions against a version's training profile.

A :class:`DriftMonitor` takes the batches a delivery mode scores (a stream consumer's),
counts them into the bins of the version's profile (recorded at registration:
:mod:`dockyard.registry.profile`), and every ``window`` rows reports how far the window is
from the profile: the Jensen-Shannon distance of the predictions and, per numeric input,
the JS distance and the population stability index, with :mod:`dockyard.divergence` (the
same math rollout analysis uses). Pure: no I/O, no clock::

    monitor = DriftMonitor(record.signature.profile, window=1000)
    report = monitor.add({"f0": values, ...}, predictions)   # None until the window fills
    if report is not None and report.drifted:
        ...  # publish dockyard.model.drift_detected
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.divergence import js_distance, psi

__all__ = ["DriftMonitor", "DriftReport"]


@dataclass(frozen=True)
class DriftReport:
    """One window's distances from the training profile, and whether they cross a limit."""

    rows: int
    prediction_js: float | None
    features: dict[str, dict[str, float]] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()

    @property
    def drifted(self) -> bool:
        return bool(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "prediction_js": self.prediction_js,
            "features": self.features,
            "drifted": self.drifted,
            "reasons": list(self.reasons),
        }


class DriftMonitor:
    """Counts live batches into the profile's bins; reports every ``window`` rows.

    Args:
        profile: the version's training profile (``Signature.profile``).
        window: rows per report.
        max_js: a prediction (or feature) JS distance above this is drift.
        max_psi: a feature PSI above this is drift (0.25: a significant shift).
    """

    def __init__(
        self,
        profile: Mapping[str, Any],
        *,
        window: int = 1000,
        max_js: float = 0.2,
        max_psi: float = 0.25,
    ) -> None:
        if window < 1:
            raise ValueError(f"The drift window must be at least 1 row, got {window}.")
        self.profile = profile
        self.window = window
        self.max_js = max_js
        self.max_psi = max_psi
        self._predictions = dict(profile.get("predictions") or {})
        self._features: dict[str, Mapping[str, Any]] = dict(profile.get("features") or {})
        self._reset()

    def _reset(self) -> None:
        self.rows = 0
        self._classes: dict[str, int] = {}
        self._scores = [0] * (len(self._predictions.get("edges") or []) + 1)
        self._feature_counts = {n: [0] * (len(f["edges"]) + 1) for n, f in self._features.items()}

    def add(self, columns: Mapping[str, Any], predictions: Any) -> DriftReport | None:
        """Count a scored batch (input columns by name, and its predictions); the window's
        report when this batch filled it, else None."""
        import numpy as np

        preds = np.asarray(predictions)
        flat = preds.reshape(len(preds), -1)[:, 0] if preds.ndim > 1 else preds
        if self._predictions.get("kind") == "scores":
            bins = np.searchsorted(self._predictions["edges"], flat.astype(float), side="right")
            for i, n in zip(*np.unique(bins, return_counts=True), strict=True):
                self._scores[int(i)] += int(n)
        else:
            labels, counts = np.unique(flat.astype(str), return_counts=True)
            for label, n in zip(labels, counts, strict=True):
                self._classes[str(label)] = self._classes.get(str(label), 0) + int(n)
        for name, spec in self._features.items():
            values = columns.get(name)
            if values is None:
                continue
            arr = np.asarray(values, dtype=float)
            arr = arr[np.isfinite(arr)]
            bins = np.searchsorted(spec["edges"], arr, side="right")
            target = self._feature_counts[name]
            for i, n in zip(*np.unique(bins, return_counts=True), strict=True):
                target[int(i)] += int(n)
        self.rows += len(flat)
        if self.rows < self.window:
            return None
        report = self._report()
        self._reset()
        return report

    def _report(self) -> DriftReport:
        reasons: list[str] = []
        prediction_js: float | None = None
        if self._predictions.get("kind") == "scores":
            prediction_js = js_distance(self._predictions["counts"], self._scores, smoothing=0.5)
        elif self._predictions.get("counts"):
            prediction_js = js_distance(self._predictions["counts"], self._classes, smoothing=0.5)
        if prediction_js is not None and prediction_js > self.max_js:
            reasons.append(f"predictions: JS distance {prediction_js:.3f} > {self.max_js:g}")
        features: dict[str, dict[str, float]] = {}
        for name, spec in self._features.items():
            live = self._feature_counts[name]
            if not sum(live):
                continue
            figures = {
                "js": js_distance(spec["counts"], live, smoothing=0.5),
                "psi": psi(spec["counts"], live),
            }
            features[name] = figures
            if figures["psi"] > self.max_psi:
                reasons.append(f"input {name!r}: PSI {figures['psi']:.3f} > {self.max_psi:g}")
        return DriftReport(self.rows, prediction_js, features, tuple(reasons))
