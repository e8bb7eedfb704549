"""Save a step's value as an artifact and load it back, with the pickle trust rule;
check that recorded artifacts are still whole (:func:`verify_artifacts`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from dockyard.artifacts.base import ArtifactStore
from dockyard.errors import (
    ArtifactCorruptedError,
    ArtifactError,
    ArtifactNotFoundError,
    UnsafeArtifactError,
)
from dockyard.metadata.base import ArtifactDraft, ArtifactRecord, MetadataStore

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


@dataclass(frozen=True, slots=True)
class ArtifactProblem:
    """A recorded artifact whose bytes cannot be used as they are.

    Attributes:
        artifact_id: the artifact's id (``dockyard artifacts show ID``).
        uri: where its bytes should be.
        problem: ``missing`` (no bytes there), ``corrupted`` (the bytes do not match the
            recorded hash) or ``unreadable`` (the store could not be read).
        message: the store's one-line error, with what to do.
    """

    artifact_id: str
    uri: str
    problem: Literal["missing", "corrupted", "unreadable"]
    message: str


def _artifacts_of_run(metadata: MetadataStore, run_id: str) -> Iterator[ArtifactRecord]:
    ids: dict[str, None] = {}
    for step in metadata.list_step_runs(run_id):
        ids.update(dict.fromkeys(step.inputs.values()))
        ids.update(dict.fromkeys(step.outputs.values()))
    for artifact_id in ids:
        yield metadata.get_artifact(artifact_id)


def _all_artifacts(metadata: MetadataStore, page_size: int) -> Iterator[ArtifactRecord]:
    after: str | None = None
    while True:  # ends: every page starts after the last id of the one before
        page = metadata.list_artifacts(after=after, limit=page_size)
        yield from page
        if len(page) < page_size:
            return
        after = page[-1].id


def verify_artifacts(
    metadata: MetadataStore,
    store: ArtifactStore,
    *,
    run_id: str | None = None,
    page_size: int = 500,
    on_checked: Callable[[ArtifactRecord], None] | None = None,
) -> list[ArtifactProblem]:
    """Read every artifact of a run (or of the whole project) back and check its hash.

    A cached rerun trusts artifacts over 1 MiB without reading them, and a blob damaged
    after it was written shows only when something loads it; this finds such blobs
    ahead of time (what ``dockyard artifacts verify [--run RUN]`` prints). A damaged
    artifact is repaired by re-running the step that produced it with ``--no-cache``.

    Args:
        metadata: the store that records the artifacts.
        store: the artifact store that holds their bytes.
        run_id: only the artifacts this run's steps read or wrote (or a unique prefix of
            its id); all recorded artifacts, registered models included, when None.
        page_size: how many artifact records to read at a time.
        on_checked: called after each artifact is checked (a progress bar).

    Returns:
        The artifacts that are missing, corrupted or unreadable, in the order checked;
        empty when every one is whole.

    Raises:
        RecordNotFoundError: no run matches ``run_id``.
    """
    if run_id is not None:
        records = _artifacts_of_run(metadata, metadata.get_run(run_id).id)
    else:
        records = _all_artifacts(metadata, max(1, page_size))
    problems: list[ArtifactProblem] = []
    for record in records:
        try:
            store.get(record.uri)
        except ArtifactNotFoundError as exc:
            problems.append(ArtifactProblem(record.id, record.uri, "missing", str(exc)))
        except ArtifactCorruptedError as exc:
            problems.append(ArtifactProblem(record.id, record.uri, "corrupted", str(exc)))
        except (ArtifactError, OSError) as exc:
            problems.append(
                ArtifactProblem(record.id, record.uri, "unreadable", f"{type(exc).__name__}: {exc}")
            )
        if on_checked is not None:
            on_checked(record)
    return problems
