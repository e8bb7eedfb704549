"""How far apart two distributions are: the math every comparison of predictions shares.

Context-free and I/O-free, so each context that compares distributions uses this one copy:
rollout analysis (a canary against its stable version), batch ``compare`` (through rollout),
and drift on a stream (a window of live traffic against the version's training profile,
:mod:`dockyard.runtime.drift`). Pure Python: no numpy needed::

    >>> round(js_distance([1, 1], [1, 0]), 3)
    0.558
    >>> edges = quantile_edges([0.0, 1.0, 2.0, 3.0], bins=2)
    >>> histogram([0.5, 2.5, 3.5], edges)
    [1, 2]
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["histogram", "js_distance", "psi", "quantile_edges", "score_histograms"]


def js_distance(
    p: Mapping[Any, float] | Sequence[float],
    q: Mapping[Any, float] | Sequence[float],
    *,
    smoothing: float = 0.0,
) -> float:
    """Jensen-Shannon distance (base 2) between two count or probability vectors.

    Args:
        p: Counts per label (a mapping; missing labels count 0) or a sequence.
        q: Same for the other distribution; sequences must have the same length.
        smoothing: A pseudo-count added to every bin of both (additive smoothing), so a
            bin never seen in a small sample does not weigh as an impossibility.

    Returns:
        A float from 0.0 (identical) to 1.0 (disjoint supports).

    Raises:
        ValueError: A negative count or smoothing, different lengths, or a distribution
            with nothing in it.
    """
    pv, qv = _vectors(p, q, smoothing)
    p_total, q_total = sum(pv), sum(qv)
    jsd = 0.0
    for a, b in zip(pv, qv, strict=True):
        a /= p_total
        b /= q_total
        m = (a + b) / 2.0
        if a > 0:
            jsd += 0.5 * a * math.log2(a / m)
        if b > 0:
            jsd += 0.5 * b * math.log2(b / m)
    return math.sqrt(min(1.0, max(0.0, jsd)))


def psi(
    expected: Mapping[Any, float] | Sequence[float],
    actual: Mapping[Any, float] | Sequence[float],
    *,
    smoothing: float = 0.5,
) -> float:
    """Population stability index of ``actual`` against ``expected`` (same bins).

    ``sum((a - e) * ln(a / e))`` over the bins' shares; below 0.1 is usually read as
    stable, above 0.25 as a significant shift. Smoothing keeps empty bins finite.

    Raises:
        ValueError: as :func:`js_distance`.
    """
    ev, av = _vectors(expected, actual, max(smoothing, 1e-9))
    e_total, a_total = sum(ev), sum(av)
    total = 0.0
    for e, a in zip(ev, av, strict=True):
        e, a = e / e_total, a / a_total
        total += (a - e) * math.log(a / e)
    return total


def _vectors(
    p: Mapping[Any, float] | Sequence[float],
    q: Mapping[Any, float] | Sequence[float],
    smoothing: float,
) -> tuple[list[float], list[float]]:
    if isinstance(p, Mapping) and isinstance(q, Mapping):
        labels = list(dict.fromkeys([*p, *q]))
        pv = [float(p.get(k, 0.0)) for k in labels]
        qv = [float(q.get(k, 0.0)) for k in labels]
    elif not isinstance(p, Mapping) and not isinstance(q, Mapping):
        pv, qv = [float(x) for x in p], [float(x) for x in q]
        if len(pv) != len(qv):
            raise ValueError(
                f"Cannot compare distributions of {len(pv)} and {len(qv)} bins; "
                "give both over the same bins (or as mappings of label to count)."
            )
    else:
        raise ValueError("Give both distributions as mappings or both as sequences.")
    if smoothing < 0 or any(x < 0 for x in pv) or any(x < 0 for x in qv):
        raise ValueError("Counts and smoothing of a distribution must not be negative.")
    pv = [x + smoothing for x in pv]
    qv = [x + smoothing for x in qv]
    if sum(pv) <= 0 or sum(qv) <= 0:
        raise ValueError("Cannot compare an empty distribution; record predictions first.")
    return pv, qv


def quantile_edges(values: Iterable[float], *, bins: int = 10) -> list[float]:
    """Inner bin edges at the quantiles of ``values``: each bin holds about the same share
    of them (as PSI does); the outer bins are open-ended. Repeated edges are merged."""
    base = sorted(values)
    if not base:
        return []
    return sorted({base[min(len(base) - 1, (len(base) * i) // bins)] for i in range(1, bins)})


def histogram(values: Iterable[float], edges: Sequence[float]) -> list[int]:
    """Counts of ``values`` in the ``len(edges) + 1`` bins the inner ``edges`` make."""
    counts = [0] * (len(edges) + 1)
    for value in values:
        counts[bisect.bisect_right(edges, value)] += 1
    return counts


def score_histograms(
    reference: Sequence[float], other: Sequence[float], *, bins: int = 10
) -> tuple[list[int], list[int]]:
    """Histograms of two score samples over the same bins: the quantiles of ``reference``
    (of ``other`` when ``reference`` is empty)."""
    edges = quantile_edges(reference or other, bins=bins)
    if not reference and not other:
        return [0] * bins, [0] * bins
    return histogram(reference, edges), histogram(other, edges)
