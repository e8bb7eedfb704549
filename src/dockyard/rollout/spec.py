"""How a new model version reaches traffic: the rollout spec, from the CLI, YAML or Python.

Strategies (the Argo Rollouts vocabulary):

``canary``
    Traffic moves to the candidate in ``steps`` (percent, increasing, ending at 100).
    Each step lasts ``interval``; then the analysis judges the candidate against the
    stable version over that step's window and the controller advances, waits
    (inconclusive) or counts a failure (``failure_limit`` failures roll back).
``bluegreen``
    The candidate (green) starts next to the stable version (blue), is *baked* (kept
    ready, without traffic) for ``bake``, then all traffic switches at once. Blue stays
    warm for one ``interval`` after the switch, during which the analysis may still roll
    back; then the rollout completes.
``shadow``
    A copy of ``mirror`` percent of the requests goes to the candidate; clients only ever
    get the stable answers. After ``interval`` the analysis reports (agreement, latency,
    errors, divergence). A shadow never takes traffic by itself: ``rollout promote``
    does that; a failed analysis ends it.
``direct``
    Replace the version at once when the new one is ready (the first deployment).

Example::

    >>> spec = RolloutSpec.from_cli(strategy="canary", steps="10,50,100", interval="5s",
    ...                             max_error_rate=0.01, min_requests=50)
    >>> spec.steps, spec.interval_s, spec.analysis.max_error_rate
    ((10.0, 50.0, 100.0), 5.0, 0.01)
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.errors import RolloutError
from dockyard.rollout.analysis import AnalysisConfig

__all__ = ["STRATEGIES", "DeployFile", "RolloutSpec", "load_deploy_file", "parse_duration"]

STRATEGIES = ("canary", "bluegreen", "shadow", "direct")
DEFAULT_STEPS = (10.0, 25.0, 50.0, 100.0)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_THRESHOLDS = ("max_error_rate", "max_p99_ms", "max_divergence")


def parse_duration(value: str | float | int, what: str = "duration") -> float:
    """Seconds in ``"30s"``, ``"5m"``, ``"1h"``, ``"250ms"`` or a plain number of seconds.

    Raises:
        RolloutError: not a duration, or negative.
    """
    if isinstance(value, bool):
        raise RolloutError(f"{what} must be a duration like 30s or 5m; got {value!r}.")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise RolloutError(
                f"{what} {value!r} is not a duration; write e.g. 30s, 5m, 1h or 500ms."
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        raise RolloutError(f"{what} must be a positive duration; got {value!r}.")
    return seconds


def _steps(value: str | Sequence[float | int | str] | None) -> tuple[float, ...]:
    if value is None:
        return DEFAULT_STEPS
    raw = value.split(",") if isinstance(value, str) else list(value)
    shown = ",".join(str(s).strip() for s in raw)
    steps: list[float] = []
    for item in raw:
        try:
            number = float(str(item).strip().rstrip("%"))
        except ValueError:
            raise RolloutError(
                f"Canary step {item!r} in {shown!r} is not a number; write percents like "
                "10,25,50,100."
            ) from None
        if math.isnan(number) or number <= 0:
            raise RolloutError(
                f"Canary step {item!r} in {shown!r} must be above 0 (a percent of traffic)."
            )
        if number > 100:
            raise RolloutError(
                f"Canary step {number:g} in {shown!r} is over 100; steps are percents of "
                "traffic, e.g. 10,25,50,100."
            )
        if steps and number <= steps[-1]:
            raise RolloutError(
                f"Canary steps must increase: {number:g} comes after {steps[-1]:g} in "
                f"{shown!r}. Write them in increasing order, e.g. 10,25,50,100."
            )
        steps.append(number)
    if not steps:
        raise RolloutError("Give at least one canary step, e.g. --steps 10,25,50,100.")
    if steps[-1] != 100:
        raise RolloutError(
            f"Canary steps must end at 100; {shown!r} ends at {steps[-1]:g}. Add 100 as "
            "the last step (the candidate takes all traffic, then is promoted)."
        )
    return tuple(steps)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class RolloutSpec:
    """What a rollout does; see the module docstring for each strategy.

    Args:
        strategy: ``canary``, ``bluegreen``, ``shadow`` or ``direct``.
        steps: Canary weights in percent, increasing, ending at 100.
        interval_s: Length of a canary step, of a shadow's observation, and of the
            blue/green post-switch period.
        bake_s: Blue/green: how long green stays ready before the switch.
        mirror: Shadow: percent of requests copied to the candidate.
        analysis: The thresholds and ``min_requests`` of each judgment.
        sticky_header: Request header (e.g. ``x-user-id``) pinning a client to a version.
        failover: Retry a request the candidate failed on the stable version.
        alias: The model alias moved to the candidate when the rollout completes.
        drain_s: How long the old version keeps serving in-flight requests after
            traffic left it, before it is stopped.
        trust_pickle: Let the serve processes load pickled (cloudpickle) models. Only
            this recorded setting counts: ``DOCKYARD_TRUST_PICKLE`` in the environment of
            whoever starts or restarts a deployment's processes is ignored.
        token_env: The serve processes require ``Authorization: Bearer <token>``; the
            token was read from this environment variable at deploy time and is kept in
            the deployment store as a secret (never in the spec, a command line or a log).
        token_file: The same, with the token read from this file whenever a serve process
            starts (the file's path is recorded, never its content).
        ready_timeout_s: A candidate that is not ready this long after its rollout began
            is rolled back (the first deployment fails) with the reason.
        replicas: Processes per version; the gateway spreads requests over them and
            retries one a replica fails on another, so a crashed process is not seen by
            clients while the supervisor starts it again. None: as the deployment had
            (1 for a first deployment).

    Raises:
        RolloutError: any invalid value, with the value and the fix.
    """

    strategy: str = "canary"
    steps: tuple[float, ...] = DEFAULT_STEPS
    interval_s: float = 30.0
    bake_s: float = 0.0
    mirror: float = 100.0
    analysis: AnalysisConfig = field(default_factory=lambda: AnalysisConfig(max_error_rate=0.01))
    sticky_header: str | None = None
    failover: bool = True
    alias: str = "production"
    drain_s: float = 2.0
    trust_pickle: bool = False
    token_env: str | None = None
    token_file: str | None = None
    ready_timeout_s: float = 120.0
    replicas: int | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise RolloutError(
                f"Unknown strategy {self.strategy!r}; use one of {', '.join(STRATEGIES)}."
            )
        object.__setattr__(self, "steps", _steps(self.steps))
        object.__setattr__(self, "interval_s", parse_duration(self.interval_s, "interval"))
        object.__setattr__(self, "bake_s", parse_duration(self.bake_s, "bake"))
        object.__setattr__(self, "drain_s", parse_duration(self.drain_s, "drain"))
        if self.interval_s <= 0:
            raise RolloutError("interval must be above 0 (e.g. 30s).")
        try:
            mirror = float(self.mirror)
        except (TypeError, ValueError):
            raise RolloutError(
                f"mirror must be a percent from 1 to 100; got {self.mirror!r}."
            ) from None
        if not 0 < mirror <= 100:
            raise RolloutError(f"mirror must be a percent from 1 to 100; got {self.mirror!r}.")
        object.__setattr__(self, "mirror", mirror)
        if not isinstance(self.analysis, AnalysisConfig):
            raise RolloutError(f"analysis must be an AnalysisConfig; got {self.analysis!r}.")
        if not self.alias or any(c in self.alias for c in ":@/ ") or self.alias.isdigit():
            raise RolloutError(
                f"Invalid alias {self.alias!r}: a name such as production, without ':', "
                "'@', '/' or spaces."
            )
        header = (self.sticky_header or "").strip().lower() or None
        object.__setattr__(self, "sticky_header", header)
        object.__setattr__(
            self, "ready_timeout_s", parse_duration(self.ready_timeout_s, "ready timeout")
        )
        if self.ready_timeout_s <= 0:
            raise RolloutError("ready timeout must be above 0 (e.g. 120s).")
        if self.token_env is not None and not _ENV_NAME.match(self.token_env):
            raise RolloutError(
                f"Invalid token environment variable name {self.token_env!r}: use letters, "
                "digits and '_' (e.g. CHURN_API_TOKEN)."
            )
        if self.replicas is not None and (
            isinstance(self.replicas, bool)
            or not isinstance(self.replicas, int)
            or not 1 <= self.replicas <= 64
        ):
            raise RolloutError(
                f"replicas must be a whole number from 1 to 64; got {self.replicas!r}."
            )
        if self.token_env and self.token_file:
            raise RolloutError("Give the serve token one way: --token-env or --token-file.")
        if self.token_file is not None:
            object.__setattr__(
                self, "token_file", str(Path(self.token_file).expanduser().resolve())
            )

    @property
    def needs_token(self) -> bool:
        """Whether the serve processes require a bearer token."""
        return bool(self.token_env or self.token_file)

    # construction -----------------------------------------------------------------------
    @classmethod
    def from_cli(
        cls,
        *,
        strategy: str = "canary",
        steps: str | Sequence[float] | None = None,
        interval: str | float | None = None,
        bake: str | float | None = None,
        mirror: float | None = None,
        max_error_rate: float | None = None,
        max_p99_ms: float | None = None,
        max_divergence: float | None = None,
        min_requests: int | None = None,
        failure_limit: int | None = None,
        relative: bool = False,
        sticky_header: str | None = None,
        failover: bool = True,
        alias: str | None = None,
        trust_pickle: bool = False,
        token_env: str | None = None,
        token_file: str | Path | None = None,
        ready_timeout: str | float | None = None,
        replicas: int | None = None,
        base: RolloutSpec | None = None,
    ) -> RolloutSpec:
        """A spec from command-line values; ``None`` keeps ``base``'s (or the default).

        With no threshold at all, the analysis checks an error rate of at most 1%.
        """
        spec = base or cls(strategy=strategy)
        changes: dict[str, Any] = {"strategy": strategy}
        for key, value in (
            ("steps", steps),
            ("interval_s", interval),
            ("bake_s", bake),
            ("mirror", mirror),
            ("sticky_header", sticky_header),
            ("alias", alias),
            ("token_env", token_env),
            ("token_file", str(token_file) if token_file is not None else None),
            ("ready_timeout_s", ready_timeout),
            ("replicas", replicas),
        ):
            if value is not None:
                changes[key] = value
        if not failover:
            changes["failover"] = False
        if trust_pickle:
            changes["trust_pickle"] = True
        thresholds = {
            "max_error_rate": max_error_rate,
            "max_p99_ms": max_p99_ms,
            "max_divergence": max_divergence,
        }
        analysis = spec.analysis.to_dict()
        if any(v is not None for v in thresholds.values()):
            base_has = base is not None and any(analysis.get(k) is not None for k in _THRESHOLDS)
            if not base_has:  # explicit thresholds replace the default error-rate check
                analysis.update(dict.fromkeys(_THRESHOLDS))
            analysis.update({k: v for k, v in thresholds.items() if v is not None})
        if min_requests is not None:
            analysis["min_requests"] = min_requests
        if failure_limit is not None:
            analysis["failure_limit"] = failure_limit
        if relative:
            analysis["relative"] = True
        changes["analysis"] = _analysis(analysis)
        return dataclasses.replace(spec, **changes)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RolloutSpec:
        """From a mapping as in a YAML file or :meth:`to_dict` (durations may be "30s")."""
        known = {f.name for f in dataclasses.fields(cls)} | {
            "interval",
            "bake",
            "drain",
            "ready_timeout",
            "thresholds",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise RolloutError(
                f"Unknown rollout setting(s) {', '.join(unknown)}; known: "
                f"strategy, steps, interval, bake, mirror, analysis, sticky_header, "
                "failover, alias, drain, trust_pickle, token_env, token_file, ready_timeout, "
                "replicas."
            )
        kwargs = dict(data)
        for short, full in (
            ("interval", "interval_s"),
            ("bake", "bake_s"),
            ("drain", "drain_s"),
            ("ready_timeout", "ready_timeout_s"),
        ):
            if short in kwargs:
                kwargs[full] = kwargs.pop(short)
        analysis = dict(kwargs.pop("thresholds", None) or {})
        analysis.update(kwargs.pop("analysis", None) or {})
        if analysis or "analysis" in data or "thresholds" in data:
            kwargs["analysis"] = _analysis(analysis)
        if isinstance(kwargs.get("steps"), list):
            kwargs["steps"] = tuple(kwargs["steps"])
        return cls(**kwargs)

    @classmethod
    def from_yaml(cls, path: str | Path) -> RolloutSpec:
        """The ``rollout:`` section of a deploy file (or the whole file); see
        :func:`load_deploy_file`."""
        return load_deploy_file(path).spec

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "steps": list(self.steps),
            "interval_s": self.interval_s,
            "bake_s": self.bake_s,
            "mirror": self.mirror,
            "analysis": self.analysis.to_dict(),
            "sticky_header": self.sticky_header,
            "failover": self.failover,
            "alias": self.alias,
            "drain_s": self.drain_s,
            "trust_pickle": self.trust_pickle,
            "token_env": self.token_env,
            "token_file": self.token_file,
            "ready_timeout_s": self.ready_timeout_s,
            "replicas": self.replicas,
        }

    def post_switch_analysis(self) -> AnalysisConfig:
        """Blue/green after the switch: stable has no traffic left to compare with, so
        only the absolute error-rate and latency limits still apply."""
        a = self.analysis
        return dataclasses.replace(
            a,
            max_error_rate=None if a.is_relative("error_rate") else a.max_error_rate,
            max_p99_ms=None if a.is_relative("p99") else a.max_p99_ms,
            max_divergence=None,
            relative=False,
        )


def _analysis(data: Mapping[str, Any]) -> AnalysisConfig:
    values = {k: v for k, v in data.items() if v is not None or k in _THRESHOLDS}
    for key in ("min_requests", "failure_limit"):
        if key in values and isinstance(values[key], float) and values[key].is_integer():
            values[key] = int(values[key])
    for key in _THRESHOLDS:
        value = values.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            flag = "--" + key.replace("_", "-")
            raise RolloutError(
                f"{flag} must not be negative; got {value!r}. Give a limit of 0 or more."
            )
    return AnalysisConfig.from_dict(values)


@dataclass(frozen=True)
class DeployFile:
    """A deploy file: which deployment, which model, on which port, and how."""

    spec: RolloutSpec
    name: str | None = None
    model: str | None = None
    port: int | None = None


def load_deploy_file(path: str | Path) -> DeployFile:
    """Read a deploy file such as::

        name: churn-api
        model: churn:4
        port: 8080
        rollout:
          strategy: canary
          steps: [10, 25, 50, 100]
          interval: 30s
          analysis: {max_error_rate: 0.01, max_p99_ms: 50, min_requests: 200}

    Raises:
        RolloutError: the file is missing, not YAML, or holds invalid settings.
    """
    import yaml

    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RolloutError(f"No deploy file at {file}.") from None
    except UnicodeDecodeError as exc:
        raise RolloutError(
            f"{file} is not a UTF-8 text file ({exc.reason} at byte {exc.start}); save it "
            "as UTF-8 YAML."
        ) from None
    except OSError as exc:
        raise RolloutError(f"Cannot read the deploy file {file}: {exc.strerror}.") from None
    except yaml.YAMLError as exc:
        raise RolloutError(f"{file} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise RolloutError(f"{file} must hold a mapping (name, model, port, rollout).")
    data = dict(data)
    name, model, port = data.pop("name", None), data.pop("model", None), data.pop("port", None)
    rollout = data.pop("rollout", None)
    if rollout is None:
        rollout = data
    elif data:
        raise RolloutError(
            f"Unknown key(s) {', '.join(sorted(data))} in {file}; use name, model, port, rollout."
        )
    if not isinstance(rollout, Mapping):
        raise RolloutError(f"'rollout' in {file} must be a mapping.")
    try:
        spec = RolloutSpec.from_dict(rollout)
    except TypeError as exc:
        raise RolloutError(f"Invalid rollout in {file}: {exc}") from None
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
    ):
        raise RolloutError(f"port in {file} must be a whole number from 1 to 65535; got {port!r}.")
    return DeployFile(
        spec=spec,
        name=str(name) if name is not None else None,
        model=str(model) if model is not None else None,
        port=port,
    )
