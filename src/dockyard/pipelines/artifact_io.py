"""Save a step's value as an artifact and load it back, with the pickle trust rule."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dockyard.artifacts.base import ArtifactStore
from dockyard.errors import UnsafeArtifactError
from dockyard.metadata.base import ArtifactDraft, ArtifactRecord

if TYPE_CHECKING:
    from dockyard.artifacts.materializers.registry import MaterializerRegistry

#: Content hashes of unsafe (pickled) artifacts written by this process: loading them
#: back here runs no code we did not just run.
_WRITTEN_HERE: set[str] = set()


def save_value(
    value: Any, store: ArtifactStore, materializers: MaterializerRegistry
) -> ArtifactDraft:
    materializer = materializers.for_object(value)
    blob = store.put(materializer.save(value))
    if materializer.unsafe:
        _WRITTEN_HERE.add(blob.content_hash)
    cls = type(value)
    return ArtifactDraft(
        uri=blob.uri,
        content_hash=blob.content_hash,
        size=blob.size,
        data_type=f"{cls.__module__}.{cls.__qualname__}",
        materializer=materializer.name,
        materializer_version=materializer.version,
        unsafe=materializer.unsafe,
    )


def check_trust(record: ArtifactRecord | ArtifactDraft, *, trust_pickle: bool) -> None:
    """Refuse a pickled artifact written by another process unless trust was given.

    Raises:
        UnsafeArtifactError: the artifact is a pickle this process did not write and
            ``trust_pickle`` is False.
    """
    if record.unsafe and not trust_pickle and record.content_hash not in _WRITTEN_HERE:
        name = getattr(record, "id", record.content_hash[:12])
        raise UnsafeArtifactError(
            f"Artifact {name} ({record.data_type}) was saved with pickle, and loading it "
            f"can run arbitrary code. If you trust where it came from, load it with "
            f"trust_pickle=True (CLI: --trust-pickle; run config: trust_pickle: true), "
            f"or register a safe materializer for {record.data_type}."
        )


def load_value(
    record: ArtifactRecord | ArtifactDraft,
    store: ArtifactStore,
    materializers: MaterializerRegistry,
    *,
    trust_pickle: bool = False,
) -> Any:
    """Load an artifact's value.

    Raises:
        UnsafeArtifactError: the artifact is a pickle written by another process and
            ``trust_pickle`` was not given.
    """
    check_trust(record, trust_pickle=trust_pickle)
    materializer = materializers.get(record.materializer)
    return materializer.load(store.get(record.uri), record.data_type)
