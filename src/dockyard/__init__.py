"""dockyard: pipelines on a laptop to models on live traffic.

The authoring API is re-exported lazily, so ``import dockyard`` stays cheap and imports
no data-science library, web framework or database driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "step": "dockyard.pipelines.step",
    "pipeline": "dockyard.pipelines.pipeline",
    "Pipeline": "dockyard.pipelines.pipeline",
    "Step": "dockyard.pipelines.step",
    "Run": "dockyard.pipelines.runs",
    "load_stack": "dockyard.stacks.stack",
    "register_model": "dockyard.registry.model",
    "load_model": "dockyard.registry.model",
    "get_model_version": "dockyard.registry.model",
    "Model": "dockyard.registry.model",
    "DockyardError": "dockyard.errors",
}

__all__ = [
    "DockyardError",
    "Model",
    "Pipeline",
    "Run",
    "Step",
    "get_model_version",
    "load_model",
    "load_stack",
    "pipeline",
    "register_model",
    "step",
]

if TYPE_CHECKING:
    from dockyard.errors import DockyardError
    from dockyard.pipelines.pipeline import Pipeline, pipeline
    from dockyard.pipelines.runs import Run
    from dockyard.pipelines.step import Step, step
    from dockyard.registry.model import Model, get_model_version, load_model, register_model
    from dockyard.stacks.stack import load_stack


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
