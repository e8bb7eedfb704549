"""Rollouts: the gateway that splits, pins and mirrors traffic, and the analysis.

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
    from dockyard.rollout.gateway import GatewayApp, create_gateway_app
    from dockyard.rollout.metrics import MetricsSnapshot, RolloutMetrics, VersionSnapshot
    from dockyard.rollout.routing import Backend, RouteTable, RouteTableRef

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
}

__all__ = [
    "AnalysisConfig",
    "Backend",
    "Check",
    "GatewayApp",
    "MetricsSnapshot",
    "Outcome",
    "RolloutMetrics",
    "RouteTable",
    "RouteTableRef",
    "Verdict",
    "VersionSnapshot",
    "analyze",
    "create_gateway_app",
    "js_distance",
    "prediction_divergence",
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
