"""The traced DAG of a pipeline run, serialisable so any process can execute one step."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Invocation:
    """One call of a step inside a pipeline."""

    name: str
    step: str
    source: str
    params: dict[str, Any]
    #: argument name -> (upstream invocation, output name)
    inputs: dict[str, tuple[str, str]]
    after: list[str]
    outputs: list[str]
    enable_cache: bool | None
    retries: int
    retry_backoff_s: float
    cache_version: str

    @property
    def upstream(self) -> list[str]:
        seen = dict.fromkeys(up for up, _ in self.inputs.values())
        seen.update(dict.fromkeys(self.after))
        return list(seen)


@dataclass(slots=True)
class RunPlan:
    """A pipeline's invocations in a valid execution (topological) order."""

    pipeline: str
    source: str
    params: dict[str, Any]
    invocations: dict[str, Invocation]
    enable_cache: bool = True
    trust_pickle: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def graph(self) -> dict[str, list[str]]:
        """Invocation name -> names it waits for; insertion order is topological."""
        return {name: inv.upstream for name, inv in self.invocations.items()}

    def cache_enabled(self, name: str) -> bool:
        inv = self.invocations[name]
        return self.enable_cache and inv.enable_cache is not False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for inv in data["invocations"].values():
            inv["inputs"] = {k: list(v) for k, v in inv["inputs"].items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunPlan:
        invocations = {}
        for name, raw in data["invocations"].items():
            raw = dict(raw)
            raw["inputs"] = {k: (v[0], v[1]) for k, v in raw["inputs"].items()}
            invocations[name] = Invocation(**raw)
        return cls(
            pipeline=data["pipeline"],
            source=data["source"],
            params=data["params"],
            invocations=invocations,
            enable_cache=data.get("enable_cache", True),
            trust_pickle=data.get("trust_pickle", False),
            extra=data.get("extra", {}),
        )
