"""A model version's training profile: the reference that drift is measured against.

Recorded at registration from the training sample (``register_model(..., sample=df)``):
the distribution of the model's predictions on it (class counts, or a histogram of scores
over their quantile bins) and of each numeric input column (a histogram over its own
quantile bins). A stream consumer compares each window of live traffic with it
(:mod:`dockyard.runtime.drift`), with the same divergence math as rollout analysis::

    {"rows": 150,
     "predictions": {"kind": "classes", "counts": {"0": 50, "1": 50, "2": 50}},
     "features": {"petal_length": {"edges": [1.4, 1.5, ...], "counts": [14, 15, ...]}}}
"""

from __future__ import annotations

from typing import Any

from dockyard.divergence import histogram, quantile_edges

__all__ = ["MAX_PROFILE_ROWS", "PROFILE_BINS", "build_profile", "prediction_profile"]

#: Rows of the sample profiled (the first ones): enough for stable quantiles.
MAX_PROFILE_ROWS = 10_000
PROFILE_BINS = 10


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def prediction_profile(predictions: Any) -> dict[str, Any]:
    """Class counts (labels as text) for labels, a score histogram for continuous ones."""
    import numpy as np

    values = np.asarray(predictions)
    flat = values.reshape(len(values), -1)[:, 0] if values.ndim > 1 else values
    if flat.dtype.kind == "f" and len(np.unique(flat)) > 20:
        scores = [float(v) for v in flat]
        edges = quantile_edges(scores, bins=PROFILE_BINS)
        return {"kind": "scores", "edges": edges, "counts": histogram(scores, edges)}
    labels, counts = np.unique(flat.astype(str), return_counts=True)
    return {
        "kind": "classes",
        "counts": {str(k): int(v) for k, v in zip(labels, counts, strict=True)},
    }


def build_profile(sample: Any, predictions: Any) -> dict[str, Any]:
    """The profile of ``sample`` (a DataFrame or a 2-D array) and the model's
    ``predictions`` on it (its first :data:`MAX_PROFILE_ROWS` rows)."""
    import numpy as np

    if hasattr(sample, "columns"):
        frame = sample.head(MAX_PROFILE_ROWS)
        columns = {str(c): frame[c].to_numpy() for c in frame.columns}
    else:
        arr = np.asarray(sample)[:MAX_PROFILE_ROWS]
        columns = {str(i): arr[:, i] for i in range(arr.shape[1])} if arr.ndim == 2 else {}
    features: dict[str, Any] = {}
    for name, values in columns.items():
        if values.dtype.kind not in "fiu":
            continue
        finite = [float(v) for v in values if np.isfinite(v)]
        edges = quantile_edges(finite, bins=PROFILE_BINS)
        features[name] = {"edges": edges, "counts": histogram(finite, edges)}
    rows = len(next(iter(columns.values()))) if columns else 0
    return {
        "rows": rows,
        "predictions": prediction_profile(predictions),
        "features": features,
    }
