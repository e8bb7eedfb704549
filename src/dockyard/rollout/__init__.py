"""Rollouts: deploy, promote, abort; the gateway that splits, pins and mirrors traffic;
the analysis that judges a candidate; the controller that decides.

Names are re-exported lazily: ``import dockyard.rollout`` imports neither httpx nor
anything else heavy; the gateway's dependencies load on first use of
:func:`create_gateway_app`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.rollout.analysis import (
        AnalysisConfig,
        Check,
        Outcome,
        Verdict,
        analyze,
        js_distance,
        prediction_divergence,
    )
    from dockyard.rollout.api import abort, deploy, down, follow, promote, retry
    from dockyard.rollout.gateway import GatewayApp, create_gateway_app
    from dockyard.rollout.metrics import MetricsSnapshot, RolloutMetrics, VersionSnapshot
    from dockyard.rollout.routing import Backend, RouteTable, RouteTableRef
    from dockyard.rollout.spec import RolloutSpec

_EXPORTS = {
    "AnalysisConfig": "analysis",
    "Check": "analysis",
    "Outcome": "analysis",
    "Verdict": "analysis",
    "analyze": "analysis",
    "js_distance": "analysis",
    "prediction_divergence": "analysis",
    "GatewayApp": "gateway",
    "create_gateway_app": "gateway",
    "MetricsSnapshot": "metrics",
    "RolloutMetrics": "metrics",
    "VersionSnapshot": "metrics",
    "Backend": "routing",
    "RouteTable": "routing",
    "RouteTableRef": "routing",
    "RolloutSpec": "spec",
    "deploy": "api",
    "follow": "api",
    "promote": "api",
    "abort": "api",
    "retry": "api",
    "down": "api",
}

__all__ = [
    "AnalysisConfig",
    "Backend",
    "Check",
    "GatewayApp",
    "MetricsSnapshot",
    "Outcome",
    "RolloutMetrics",
    "RolloutSpec",
    "RouteTable",
    "RouteTableRef",
    "Verdict",
    "VersionSnapshot",
    "abort",
    "analyze",
    "create_gateway_app",
    "deploy",
    "down",
    "follow",
    "js_distance",
    "prediction_divergence",
    "promote",
    "retry",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.rollout' has no attribute {name!r}")
    value = getattr(import_module(f"dockyard.rollout.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
