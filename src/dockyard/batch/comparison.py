"""Blue/green for batch: score the same rows with two versions and compare the answers.

``dockyard batch compare churn:3 churn:4 --input lake://curated/customers`` reads the
input (its first ``sample_rows`` rows in chunk order: deterministic), scores them with
both versions through the shared runtime, and reports the agreement rate, each version's
prediction distribution, their Jensen-Shannon distance and per-class differences. The
divergence is the rollout analysis's own (:func:`dockyard.rollout.analysis.
prediction_divergence` over :class:`~dockyard.rollout.metrics.VersionSnapshot` figures,
summarized by :func:`~dockyard.rollout.metrics.summarize_predictions`), so a batch
comparison and a canary judge two versions the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.batch.sources import plan_chunks, read_chunk, resolve_source, source_schema
from dockyard.errors import BatchError

if TYPE_CHECKING:
    import numpy as np

    from dockyard.stacks.stack import Stack

__all__ = ["ClassDifference", "Comparison", "compare"]


@dataclass(frozen=True)
class ClassDifference:
    """One predicted class: how many rows each version gave it."""

    label: str
    count_a: int
    count_b: int

    def share_difference(self, rows: int) -> float:
        return (self.count_b - self.count_a) / rows if rows else 0.0


@dataclass(frozen=True)
class Comparison:
    """Two versions' predictions on the same rows."""

    model_a: str
    model_b: str
    input: str
    input_version: int | None
    rows: int
    rejected: int
    agreement_rate: float | None
    divergence: float | None
    classes: tuple[ClassDifference, ...]
    scores_a: dict[str, float]
    scores_b: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_a": self.model_a,
            "model_b": self.model_b,
            "input": self.input,
            "input_version": self.input_version,
            "rows": self.rows,
            "rejected": self.rejected,
            "agreement_rate": self.agreement_rate,
            "js_divergence": self.divergence,
            "classes": [
                {
                    "label": c.label,
                    "count_a": c.count_a,
                    "count_b": c.count_b,
                    "share_difference": c.share_difference(self.rows),
                }
                for c in self.classes
            ],
            "scores_a": self.scores_a,
            "scores_b": self.scores_b,
        }


def _score_summary(scores: list[float]) -> dict[str, float]:
    if not scores:
        return {}
    ordered = sorted(scores)
    n = len(ordered)
    return {
        "mean": sum(ordered) / n,
        "p10": ordered[(n - 1) // 10],
        "p50": ordered[(n - 1) // 2],
        "p90": ordered[((n - 1) * 9) // 10],
    }


def compare_predictions(
    a: np.ndarray, b: np.ndarray, *, label_a: str = "a", label_b: str = "b"
) -> tuple[float | None, float | None, tuple[ClassDifference, ...], list[float], list[float]]:
    """Agreement rate, JS divergence, per-class counts and scores of two prediction arrays.

    Pure (no I/O): the figures :class:`Comparison` reports, from the rollout analysis.
    """
    import numpy as np

    from dockyard.rollout.analysis import prediction_divergence
    from dockyard.rollout.metrics import VersionSnapshot, prediction_label, summarize_predictions

    if len(a) != len(b):
        raise BatchError(f"Cannot compare {len(a)} predictions with {len(b)}.")
    items_a, items_b = a.tolist(), b.tolist()
    labels_a = [prediction_label(x) for x in items_a]
    labels_b = [prediction_label(x) for x in items_b]
    agreed = 0
    compared = 0
    for x, y in zip(labels_a, labels_b, strict=True):
        if x is None or y is None:
            continue
        compared += 1
        if isinstance(x, float) and isinstance(y, float):
            agreed += bool(np.isclose(x, y, rtol=1e-6, atol=1e-9))
        else:
            agreed += x == y
    classes_a, scores_a = summarize_predictions(items_a)
    classes_b, scores_b = summarize_predictions(items_b)
    snaps = [
        VersionSnapshot(
            version=label,
            classes=classes,
            scores=tuple(scores),
            score_count=len(scores),
            predictions=len(items),
            compared=compared,
            agreed=agreed,
        )
        for label, classes, scores, items in (
            (label_a, classes_a, scores_a, items_a),
            (label_b, classes_b, scores_b, items_b),
        )
    ]
    divergence = prediction_divergence(snaps[0], snaps[1])
    labels = sorted(set(classes_a) | set(classes_b))
    classes = tuple(ClassDifference(k, classes_a.get(k, 0), classes_b.get(k, 0)) for k in labels)
    return snaps[1].agreement_rate, divergence, classes, scores_a, scores_b


def compare(
    ref_a: str,
    ref_b: str,
    *,
    input: str,
    sample_rows: int | None = None,
    input_version: int | None = None,
    stack: Stack | str | None = None,
    trust_pickle: bool = False,
    chunk_rows: int = 100_000,
) -> Comparison:
    """Score the same rows of ``input`` with two versions and compare their predictions.

    Rows either version's signature refuses are left out of both (and counted).

    Raises:
        BatchError: bad input, or an input lacking a version's columns.
        ModelNotFoundError: no such version.
    """
    import numpy as np

    from dockyard.runtime.spec import load_runtime
    from dockyard.stacks.stack import Stack, load_stack

    if sample_rows is not None and sample_rows < 1:
        raise BatchError(f"--sample-rows must be at least 1, got {sample_rows}.")
    s = stack if isinstance(stack, Stack) else load_stack(stack)
    runtimes = [load_runtime(r, s, trust_pickle=trust_pickle) for r in (ref_a, ref_b)]
    source = resolve_source(input, s, input_version)
    columns = list(source_schema(source).names)
    needed: list[str] = []
    for rt in runtimes:
        names = list(rt.signature.column_names)
        missing = [n for n in names if n not in columns]
        if missing:
            raise BatchError(
                f"The input {source.uri} lacks {rt.label}'s input columns {', '.join(missing)}."
            )
        needed += [n for n in names if n not in needed]
    preds: list[list[np.ndarray]] = [[], []]
    rows = rejected = 0
    for chunk in plan_chunks(source, chunk_rows):  # bounded: the input's chunks
        if sample_rows is not None and rows >= sample_rows:
            break
        table = read_chunk(source, chunk, needed)
        if sample_rows is not None:
            table = table.slice(0, sample_rows - rows)
        data = {n: table.column(n).to_numpy() for n in needed}
        keep = np.ones(table.num_rows, dtype=bool)
        for rt in runtimes:
            bad, _ = rt.validator.invalid_rows({n: data[n] for n in rt.signature.column_names})
            keep &= ~bad
        rejected += int((~keep).sum())
        if keep.any():
            for i, rt in enumerate(runtimes):
                batch = rt.validator.columns_to_batch(
                    {n: data[n][keep] for n in rt.signature.column_names}
                )
                preds[i].append(rt.predict_batch(batch))
        rows += table.num_rows
    a = np.concatenate(preds[0]) if preds[0] else np.array([])
    b = np.concatenate(preds[1]) if preds[1] else np.array([])
    agreement, divergence, classes, scores_a, scores_b = compare_predictions(
        a, b, label_a=runtimes[0].label, label_b=runtimes[1].label
    )
    return Comparison(
        runtimes[0].label,
        runtimes[1].label,
        source.uri,
        source.version,
        len(a),
        rejected,
        agreement,
        divergence,
        classes,
        _score_summary(scores_a),
        _score_summary(scores_b),
    )
