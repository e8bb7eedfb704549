"""The one model runtime every delivery mode uses: HTTP serving, batch scoring, events.

A :class:`ModelRuntime` is a registered model version ready to predict: a
:class:`FrameworkAdapter` (the framework plug-in point) wrapped with the version's
signature, whose :class:`~dockyard.runtime.validation.Validator` checks and coerces inputs
before the model sees them. :class:`MicroBatcher` merges concurrent requests into one
model call; :mod:`dockyard.runtime.v2` is the I/O-free Open Inference Protocol codec.

Names are re-exported lazily, so ``import dockyard.runtime`` loads neither numpy nor
any framework until a name is used::

    from dockyard.runtime import load_runtime

    runtime = load_runtime("iris@production")
    runtime.predict([[5.1, 3.5, 1.4, 0.2]])
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.runtime.adapters import FrameworkAdapter, PredictAdapter, select_adapter
    from dockyard.runtime.batching import MicroBatcher, ModelThreads
    from dockyard.runtime.model import ModelRuntime
    from dockyard.runtime.spec import RuntimeSpec, load_runtime
    from dockyard.runtime.validation import Validator

_EXPORTS = {
    "FrameworkAdapter": "adapters",
    "PredictAdapter": "adapters",
    "select_adapter": "adapters",
    "MicroBatcher": "batching",
    "ModelThreads": "batching",
    "ModelRuntime": "model",
    "RuntimeSpec": "spec",
    "load_runtime": "spec",
    "Validator": "validation",
}

__all__ = [
    "FrameworkAdapter",
    "MicroBatcher",
    "ModelRuntime",
    "ModelThreads",
    "PredictAdapter",
    "RuntimeSpec",
    "Validator",
    "load_runtime",
    "select_adapter",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.runtime' has no attribute {name!r}")
    value = getattr(import_module(f"dockyard.runtime.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
