"""Judge a candidate version against the stable one over the same window.

Three built-in checks, each optional, plus user hooks:

- **error rate**: 5xx answers and failed connections over requests;
- **p99 latency** in milliseconds;
- **divergence** of the prediction distribution: the Jensen-Shannon distance (base 2,
  so from 0 for identical to 1 for disjoint) between the class-label counts, or the
  histograms of numeric scores, of the two versions.

Thresholds are absolute by default. With ``relative`` they are factors of the stable
version's figure in the same window (``max_p99_ms=1.5`` then means "at most 1.5 times the
stable p99"). A window with fewer than ``min_requests`` candidate requests (or stable
requests, for checks that compare with it) is INCONCLUSIVE: it never passes for lack of
evidence. ``failure_limit`` is how many FAIL verdicts the controller accepts before it
rolls back.

Example::

    >>> from dockyard.rollout.metrics import VersionSnapshot
    >>> stable = VersionSnapshot("3", requests=900, errors=1, p99_ms=20.0)
    >>> candidate = VersionSnapshot("4", requests=300, errors=30, p99_ms=22.0)
    >>> config = AnalysisConfig(max_error_rate=0.01, max_p99_ms=50, min_requests=200)
    >>> verdict = analyze(stable, candidate, config)
    >>> verdict.outcome.value, verdict.reason
    ('fail', 'error rate 10.00% (30 of 300 requests) is over the limit of 1.00%')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from dockyard import divergence
from dockyard.errors import RolloutError
from dockyard.rollout.metrics import VersionSnapshot

__all__ = [
    "AnalysisConfig",
    "Check",
    "Hook",
    "Outcome",
    "Verdict",
    "analyze",
    "js_distance",
    "prediction_divergence",
    "score_histograms",
]

Hook = Callable[[VersionSnapshot, VersionSnapshot], "tuple[bool | None, str]"]
"""A custom check: ``hook(stable, candidate) -> (ok, reason)``; ``ok=None`` abstains."""

RELATIVE_CHECKS = frozenset({"error_rate", "p99"})


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


# --- divergence -------------------------------------------------------------------------


def js_distance(
    p: Mapping[Any, float] | Sequence[float],
    q: Mapping[Any, float] | Sequence[float],
    *,
    smoothing: float = 0.0,
) -> float:
    """Jensen-Shannon distance (base 2) between two count or probability vectors: 0.0
    identical, 1.0 disjoint (:func:`dockyard.divergence.js_distance`, the one copy that
    batch comparison and stream drift use too).

    Raises:
        RolloutError: A negative count or smoothing, different lengths, or a distribution
            with nothing in it.
    """
    try:
        return divergence.js_distance(p, q, smoothing=smoothing)
    except ValueError as exc:
        raise RolloutError(str(exc)) from None


score_histograms = divergence.score_histograms


def _distribution(snap: VersionSnapshot, bins: Sequence[int]) -> dict[str, float]:
    dist: dict[str, float] = {f"c:{k}": float(v) for k, v in snap.classes.items()}
    if snap.scores:
        # The reservoir is a sample; scale its bins up to the number of scores seen.
        scale = snap.score_count / len(snap.scores)
        for i, n in enumerate(bins):
            if n:
                dist[f"s:{i}"] = n * scale
    return dist


def prediction_divergence(
    stable: VersionSnapshot,
    candidate: VersionSnapshot,
    *,
    smoothing: float = 0.5,
    bins: int = 10,
) -> float | None:
    """JS distance between the predictions of two versions; ``None`` if either has none."""
    if not stable.predictions or not candidate.predictions:
        return None
    stable_bins, candidate_bins = score_histograms(stable.scores, candidate.scores, bins=bins)
    return js_distance(
        _distribution(stable, stable_bins),
        _distribution(candidate, candidate_bins),
        smoothing=smoothing,
    )


# --- configuration ----------------------------------------------------------------------


def _threshold(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RolloutError(f"{name} must be a number; got {value!r}.")
    if math.isnan(value) or math.isinf(value):
        raise RolloutError(f"{name} must be a finite number; got {value!r}.")
    if value < 0:
        raise RolloutError(f"{name} must not be negative; got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class AnalysisConfig:
    """What a candidate must meet to pass a step.

    Args:
        max_error_rate: Highest error rate, from 0 to 1 (``0.01`` is 1%).
        max_p99_ms: Highest p99 latency in milliseconds.
        max_divergence: Highest JS distance of the prediction distribution (0 to 1).
        min_requests: Fewest candidate requests in the window to judge at all.
        relative: ``True`` makes ``max_error_rate`` and ``max_p99_ms`` factors of the
            stable version's figures; or name the relative ones, e.g. ``{"p99"}``.
            For a relative error rate, a stable error rate of 0 counts as one error in
            its requests, so a single candidate error in a large window can still pass.
        failure_limit: FAIL verdicts the controller tolerates before rolling back.
        smoothing: Pseudo-count per bin for the divergence.
        score_bins: Bins of the score histogram for numeric predictions.

    Raises:
        RolloutError: A negative or out-of-range threshold, with the value and the fix.
    """

    max_error_rate: float | None = None
    max_p99_ms: float | None = None
    max_divergence: float | None = None
    min_requests: int = 100
    relative: bool | frozenset[str] = False
    failure_limit: int = 1
    smoothing: float = 0.5
    score_bins: int = 10

    def __post_init__(self) -> None:
        names = _relative_names(self.relative)
        object.__setattr__(self, "relative", names)
        error_rate = _threshold("max_error_rate", self.max_error_rate)
        if error_rate is not None and error_rate > 1 and "error_rate" not in names:
            raise RolloutError(
                f"max_error_rate is a fraction from 0 to 1; got {self.max_error_rate!r}. "
                f"For {self.max_error_rate:g}% write {error_rate / 100:g}."
            )
        divergence = _threshold("max_divergence", self.max_divergence)
        if divergence is not None and divergence > 1:
            raise RolloutError(
                f"max_divergence is a Jensen-Shannon distance from 0 to 1; "
                f"got {self.max_divergence!r}."
            )
        object.__setattr__(self, "max_error_rate", error_rate)
        object.__setattr__(self, "max_p99_ms", _threshold("max_p99_ms", self.max_p99_ms))
        object.__setattr__(self, "max_divergence", divergence)
        for name in ("min_requests", "failure_limit", "score_bins"):
            value = getattr(self, name)
            lowest = 2 if name == "score_bins" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
                raise RolloutError(f"{name} must be a whole number >= {lowest}; got {value!r}.")
        smoothing = _threshold("smoothing", self.smoothing)
        object.__setattr__(self, "smoothing", smoothing)

    def is_relative(self, check: str) -> bool:
        return check in self.relative  # type: ignore[operator]

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_error_rate": self.max_error_rate,
            "max_p99_ms": self.max_p99_ms,
            "max_divergence": self.max_divergence,
            "min_requests": self.min_requests,
            "relative": sorted(self.relative),  # type: ignore[arg-type]
            "failure_limit": self.failure_limit,
            "smoothing": self.smoothing,
            "score_bins": self.score_bins,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnalysisConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise RolloutError(f"Unknown analysis setting(s) {unknown}; known: {sorted(known)}.")
        kwargs = dict(data)
        if isinstance(kwargs.get("relative"), list):
            kwargs["relative"] = frozenset(kwargs["relative"])
        return cls(**kwargs)


def _relative_names(value: bool | Iterable[str]) -> frozenset[str]:
    if value is True:
        return RELATIVE_CHECKS
    if value is False or value is None:
        return frozenset()
    if isinstance(value, str):
        value = [value]
    names = frozenset(str(v) for v in value)
    unknown = sorted(names - RELATIVE_CHECKS)
    if unknown:
        raise RolloutError(
            f"relative names checks {unknown} that cannot be relative; "
            f"use True, False or a subset of {sorted(RELATIVE_CHECKS)}."
        )
    return names


# --- verdict ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one criterion, with the measured value and the limit applied."""

    name: str
    outcome: Outcome
    message: str
    value: float | None = None
    limit: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "outcome": self.outcome.value,
            "message": self.message,
            "value": self.value,
            "limit": self.limit,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """PASS, FAIL or INCONCLUSIVE, why, and the figures it was based on."""

    outcome: Outcome
    reason: str
    figures: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    checks: tuple[Check, ...] = ()

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAIL

    @property
    def inconclusive(self) -> bool:
        return self.outcome is Outcome.INCONCLUSIVE

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "figures": dict(self.figures),
            "checks": [c.to_dict() for c in self.checks],
        }


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}%"


