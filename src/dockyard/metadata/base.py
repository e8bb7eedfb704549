"""The MetadataStore port: runs, step runs, artifacts and lineage.

The store records facts; it never decides anything. All methods take and return the
frozen records below (never ORM objects), so callers cannot reach into tables.

Example::

    store = SqlMetadataStore("sqlite:///:memory:")
    run = store.create_run("training", spec={...}, params={"C": 0.5}, stack="default")
    art = ArtifactDraft(uri="file:///…/ab12", content_hash="ab12…", size=10,
                        data_type="builtins.dict", materializer="builtins",
                        materializer_version="1", unsafe=False)
    step = store.record_step_run(run.id, "evaluate", status="completed",
                                 started_at=t0, ended_at=t1, outputs={"metrics": art})
    store.finish_run(run.id, "completed")
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from dockyard.errors import MetadataError

#: ``crashed``: the run was ``running`` but the process running it is gone (killed, its
#: machine lost, cut off from the database at its end); stores that detect it report it
#: in place of ``running``.
RunStatus = Literal["running", "completed", "failed", "crashed"]
StepStatus = Literal["running", "completed", "cached", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class ArtifactDraft:
    """An artifact about to be recorded: what the artifact store and materializer said."""

    uri: str
    content_hash: str
    size: int
    data_type: str
    materializer: str
    materializer_version: str
    unsafe: bool = False


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """A recorded artifact. ``id`` is stable for the same bytes, type and materializer."""

    id: str
    uri: str
    content_hash: str
    size: int
    data_type: str
    materializer: str
    materializer_version: str
    unsafe: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One execution of a pipeline. ``spec`` is the serialised plan (the DAG).

    ``owner_pid`` and ``owner_host`` name the process that runs it and ``heartbeat_at``
    its last sign of life (None for runs recorded by dockyard 0.1, or by a store that
    does not track them).
    """

    id: str
    pipeline: str
    status: RunStatus
    stack: str
    params: dict[str, Any]
    spec: dict[str, Any]
    created_at: datetime
    ended_at: datetime | None = None
    error: str | None = None
    owner_pid: int | None = None
    owner_host: str | None = None
    heartbeat_at: datetime | None = None

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end (None while it has not ended)."""
        return (self.ended_at - self.created_at).total_seconds() if self.ended_at else None


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A run as a list shows it: the record plus counts of its recorded step runs."""

    run: RunRecord
    steps: int
    cached: int
    failed: int


@dataclass(frozen=True, slots=True)
class RunPage:
    """One page of runs, newest first; ``next_cursor`` reads the next page (None: the end).

    A page filtered by ``running`` or ``crashed`` may hold fewer than ``limit`` runs while
    more follow (``crashed`` is derived when read), so page on until ``next_cursor`` is None.
    """

    runs: list[RunSummary]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class StepRunRecord:
    """One execution (or cache hit) of one step invocation of a run."""

    id: str
    run_id: str
    name: str
    status: StepStatus
    cache_key: str | None
    cache_hit: bool
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    attempts: int
    error: str | None
    #: input name -> artifact id, output name -> artifact id
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)


DatasetDirection = Literal["input", "output"]


@dataclass(frozen=True, slots=True)
class DatasetUse:
    """A version of a lake dataset a step read (``input``) or wrote (``output``).

    Recorded with the step run; read back with the run and step filled in.
    """

    dataset: str
    version: int
    direction: DatasetDirection
    run_id: str | None = None
    step: str | None = None

    @property
    def ref(self) -> str:
        """The ``lake://zone/name@version`` form."""
        return f"lake://{self.dataset}@{self.version}"


@dataclass(frozen=True, slots=True)
class Lineage:
    """Who produced an artifact and who consumed it: (run id, step name, step run id)."""

    artifact: ArtifactRecord
    produced_by: list[tuple[str, str, str]]
    consumed_by: list[tuple[str, str, str]]


