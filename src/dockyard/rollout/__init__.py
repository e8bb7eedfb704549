"""Rollouts: deploy, promote, abort, status, history; the gateway that splits, pins and
mirrors traffic; the analysis that judges a candidate; the state machine that decides and
the controller that carries it out on a deploy target.

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
    from dockyard.rollout.store import DeploymentRecord, DeploymentStore, RolloutEventRecord
    from dockyard.rollout.target import DeployTarget
    from dockyard.rollout.views import DeploymentStatus, VersionStatus, history, status

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
    "DeploymentStatus": "views",
    "VersionStatus": "views",
    "history": "views",
    "status": "views",
    "DeploymentRecord": "store",
    "DeploymentStore": "store",
    "RolloutEventRecord": "store",
    "DeployTarget": "target",
}

__all__ = [
    "AnalysisConfig",
    "Backend",
    "Check",
    "DeployTarget",
    "DeploymentRecord",
    "DeploymentStatus",
    "DeploymentStore",
    "GatewayApp",
    "MetricsSnapshot",
    "Outcome",
    "RolloutEventRecord",
    "RolloutMetrics",
    "RolloutSpec",
    "RouteTable",
    "RouteTableRef",
    "Verdict",
    "VersionSnapshot",
    "VersionStatus",
    "abort",
    "analyze",
    "create_gateway_app",
    "deploy",
    "down",
    "follow",
    "history",
    "js_distance",
    "prediction_divergence",
    "promote",
    "retry",
    "status",
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