def _check_error_rate(
    stable: VersionSnapshot, candidate: VersionSnapshot, config: AnalysisConfig
) -> Check | None:
    limit = config.max_error_rate
    if limit is None:
        return None
    rate = candidate.error_rate
    seen = f"{_pct(rate)} ({candidate.errors} of {candidate.requests} requests)"
    if config.is_relative("error_rate"):
        if stable.requests < config.min_requests:
            return Check(
                "error_rate",
                Outcome.INCONCLUSIVE,
                f"stable {stable.version} has {stable.requests} requests in this window, "
                f"{config.min_requests} are needed to compare error rates",
                rate,
            )
        reference = max(stable.error_rate, 1.0 / stable.requests)
        bound = reference * limit
        what = f"{limit:g}x the stable error rate ({_pct(stable.error_rate)})"
    else:
        bound, what = limit, _pct(limit)
    if rate > bound:
        return Check(
            "error_rate",
            Outcome.FAIL,
            f"error rate {seen} is over the limit of {what}",
            rate,
            bound,
        )
    return Check("error_rate", Outcome.PASS, f"error rate {seen} within {what}", rate, bound)


def _check_p99(
    stable: VersionSnapshot, candidate: VersionSnapshot, config: AnalysisConfig
) -> Check | None:
    limit = config.max_p99_ms
    if limit is None:
        return None
    p99 = candidate.p99_ms
    if p99 is None:
        return Check("p99", Outcome.INCONCLUSIVE, "no candidate latency was measured")
    if config.is_relative("p99"):
        if stable.requests < config.min_requests or stable.p99_ms is None:
            return Check(
                "p99",
                Outcome.INCONCLUSIVE,
                f"stable {stable.version} has {stable.requests} requests in this window, "
                f"{config.min_requests} are needed to compare latencies",
                p99,
            )
        bound = stable.p99_ms * limit
        what = f"{limit:g}x the stable p99 ({stable.p99_ms:.1f} ms)"
    else:
        bound, what = limit, f"{limit:g} ms"
    if p99 > bound:
        return Check(
            "p99", Outcome.FAIL, f"p99 latency {p99:.1f} ms is over the limit of {what}", p99, bound
        )
    return Check("p99", Outcome.PASS, f"p99 latency {p99:.1f} ms within {what}", p99, bound)