class MetadataStore(ABC):
    """Port for the metadata store. Implementations must be thread-safe."""

    flavor: ClassVar[str] = ""
    #: How often the process running a run calls :meth:`heartbeat` (seconds; 0: never).
    heartbeat_s: float = 10.0

    # runs ---------------------------------------------------------------------------
    @abstractmethod
    def create_run(
        self,
        pipeline: str,
        *,
        spec: Mapping[str, Any],
        params: Mapping[str, Any],
        stack: str,
        owned: bool = True,
    ) -> RunRecord:
        """Record a new run in status ``running``; also records the pipeline by name.

        ``owned=False``: no process owns the run (an external orchestrator runs its
        steps, each in its own process); it reads ``crashed`` only when no heartbeat
        came for the store's staleness limit, never because the planning process ended.
        """

    @abstractmethod
    def finish_run(self, run_id: str, status: RunStatus, error: str | None = None) -> None:
        """Set a run's final status (or back to ``running`` when it is resumed, which makes
        the calling process its owner)."""

    def heartbeat(self, run_id: str) -> None:  # noqa: B027 - optional: no crash detection
        """Record that the process running ``run_id`` is alive (every :attr:`heartbeat_s`).

        Never makes a finished run ``running`` again; a run that is not there is nothing
        to keep alive (no error). A store without crash detection does nothing.
        """

    @abstractmethod
    def get_run(self, run_id: str) -> RunRecord:
        """A run by id or by a unique prefix of its id.

        A ``running`` run whose owner is gone reads as ``crashed`` (stores that detect
        it), with an ``error`` saying so.

        Raises:
            RecordNotFoundError: no run matches (or the prefix is ambiguous).
        """

    @abstractmethod
    def list_runs(self, *, pipeline: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Newest first, statuses as :meth:`get_run` reports them."""

    def page_runs(
        self,
        *,
        pipeline: str | None = None,
        status: RunStatus | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> RunPage:
        """A page of runs, newest first, with step counts (keyset pagination).

        Args:
            before: the ``next_cursor`` of the previous page (None: the newest runs).
            limit: at most this many runs (1 to 500).

        Raises:
            MetadataError: a cursor this store did not hand out, or a store that cannot page.
        """
        raise MetadataError(
            f"The {type(self).__name__} metadata store cannot page through runs; implement "
            "MetadataStore.page_runs to list runs in the dashboard."
        )

    def list_pipelines(self, *, limit: int = 200) -> list[str]:
        """Names of the pipelines that have runs, sorted (at most ``limit``)."""
        return sorted({r.pipeline for r in self.list_runs(limit=limit)})

    # step runs ----------------------------------------------------------------------
    @abstractmethod
    def record_step_run(
        self,
        run_id: str,
        name: str,
        *,
        status: StepStatus,
        started_at: datetime | None = None,
        ended_at: datetime | None = None,
        cache_key: str | None = None,
        cache_hit: bool = False,
        attempts: int = 1,
        error: str | None = None,
        logs: str | None = None,
        inputs: Mapping[str, str] | None = None,
        outputs: Mapping[str, ArtifactDraft | str] | None = None,
        datasets: Sequence[DatasetUse] = (),
    ) -> StepRunRecord:
        """Record a step run with its artifacts and lineage in one transaction.

        ``inputs`` map input names to artifact ids. ``outputs`` map output names to an
        :class:`ArtifactDraft` (new bytes, recorded and deduplicated by content hash,
        type and materializer) or to an existing artifact id (a cache hit). ``datasets``
        are the lake dataset versions the step read and wrote (repeats are recorded once).
        Recording the same (run, name) again replaces the earlier record (a resumed run
        re-executes a failed step).
        """

    @abstractmethod
    def get_step_run(self, run_id: str, name: str) -> StepRunRecord:
        """Raises RecordNotFoundError when the step has no record in that run."""

    @abstractmethod
    def list_step_runs(self, run_id: str) -> list[StepRunRecord]:
        """In the order they were recorded."""

    @abstractmethod
    def get_step_logs(self, run_id: str, name: str) -> str:
        """Captured stdout/stderr/logging of a step run ('' when none)."""

    @abstractmethod
    def find_cached(self, cache_key: str) -> StepRunRecord | None:
        """Most recent completed (not failed) step run with that cache key, if any."""

    # datasets -----------------------------------------------------------------------
    @abstractmethod
    def list_dataset_uses(self, run_id: str, step: str | None = None) -> list[DatasetUse]:
        """The dataset versions a run's steps (or one step) read and wrote, in step
        order, each with its run id and step name.

        Raises:
            RecordNotFoundError: no run matches ``run_id`` (an id or unique prefix).
        """

    @abstractmethod
    def find_dataset_uses(
        self, dataset: str, version: int | None = None, *, limit: int = 100
    ) -> list[DatasetUse]:
        """Which steps read or wrote ``dataset`` (one version, or any), newest first."""

    # artifacts ----------------------------------------------------------------------
    @abstractmethod
    def get_artifact(self, artifact_id: str) -> ArtifactRecord:
        """By id or unique prefix; raises RecordNotFoundError."""

    @abstractmethod
    def record_artifact(self, draft: ArtifactDraft) -> ArtifactRecord:
        """Record an artifact outside a step run (a registered model, for instance).

        Idempotent: the same bytes, type and materializer give back the record already
        there (its ``id`` is derived from them).
        """

    @abstractmethod
    def get_lineage(self, artifact_id: str) -> Lineage:
        """Producers and consumers of an artifact."""

    def list_artifacts(self, *, after: str | None = None, limit: int = 500) -> list[ArtifactRecord]:
        """Every recorded artifact, a page at a time in id order: those whose id sorts
        after ``after``, at most ``limit`` (``dockyard artifacts verify`` walks them).

        Raises:
            MetadataError: this store cannot list artifacts.
        """
        raise MetadataError(
            f"The {type(self).__name__} metadata store cannot list artifacts; implement "
            "MetadataStore.list_artifacts to verify all of a project's artifacts."
        )

    # lifecycle ----------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Config that recreates this store, secrets masked (``dockyard stack show``)."""
        return {"flavor": self.flavor}

    def close(self) -> None:  # noqa: B027 - optional hook, most stores need nothing
        """Release connections."""
