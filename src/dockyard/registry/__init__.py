"""Model registry: versions, aliases, signatures and lineage of registered models.

Names are re-exported lazily: ``import dockyard.registry`` imports no store, pandas or
numpy until a name is used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.registry.lineage import training_datasets
    from dockyard.registry.model import (
        Model,
        delete_model_version,
        get_model_version,
        load_model,
        register_model,
        requirements_for,
    )
    from dockyard.registry.refs import ModelRef, resolve
    from dockyard.registry.signature import ColumnSpec, OutputSpec, Signature, infer_signature
    from dockyard.registry.store import (
        ModelRegistryStore,
        ModelSummary,
        ModelVersionRecord,
        VersionUsers,
    )

_EXPORTS = {
    "training_datasets": "lineage",
    "Model": "model",
    "delete_model_version": "model",
    "get_model_version": "model",
    "load_model": "model",
    "register_model": "model",
    "requirements_for": "model",
    "ModelRef": "refs",
    "resolve": "refs",
    "ColumnSpec": "signature",
    "OutputSpec": "signature",
    "Signature": "signature",
    "infer_signature": "signature",
    "ModelRegistryStore": "store",
    "ModelSummary": "store",
    "ModelVersionRecord": "store",
    "VersionUsers": "store",
}

__all__ = [
    "ColumnSpec",
    "Model",
    "ModelRef",
    "ModelRegistryStore",
    "ModelSummary",
    "ModelVersionRecord",
    "OutputSpec",
    "Signature",
    "VersionUsers",
    "delete_model_version",
    "get_model_version",
    "infer_signature",
    "load_model",
    "register_model",
    "requirements_for",
    "resolve",
    "training_datasets",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.registry' has no attribute {name!r}")
    value = getattr(import_module(f"dockyard.registry.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