def _check_divergence(
    stable: VersionSnapshot,
    candidate: VersionSnapshot,
    config: AnalysisConfig,
    divergence: float | None,
) -> Check | None:
    limit = config.max_divergence
    if limit is None:
        return None
    if stable.requests < config.min_requests:
        return Check(
            "divergence",
            Outcome.INCONCLUSIVE,
            f"stable {stable.version} has {stable.requests} requests in this window, "
            f"{config.min_requests} are needed to compare predictions",
        )
    if divergence is None:
        missing = stable.version if not stable.predictions else candidate.version
        return Check(
            "divergence",
            Outcome.INCONCLUSIVE,
            f"no predictions were recorded for version {missing} in this window",
        )
    if divergence > limit:
        return Check(
            "divergence",
            Outcome.FAIL,
            f"prediction divergence {divergence:.3f} (Jensen-Shannon) is over the limit of "
            f"{limit:g}",
            divergence,
            limit,
        )
    return Check(
        "divergence",
        Outcome.PASS,
        f"prediction divergence {divergence:.3f} within {limit:g}",
        divergence,
        limit,
    )


def _run_hook(hook: Hook, stable: VersionSnapshot, candidate: VersionSnapshot) -> Check:
    name = getattr(hook, "__name__", None) or type(hook).__name__
    try:
        result = hook(stable, candidate)
        ok, reason = result
    except Exception as exc:  # a broken hook fails safe: the candidate does not pass
        return Check(name, Outcome.FAIL, f"hook {name} raised {type(exc).__name__}: {exc}")
    if ok is None:
        return Check(name, Outcome.INCONCLUSIVE, str(reason) or f"hook {name} abstained")
    outcome = Outcome.PASS if ok else Outcome.FAIL
    return Check(name, outcome, str(reason) or f"hook {name} {'passed' if ok else 'failed'}")


