"""Serving: one model runtime for every delivery mode, and the HTTP microservice.

Everything is re-exported lazily, so ``import dockyard.serving`` loads neither numpy nor
FastAPI until a name is used::

    from dockyard.serving import ModelRuntime, ServeConfig, create_app, serve

    runtime = ModelRuntime(model, signature, name="iris", version=3)
    serve([runtime], ServeConfig(max_batch_size=32), port=8080)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ModelRuntime": "dockyard.serving.runtime",
    "Runtime": "dockyard.serving.runtime",
    "PredictRuntime": "dockyard.serving.runtime",
    "load_runtime": "dockyard.serving.runtime",
    "MicroBatcher": "dockyard.serving.batching",
    "ServeConfig": "dockyard.serving.app",
    "create_app": "dockyard.serving.app",
    "serve": "dockyard.serving.server",
}

__all__ = [
    "MicroBatcher",
    "ModelRuntime",
    "PredictRuntime",
    "Runtime",
    "ServeConfig",
    "create_app",
    "load_runtime",
    "serve",
]

if TYPE_CHECKING:
    from dockyard.serving.app import ServeConfig, create_app
    from dockyard.serving.batching import MicroBatcher
    from dockyard.serving.runtime import ModelRuntime, PredictRuntime, Runtime, load_runtime
    from dockyard.serving.server import serve


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.serving' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
