"""Artifacts: content-addressed blobs and the materializers that make them."""

from typing import TYPE_CHECKING, Any

from dockyard.artifacts.base import ArtifactStore, MemoryArtifactStore, StoredBlob, content_hash
from dockyard.artifacts.materializers.base import Materializer

if TYPE_CHECKING:
    from dockyard.artifacts.fsspec_store import FsspecArtifactStore
    from dockyard.artifacts.materializers.registry import MaterializerRegistry

__all__ = [
    "ArtifactStore",
    "FsspecArtifactStore",
    "Materializer",
    "MaterializerRegistry",
    "MemoryArtifactStore",
    "StoredBlob",
    "content_hash",
]

# Imported on first access: the registry reads entry points, the store may import fsspec.
_EXPORTS = {
    "FsspecArtifactStore": "dockyard.artifacts.fsspec_store",
    "MaterializerRegistry": "dockyard.artifacts.materializers.registry",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