def _figures(
    stable: VersionSnapshot,
    candidate: VersionSnapshot,
    config: AnalysisConfig,
    divergence: float | None,
) -> Mapping[str, Any]:
    return MappingProxyType(
        {
            "stable_version": stable.version,
            "candidate_version": candidate.version,
            "stable_requests": stable.requests,
            "candidate_requests": candidate.requests,
            "stable_errors": stable.errors,
            "candidate_errors": candidate.errors,
            "stable_error_rate": stable.error_rate,
            "candidate_error_rate": candidate.error_rate,
            "stable_p99_ms": stable.p99_ms,
            "candidate_p99_ms": candidate.p99_ms,
            "divergence": divergence,
            "candidate_agreement_rate": candidate.agreement_rate,
            "min_requests": config.min_requests,
        }
    )


def analyze(
    stable: VersionSnapshot,
    candidate: VersionSnapshot,
    config: AnalysisConfig,
    hooks: Iterable[Hook] = (),
) -> Verdict:
    """Judge ``candidate`` against ``stable`` over the same window.

    Args:
        stable: The stable version's figures (``metrics.rotate()[stable_version]``).
        candidate: The candidate's (or the shadow's) figures from the same window.
        config: The thresholds.
        hooks: Custom checks, each ``hook(stable, candidate) -> (ok, reason)``; ``ok`` of
            ``None`` abstains (counts as inconclusive). A hook that raises fails the check.

    Returns:
        FAIL if any check fails; else INCONCLUSIVE if any could not judge (too few
        requests, no predictions); else PASS. The reason names every deciding check.
    """
    hooks = tuple(hooks)
    for hook in hooks:
        if not callable(hook):
            raise RolloutError(
                f"An analysis hook must be a callable (stable, candidate) -> (ok, reason); "
                f"got {hook!r}."
            )
    divergence = prediction_divergence(
        stable, candidate, smoothing=config.smoothing, bins=config.score_bins
    )
    figures = _figures(stable, candidate, config, divergence)

    if candidate.requests < config.min_requests:
        message = (
            f"candidate {candidate.version} answered {candidate.requests} requests in this "
            f"window; at least {config.min_requests} are needed to judge it"
        )
        check = Check(
            "min_requests", Outcome.INCONCLUSIVE, message, candidate.requests, config.min_requests
        )
        return Verdict(Outcome.INCONCLUSIVE, message, figures, (check,))

    checks = [
        c
        for c in (
            _check_error_rate(stable, candidate, config),
            _check_p99(stable, candidate, config),
            _check_divergence(stable, candidate, config, divergence),
        )
        if c is not None
    ]
    checks.extend(_run_hook(hook, stable, candidate) for hook in hooks)

    for outcome in (Outcome.FAIL, Outcome.INCONCLUSIVE):
        deciding = [c.message for c in checks if c.outcome is outcome]
        if deciding:
            return Verdict(outcome, "; ".join(deciding), figures, tuple(checks))
    passed = "; ".join(c.message for c in checks) or "no checks configured"
    reason = f"passed over {candidate.requests} requests: {passed}"
    return Verdict(Outcome.PASS, reason, figures, tuple(checks))
