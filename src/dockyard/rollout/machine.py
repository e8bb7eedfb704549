"""The rollout state machine: the whole policy of a rollout, with no I/O.

:func:`decide` is the whole policy and does no I/O: given the stored state, the analysis
verdict (when one was due), the time, an operator command and whether the candidate is
ready, it returns the next state and the decisions taken. It is tested transition by
transition; the :class:`~dockyard.rollout.controller.Controller` only feeds it and carries out what the new
state says (route table, processes, alias), so a restarted controller that reads the
stored state back does exactly what the old one would have done.

Phases::

    starting ──ready──> progressing (canary) ──pass, next step < 100──> progressing
       │                  │  inconclusive: wait (window kept), fail: count, new window
       │                  ├─pass, next step = 100──> completed
       │                  └─failures = failure_limit──> rolled_back
       ├──ready──> baking (blue/green) ──bake over──> switched ──pass──> completed
       │                                                └─failures──> rolled_back
       ├──ready──> shadowing ──pass──> shadow_passed (waits for promote)
       │                └─failures──> rolled_back
       └──ready──> completed (direct)

    any active phase ──abort──> aborted        any active phase ──promote──> completed
    aborted | rolled_back ──retry──> starting

On completion the candidate becomes the stable version, the alias moves to it, and the
old stable version keeps serving for ``drain_s`` before it is stopped. The old version
stays warm during the whole rollout, so a rollback or an abort is one route change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import RolloutError
from dockyard.rollout.analysis import AnalysisConfig, Outcome, Verdict
from dockyard.rollout.spec import RolloutSpec

__all__ = [
    "ACTIVE_PHASES",
    "Decision",
    "RolloutState",
    "decide",
    "due",
    "new_rollout",
]

ACTIVE_PHASES = frozenset(
    {"starting", "progressing", "baking", "switched", "shadowing", "shadow_passed"}
)
TERMINAL_PHASES = frozenset({"completed", "rolled_back", "aborted"})
#: Phases whose end is decided by an analysis verdict.
JUDGED_PHASES = frozenset({"progressing", "switched", "shadowing"})
#: How soon an inconclusive window is looked at again (at most the interval).
RECHECK_S = 2.0
COMMANDS = ("promote", "abort", "retry")
#: A candidate whose process exited this many times before it was ready is rolled back.
MAX_START_FAILURES = 3


@dataclass(frozen=True)
class Decision:
    """One decision: a kind (``advance``, ``wait``, ``rollback``...), why, the figures."""

    kind: str
    reason: str
    figures: Mapping[str, Any] = field(default_factory=dict)
    #: The analysis window restarts (a new step, a new judgment after a failure).
    new_window: bool = False


@dataclass(frozen=True)
class RolloutState:
    """Everything the controller needs to carry on after a restart (stored as JSON).

    ``stable`` and ``candidate`` are model version numbers of ``model``. ``weight`` is the
    candidate's percent of traffic, ``mirror`` the shadow's. ``step_started_at`` opens the
    current analysis window; ``next_check_at`` is when the next verdict is due.
    ``retiring`` lists old versions still draining: ``{"version": 3, "until": t}``.
    ``backends`` is the supervisor's record: ``{"3": {"port": 8001, "pid": 123}}``.
    """

    model: str
    stable: int | None = None
    candidate: int | None = None
    phase: str = "starting"
    spec: Mapping[str, Any] = field(default_factory=lambda: RolloutSpec("direct").to_dict())
    step_index: int = -1
    weight: float = 0.0
    mirror: float = 0.0
    step_started_at: float | None = None
    next_check_at: float | None = None
    failures: int = 0
    inconclusive: int = 0
    last_verdict: Mapping[str, Any] | None = None
    next_decision: str = ""
    retiring: tuple[Mapping[str, Any], ...] = ()
    alias_moved: bool = True
    backends: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    rollout: int = 0
    started_at: float | None = None
    ended_at: float | None = None

    @property
    def rollout_spec(self) -> RolloutSpec:
        return RolloutSpec.from_dict(self.spec)

    @property
    def active(self) -> bool:
        return self.phase in ACTIVE_PHASES

    def ref(self, version: int | None) -> str | None:
        return None if version is None else f"{self.model}:{version}"

    def replace(self, **changes: Any) -> RolloutState:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["spec"] = dict(self.spec)
        data["retiring"] = [dict(r) for r in self.retiring]
        data["backends"] = {k: dict(v) for k, v in self.backends.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RolloutState:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["retiring"] = tuple(dict(r) for r in kwargs.get("retiring", ()))
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise RolloutError(f"Stored rollout state is not readable: {exc}") from None

    # what the runner carries out -------------------------------------------------------
    def routes(self) -> dict[str, Any]:
        """Who gets traffic: ``{"stable", "candidate", "weight", "shadow", "mirror"}``."""
        cand = self.candidate if self.phase in ("progressing", "baking", "switched") else None
        shadow = self.candidate if self.phase in ("shadowing", "shadow_passed") else None
        return {
            "stable": self.stable,
            "candidate": cand,
            "weight": self.weight if cand is not None else 0.0,
            "shadow": shadow,
            "mirror": self.mirror if shadow is not None else 0.0,
        }

    def versions_in_use(self) -> list[int]:
        """The versions this deployment serves or may serve again: stable and candidate
        (a rolled-back candidate can be retried), so the registry keeps them."""
        return [v for v in (self.stable, self.candidate) if v is not None]

    def wanted_versions(self, now: float) -> list[int]:
        """The versions that must be running now: stable, candidate, and the draining."""
        wanted: list[int] = []
        if self.stable is not None:
            wanted.append(self.stable)
        if self.candidate is not None and self.active:
            wanted.append(self.candidate)
        for r in self.retiring:
            if float(r["until"]) > now and int(r["version"]) not in wanted:
                wanted.append(int(r["version"]))
        return wanted


def due(state: RolloutState, now: float) -> bool:
    """Whether a verdict is due now (the runner then analyses the current window)."""
    return (
        state.phase in JUDGED_PHASES
        and state.next_check_at is not None
        and now >= state.next_check_at
    )


def analysis_config(state: RolloutState) -> AnalysisConfig:
    spec = state.rollout_spec
    return spec.post_switch_analysis() if state.phase == "switched" else spec.analysis


# transitions ----------------------------------------------------------------------------
def new_rollout(
    current: RolloutState | None,
    model: str,
    version: int,
    spec: RolloutSpec,
    now: float,
) -> tuple[RolloutState, list[Decision]]:
    """Start rolling ``model:version`` out (or the first deployment when ``current`` is None).

    Raises:
        RolloutError: a rollout is in progress, the version is already stable, or the
            model differs from the deployment's.
    """
    if current is None or current.stable is None:
        spec = dataclasses.replace(spec, strategy="direct")
        state = RolloutState(
            model=model,
            candidate=version,
            phase="starting",
            spec=spec.to_dict(),
            rollout=(current.rollout + 1) if current else 1,
            started_at=now,
            next_decision=f"start {model}:{version}, then send it all traffic",
            backends=current.backends if current else {},
        )
        return state, [Decision("start", f"first deployment of {model}:{version}", {})]
    if current.active:
        raise RolloutError(
            f"A rollout of {current.ref(current.candidate)} is in progress ({current.phase}). "
            "Wait for it to finish, or end it first with: dockyard rollout promote NAME "
            "or dockyard rollout abort NAME."
        )
    if model != current.model:
        raise RolloutError(
            f"This deployment serves model {current.model!r}; {model}:{version} is another "
            "model. Deploy it under another deployment name."
        )
    if version == current.stable:
        raise RolloutError(
            f"{model}:{version} is already the stable version of this deployment; "
            "nothing to roll out."
        )
    state = current.replace(
        candidate=version,
        phase="starting",
        spec=spec.to_dict(),
        step_index=-1,
        weight=0.0,
        mirror=0.0,
        step_started_at=None,
        next_check_at=None,
        failures=0,
        inconclusive=0,
        last_verdict=None,
        rollout=current.rollout + 1,
        started_at=now,
        ended_at=None,
        next_decision=f"start {model}:{version} next to {model}:{current.stable}",
    )
    figures = {"stable": current.stable, "candidate": version, "strategy": spec.strategy}
    return state, [
        Decision("start", f"{spec.strategy} rollout of {model}:{version} started", figures)
    ]


def decide(
    state: RolloutState,
    verdict: Verdict | None,
    now: float,
    command: str | None = None,
    *,
    ready: bool = False,
) -> tuple[RolloutState, list[Decision]]:
    """One move of the state machine (pure: no I/O, no clock).

    Args:
        state: The current state.
        verdict: The analysis of the current window, when :func:`due` said one was due.
        now: The time (seconds since the epoch).
        command: An operator command: ``promote``, ``abort`` or ``retry``.
        ready: The candidate's process answers its readiness check.

    Returns:
        The next state and the decisions taken (empty when nothing changed).
    """
    if command is not None:
        return _command(state, command, now, ready)
    if state.phase == "starting":
        if ready:
            return _start(state, now)
        return _not_ready(state, now)
    if state.phase == "baking" and state.next_check_at is not None and now >= state.next_check_at:
        return _switch(state, now)
    if not due(state, now) or verdict is None:
        return state, []
    return _judge(state, verdict, now)


def _command(
    state: RolloutState, command: str, now: float, ready: bool
) -> tuple[RolloutState, list[Decision]]:
    if command not in COMMANDS:
        return state, [Decision("reject", f"unknown command {command!r}")]
    if command == "retry":
        if state.phase not in ("aborted", "rolled_back") or state.candidate is None:
            return state, [Decision("reject", f"retry: nothing to retry (phase {state.phase})")]
        spec = state.rollout_spec
        again = state.replace(
            phase="starting",
            step_index=-1,
            weight=0.0,
            mirror=0.0,
            failures=0,
            inconclusive=0,
            last_verdict=None,
            step_started_at=None,
            next_check_at=None,
            ended_at=None,
            started_at=now,
            next_decision=f"start {state.ref(state.candidate)} again",
        )
        return again, [
            Decision(
                "retry",
                f"{spec.strategy} rollout of {state.ref(state.candidate)} started again "
                "by the operator",
                {"candidate": state.candidate},
            )
        ]
    if not state.active:
        return state, [Decision("reject", f"{command}: no rollout in progress ({state.phase})")]
    if command == "abort":
        if state.stable is None:
            return state, [
                Decision(
                    "reject",
                    "abort: a first deployment has no stable version to go back to; "
                    "use dockyard deployments down NAME",
                )
            ]
        return _end(state, now, "aborted", "abort", "aborted by the operator")
    # promote
    if state.phase == "starting" and not ready:
        return state, [
            Decision(
                "reject",
                f"promote: {state.ref(state.candidate)} is not ready yet; try again when it is",
            )
        ]
    return _complete(state, now, "promoted by the operator")


def _start(state: RolloutState, now: float) -> tuple[RolloutState, list[Decision]]:
    spec = state.rollout_spec
    cand = state.ref(state.candidate)
    ready = Decision("ready", f"{cand} is ready", {"candidate": state.candidate})
    if spec.strategy == "direct" or state.stable is None:
        new, decisions = _complete(state, now, f"{cand} is ready; it takes all traffic")
        return new, [ready, *decisions]
    if spec.strategy == "canary":
        weight = spec.steps[0]
        new = state.replace(
            phase="progressing",
            step_index=0,
            weight=weight,
            step_started_at=now,
            next_check_at=now + spec.interval_s,
            next_decision=f"judge {cand} at {weight:g}%",
        )
        return new, [
            ready,
            Decision(
                "advance",
                f"{cand} gets {weight:g}% of traffic (step 1 of {len(spec.steps)})",
                {"weight": weight, "step": 1},
                new_window=True,
            ),
        ]
    if spec.strategy == "bluegreen":
        new = state.replace(
            phase="baking",
            weight=0.0,
            step_started_at=now,
            next_check_at=now + spec.bake_s,
            next_decision=f"switch all traffic to {cand} after baking {spec.bake_s:g}s",
        )
        return new, [
            ready,
            Decision("bake", f"{cand} (green) is ready; baking for {spec.bake_s:g}s", {}),
        ]
    new = state.replace(  # shadow
        phase="shadowing",
        mirror=spec.mirror,
        step_started_at=now,
        next_check_at=now + spec.interval_s,
        next_decision=f"report on {cand} in the shadow",
    )
    return new, [
        ready,
        Decision(
            "shadow",
            f"{cand} gets a copy of {spec.mirror:g}% of requests; clients get only stable answers",
            {"mirror": spec.mirror},
            new_window=True,
        ),
    ]


def _switch(state: RolloutState, now: float) -> tuple[RolloutState, list[Decision]]:
    spec = state.rollout_spec
    cand = state.ref(state.candidate)
    new = state.replace(
        phase="switched",
        weight=100.0,
        step_started_at=now,
        next_check_at=now + spec.interval_s,
        next_decision=f"complete unless {cand} fails; blue stays warm until then",
    )
    return new, [
        Decision(
            "switch",
            f"all traffic switched to {cand} (green); {state.ref(state.stable)} (blue) "
            f"stays warm for {spec.interval_s:g}s",
            {"weight": 100.0},
            new_window=True,
        )
    ]


def _judge(
    state: RolloutState, verdict: Verdict, now: float
) -> tuple[RolloutState, list[Decision]]:
    spec = state.rollout_spec
    cand = state.ref(state.candidate)
    figures = {**dict(verdict.figures), "weight": state.weight, "phase": state.phase}
    judged = state.replace(last_verdict=verdict.to_dict())
    if verdict.outcome is Outcome.INCONCLUSIVE:
        # Never passes for lack of evidence: the window keeps growing and is looked at again.
        wait = min(RECHECK_S, spec.interval_s)
        new = judged.replace(
            inconclusive=state.inconclusive + 1,
            next_check_at=now + wait,
            next_decision=f"waiting for enough evidence on {cand}: {verdict.reason}",
        )
        return new, [Decision("wait", f"inconclusive: {verdict.reason}", figures)]
    if verdict.outcome is Outcome.FAIL:
        failures = state.failures + 1
        limit = spec.analysis.failure_limit
        if failures >= limit:
            failed = judged.replace(failures=failures)
            return _end(
                failed,
                now,
                "rolled_back",
                "rollback",
                f"analysis failed ({failures} of {limit} allowed): {verdict.reason}",
                figures,
            )
        new = judged.replace(
            failures=failures,
            inconclusive=0,
            step_started_at=now,
            next_check_at=now + spec.interval_s,
            next_decision=f"judge {cand} again ({failures} of {limit} failures so far)",
        )
        return new, [
            Decision(
                "fail",
                f"analysis failed ({failures} of {limit} allowed): {verdict.reason}",
                figures,
                new_window=True,
            )
        ]
    # PASS
    if state.phase == "switched":
        return _complete(judged, now, f"{cand} passed after the switch: {verdict.reason}", figures)
    if state.phase == "shadowing":
        new = judged.replace(
            phase="shadow_passed",
            inconclusive=0,
            next_check_at=None,
            next_decision=f"promote {cand} with: dockyard rollout promote (or abort)",
        )
        return new, [Decision("report", f"shadow {cand} passed: {verdict.reason}", figures)]
    index = state.step_index + 1
    weight = spec.steps[index] if index < len(spec.steps) else 100.0
    if weight >= 100.0:
        return _complete(judged, now, f"{cand} passed its last step: {verdict.reason}", figures)
    new = judged.replace(
        step_index=index,
        weight=weight,
        inconclusive=0,
        step_started_at=now,
        next_check_at=now + spec.interval_s,
        next_decision=f"judge {cand} at {weight:g}%",
    )
    return new, [
        Decision(
            "advance",
            f"passed at {state.weight:g}%: {verdict.reason}; {cand} gets {weight:g}% "
            f"(step {index + 1} of {len(spec.steps)})",
            {**figures, "weight": weight, "step": index + 1},
            new_window=True,
        )
    ]


def _drain(state: RolloutState, version: int | None, now: float) -> tuple[Mapping[str, Any], ...]:
    if version is None:
        return state.retiring
    until = now + state.rollout_spec.drain_s
    kept = tuple(r for r in state.retiring if int(r["version"]) != version)
    return (*kept, {"version": version, "until": until})


def _complete(
    state: RolloutState, now: float, reason: str, figures: Mapping[str, Any] | None = None
) -> tuple[RolloutState, list[Decision]]:
    old, new_stable = state.stable, state.candidate
    new = state.replace(
        stable=new_stable,
        candidate=None,
        phase="completed",
        weight=0.0,
        mirror=0.0,
        next_check_at=None,
        retiring=_drain(state, old, now),
        alias_moved=False,
        ended_at=now,
        next_decision="",
    )
    alias = state.rollout_spec.alias
    return new, [
        Decision(
            "complete",
            f"{reason}; {state.ref(new_stable)} is now stable and {state.model}@{alias} "
            "points at it"
            + (f"; {state.ref(old)} stops after draining" if old is not None else ""),
            {**dict(figures or {}), "stable": new_stable, "previous": old},
        )
    ]


def _not_ready(state: RolloutState, now: float) -> tuple[RolloutState, list[Decision]]:
    """Keep waiting for the candidate to be ready, up to the spec's ready timeout, or
    until its process has exited ``MAX_START_FAILURES`` times (a crash loop)."""
    limit = state.rollout_spec.ready_timeout_s
    restarts = int((state.backends.get(str(state.candidate)) or {}).get("restarts") or 0)
    ref = state.ref(state.candidate)
    if restarts >= MAX_START_FAILURES:
        reason = (
            f"{ref} exited {restarts} times before it was ready (see its log in "
            ".dockyard/deployments/)"
        )
    elif state.started_at is not None and now - state.started_at > limit:
        reason = (
            f"{ref} was not ready {limit:g}s after its rollout began (see its log in "
            ".dockyard/deployments/)"
        )
    else:
        return state, []
    figures = {"candidate": state.candidate, "ready_timeout_s": limit, "restarts": restarts}
    if state.stable is not None:
        return _end(state, now, "rolled_back", "rollback", reason, figures)
    new = state.replace(
        phase="rolled_back",
        ended_at=now,
        retiring=_drain(state, state.candidate, now),
        next_decision="nothing serves; fix the model and run: dockyard rollout retry NAME",
    )
    return new, [Decision("rollback", reason + "; nothing was serving before", figures)]


def _end(
    state: RolloutState,
    now: float,
    phase: str,
    kind: str,
    reason: str,
    figures: Mapping[str, Any] | None = None,
) -> tuple[RolloutState, list[Decision]]:
    new = state.replace(
        phase=phase,
        weight=0.0,
        mirror=0.0,
        next_check_at=None,
        retiring=_drain(state, state.candidate, now),
        ended_at=now,
        next_decision=f"all traffic on {state.ref(state.stable)}; "
        "retry with: dockyard rollout retry",
    )
    back = f"; all traffic back on {state.ref(state.stable)}"
    return new, [Decision(kind, reason + back, {**dict(figures or {}), "stable": state.stable})]
