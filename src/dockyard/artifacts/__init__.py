"""Artifacts: content-addressed blobs and the materializers that make them."""

from dockyard.artifacts.base import ArtifactStore, MemoryArtifactStore, StoredBlob, content_hash
from dockyard.artifacts.materializers.base import Materializer

__all__ = ["ArtifactStore", "Materializer", "MemoryArtifactStore", "StoredBlob", "content_hash"]
