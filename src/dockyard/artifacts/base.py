"""The ArtifactStore port: immutable, content-addressed blobs.

An artifact store keeps bytes under a key derived from their SHA-256, so the same bytes
are stored once however many steps produce them. ``put`` of bytes already there returns
the same :class:`StoredBlob`, and writes them again if the stored copy was damaged (a
same-size corruption included): re-running a step is how a corrupted artifact is
repaired.

Example::

    store = MemoryArtifactStore()
    blob = store.put(b"hello")
    assert store.get(blob.uri) == b"hello"
    assert store.exists(blob.uri)
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from dockyard.errors import ArtifactCorruptedError, ArtifactNotFoundError


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """Where a blob landed: its URI, the hex SHA-256 of its bytes and its size."""

    uri: str
    content_hash: str
    size: int


def content_hash(data: bytes) -> str:
    """Hex SHA-256 of ``data``: the address of a blob in every store."""
    return hashlib.sha256(data).hexdigest()


class ArtifactStore(ABC):
    """Port for the place artifacts live (a local folder, S3, GCS, memory).

    Implementations must be safe to use from several threads at once.
    """

    flavor: ClassVar[str] = ""

    @abstractmethod
    def put(self, data: bytes) -> StoredBlob:
        """Store ``data`` under its content hash; idempotent, and repairs a damaged copy.

        Raises:
            ArtifactError: the bytes cannot be written (a full disk, a missing bucket,
                no permission), naming the store and what to do.
        """

    @abstractmethod
    def get(self, uri: str) -> bytes:
        """Return the bytes at ``uri``, verified against the hash in the URI.

        Raises:
            ArtifactNotFoundError: nothing is stored at ``uri``.
            ArtifactCorruptedError: the bytes no longer match their hash.
        """

    @abstractmethod
    def exists(self, uri: str) -> bool:
        """Whether bytes are stored at ``uri`` (a cache hit needs its artifacts)."""

    def describe(self) -> dict[str, Any]:
        """Config that recreates this store (shown by ``dockyard stack show``)."""
        return {"flavor": self.flavor}


def verify(uri: str, data: bytes) -> bytes:
    """Check ``data`` against the hash that ends ``uri``; shared by every adapter."""
    expected = uri.rstrip("/").rsplit("/", 1)[-1]
    actual = content_hash(data)
    if actual != expected:
        raise ArtifactCorruptedError(
            f"Artifact at {uri} is corrupted: its bytes hash to {actual[:12]}…, "
            f"not {expected[:12]}…. Re-run the step that produced it "
            f"(dockyard run ... --no-cache) to write it again."
        )
    return data


class MemoryArtifactStore(ArtifactStore):
    """In-memory store for tests and benchmarks of everything above the store."""

    flavor = "memory"

    def __init__(self, **_: Any) -> None:
        self._blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> StoredBlob:
        digest = content_hash(data)
        uri = f"memory://{digest}"
        if self._blobs.get(uri) != data:  # absent, or corrupted: writing again repairs it
            self._blobs[uri] = bytes(data)
        return StoredBlob(uri, digest, len(data))

    def get(self, uri: str) -> bytes:
        try:
            return verify(uri, self._blobs[uri])
        except KeyError:
            raise ArtifactNotFoundError(f"No artifact bytes at {uri}.") from None

    def exists(self, uri: str) -> bool:
        return uri in self._blobs
