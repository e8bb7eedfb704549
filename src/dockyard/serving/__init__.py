"""Serving: the HTTP microservice over model runtimes (Open Inference Protocol V2,
``/predict``, health, metrics).

The model side (validation, framework adapters, micro-batching, the V2 codec) is the
shared :mod:`dockyard.runtime`; this package is HTTP only. Names are re-exported lazily,
so ``import dockyard.serving`` loads neither numpy nor FastAPI until a name is used::

    from dockyard.runtime import load_runtime
    from dockyard.serving import ServeConfig, serve

    serve([load_runtime("iris@production")], ServeConfig(max_batch_size=32), port=8080)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.serving.app import create_app
    from dockyard.serving.config import ServeConfig
    from dockyard.serving.server import serve

_EXPORTS = {"ServeConfig": "config", "create_app": "app", "serve": "server"}

__all__ = ["ServeConfig", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.serving' has no attribute {name!r}")
    value = getattr(import_module(f"dockyard.serving.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
