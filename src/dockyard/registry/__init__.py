"""Model registry: versions, aliases, signatures and lineage of registered models."""

from dockyard.metadata.registry import ModelSummary, ModelVersionRecord
from dockyard.registry.model import (
    Model,
    load_model,
    register_model,
    registry_store,
    requirements_for,
)
from dockyard.registry.refs import ModelRef, resolve

__all__ = [
    "Model",
    "ModelRef",
    "ModelSummary",
    "ModelVersionRecord",
    "load_model",
    "register_model",
    "registry_store",
    "requirements_for",
    "resolve",
]
