"""The SQL metadata store: runs, step runs, artifacts and lineage on a :class:`Database`.

``SqlMetadataStore(database)`` keeps the metadata context's records in the tables of
:mod:`dockyard.metadata.tables`, over the shared kernel (:class:`dockyard.db.Database`:
engine, transactions, clock, migrations). ``SqlMetadataStore("sqlite:///...")`` opens a
database of its own, for scripts and tests.

Every call uses its own pooled connection and transaction (or joins the caller's
``database.transaction()``) and returns frozen records from :mod:`dockyard.metadata.base`.
Writes go through SQLAlchemy Core: the per-step cost is a handful of statements in one
transaction. The idempotent writes (``create_run`` with its fixed id, ``record_step_run``,
``finish_run``, ``heartbeat``, ``record_artifact``) are retried briefly when the
connection fails (:meth:`~dockyard.db.Database.retrying`).

A run records the process that owns it and its heartbeats; a ``running`` run whose owner
is gone is read back as ``crashed`` (:mod:`dockyard.metadata.liveness` says why the
status is derived when read rather than written).
"""

from __future__ import annotations

import math
import os
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from dockyard.db.engine import Database
from dockyard.db.outbox import record_event
from dockyard.db.store import SqlStore
from dockyard.errors import MetadataError, RecordNotFoundError
from dockyard.metadata import tables
from dockyard.metadata.base import (
    ArtifactDraft,
    ArtifactRecord,
    DatasetUse,
    Lineage,
    MetadataStore,
    RunPage,
    RunRecord,
    RunStatus,
    RunSummary,
    StepRunRecord,
    StepStatus,
)
from dockyard.metadata.liveness import crash_reason, this_host

__all__ = ["SqlMetadataStore"]

MIN_PREFIX = 4
_HEX = re.compile(r"^[0-9a-f]+$")
_RUN_STATUSES = frozenset(("running", "completed", "failed", "crashed"))
_STEP_STATUSES = frozenset(("running", "completed", "cached", "failed", "skipped"))
#: Step statuses whose outputs a later run may reuse.
_REUSABLE = ("completed", "cached")

_pipelines = tables.pipelines
_runs = tables.runs
_steps = tables.step_runs
_logs = tables.step_logs
_artifacts = tables.artifacts
_lineage = tables.lineage
_datasets = tables.dataset_lineage

_RUNS_HINT = "List runs with: dockyard runs list"
_ARTIFACTS_HINT = "Artifact ids are shown by: dockyard runs show RUN_ID"


# the store ------------------------------------------------------------------------------
class SqlMetadataStore(SqlStore, MetadataStore):
    """Runs, step runs, artifacts and lineage on SQLAlchemy (SQLite or PostgreSQL).

    Args:
        database: the shared :class:`~dockyard.db.Database`, or a URL to open one for
            this store alone (``sqlite:///.dockyard/metadata.db``,
            ``postgresql+psycopg://user:pw@host/db``).
        heartbeat_s: how often a running pipeline reports it is alive (default 10; 0:
            never, and runs are then judged by their owner's pid alone).
        stale_after_s: a ``running`` run with no heartbeat for this long reads as
            ``crashed`` (default 60; on the owner's own host a dead pid tells at once).
        **options: database options when ``database`` is a URL (see
            :class:`~dockyard.db.Database`); unknown options are ignored.

    Raises:
        MetadataUnavailableError: the database cannot be reached.
        SchemaVersionError: the database was written by a newer dockyard.
    """

    def __init__(
        self,
        database: Database | str,
        *,
        heartbeat_s: float = 10.0,
        stale_after_s: float = 60.0,
        **options: Any,
    ) -> None:
        if not 0 <= heartbeat_s < stale_after_s:
            raise MetadataError(
                f"The metadata store's heartbeat_s ({heartbeat_s}) must be at least 0 and "
                f"below stale_after_s ({stale_after_s}), or live runs would read as crashed."
            )
        super().__init__(database, **options)
        self.heartbeat_s = float(heartbeat_s)
        self.stale_after_s = float(stale_after_s) if heartbeat_s > 0 else math.inf
        self._insert_pipeline = self.database.insert_ignore(_pipelines)
        self._insert_run = self.database.insert_ignore(_runs)
        self._insert_artifact = self.database.insert_ignore(_artifacts)

    # plumbing -----------------------------------------------------------------------
    def _find_one(
        self, conn: sa.Connection, table: sa.Table, ident: str, what: str, hint: str
    ) -> sa.Row[Any]:
        """The row whose id is ``ident`` or starts with it; RecordNotFoundError otherwise."""
        key = ident.strip().lower()
        if len(key) < MIN_PREFIX:
            raise RecordNotFoundError(
                f"{what.capitalize()} id {ident!r} is too short: give at least {MIN_PREFIX} "
                f"characters of the id. {hint}"
            )
        if not _HEX.match(key):
            raise RecordNotFoundError(f"No {what} matches {ident!r}. {hint}")
        if len(key) == tables.ID_LENGTH:
            rows = conn.execute(sa.select(table).where(table.c.id == key)).all()
        else:
            stmt = sa.select(table).where(table.c.id.like(key + "%")).limit(2)
            rows = conn.execute(stmt).all()
        if not rows:
            raise RecordNotFoundError(f"No {what} matches {ident!r}. {hint}")
        if len(rows) > 1:
            shown = ", ".join(row.id[:12] + "..." for row in rows)
            raise RecordNotFoundError(
                f"The id prefix {ident!r} is ambiguous: it matches more than one {what} "
                f"({shown}). Give more characters of the id. {hint}"
            )
        return rows[0]

    def _run_id(self, conn: sa.Connection, run_id: str) -> str:
        if len(run_id) == tables.ID_LENGTH:
            return run_id
        return str(self._find_one(conn, _runs, run_id, "run", _RUNS_HINT).id)

    # runs ---------------------------------------------------------------------------
    def create_run(
        self,
        pipeline: str,
        *,
        spec: Mapping[str, Any],
        params: Mapping[str, Any],
        stack: str,
        owned: bool = True,
    ) -> RunRecord:
        created = self.database.now()
        record = RunRecord(
            id=uuid.uuid4().hex,
            pipeline=pipeline,
            status="running",
            stack=stack,
            params=dict(params),
            spec=dict(spec),
            created_at=created,
            owner_pid=os.getpid() if owned else None,
            owner_host=this_host() if owned else None,
            heartbeat_at=created,
        )
        row = {
            "id": record.id,
            "pipeline": pipeline,
            "status": record.status,
            "stack": stack,
            "params": record.params,
            "spec": record.spec,
            "created_at": created,
            "ended_at": None,
            "error": None,
            "owner_pid": record.owner_pid,
            "owner_host": record.owner_host,
            "heartbeat_at": created,
        }

        def write() -> None:  # idempotent: the id is fixed, a second insert keeps the first
            with self.database.transaction() as conn:
                conn.execute(self._insert_pipeline, {"name": pipeline, "created_at": created})
                conn.execute(self._insert_run, row)

        self.database.retrying(write)
        return record

    def finish_run(self, run_id: str, status: RunStatus, error: str | None = None) -> None:
        if status not in _RUN_STATUSES:
            raise MetadataError(
                f"Unknown run status {status!r}: use one of {', '.join(sorted(_RUN_STATUSES))}."
            )
        now = self.database.now()
        values: dict[str, Any] = {"status": status, "ended_at": now, "error": error}
        if status == "running":  # resumed: the calling process owns it from now on
            values.update(
                ended_at=None, owner_pid=os.getpid(), owner_host=this_host(), heartbeat_at=now
            )

        def write() -> None:
            with self.database.transaction() as conn:
                full_id = self._run_id(conn, run_id)
                result = conn.execute(_runs.update().where(_runs.c.id == full_id).values(values))
                if result.rowcount == 0:
                    raise RecordNotFoundError(f"No run matches {run_id!r}. {_RUNS_HINT}")
                if status in ("completed", "failed"):
                    pipeline = conn.execute(
                        sa.select(_runs.c.pipeline).where(_runs.c.id == full_id)
                    ).scalar_one()
                    record_event(
                        self.database,
                        conn,
                        f"dockyard.run.{status}",
                        source=f"/runs/{full_id}",
                        subject=pipeline,
                        data={"run_id": full_id, "pipeline": pipeline, "status": status}
                        | ({"error": error} if error else {}),
                        key=(now.isoformat(),),
                        time=now,
                    )

        self.database.retrying(write)

    def heartbeat(self, run_id: str) -> None:
        now = self.database.now()

        def write() -> None:
            with self.database.transaction() as conn:
                conn.execute(
                    _runs.update()
                    .where(_runs.c.id == run_id, _runs.c.status == "running")
                    .values(heartbeat_at=now)
                )

        self.database.retrying(write)

    def get_run(self, run_id: str) -> RunRecord:
        with self.database.transaction() as conn:
            row = self._find_one(conn, _runs, run_id, "run", _RUNS_HINT)
        return self._run_record(row, datetime.now(UTC))

    def list_runs(self, *, pipeline: str | None = None, limit: int = 50) -> list[RunRecord]:
        if limit < 1:
            return []
        stmt = sa.select(_runs).order_by(_runs.c.created_at.desc()).limit(limit)
        if pipeline is not None:
            stmt = stmt.where(_runs.c.pipeline == pipeline)
        with self.database.transaction() as conn:
            rows = conn.execute(stmt).all()
        now = datetime.now(UTC)
        return [self._run_record(row, now) for row in rows]

    def page_runs(
        self,
        *,
        pipeline: str | None = None,
        status: RunStatus | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> RunPage:
        if not 1 <= limit <= 500:
            raise MetadataError(f"A page holds 1 to 500 runs, not {limit}.")
        if status is not None and status not in _RUN_STATUSES:
            raise MetadataError(
                f"Unknown run status {status!r}; choose one of {', '.join(sorted(_RUN_STATUSES))}."
            )
        order = (_runs.c.created_at.desc(), _runs.c.id.desc())
        stmt = sa.select(_runs).order_by(*order).limit(limit + 1)
        if pipeline is not None:
            stmt = stmt.where(_runs.c.pipeline == pipeline)
        if status is not None:
            # crashed is derived from a stored running: filter those after reading
            stored = "running" if status == "crashed" else status
            stmt = stmt.where(_runs.c.status == stored)
        if before is not None:
            at, run_id = _parse_cursor(before)
            stmt = stmt.where(
                sa.or_(
                    _runs.c.created_at < at,
                    sa.and_(_runs.c.created_at == at, _runs.c.id < run_id),
                )
            )
        with self.database.transaction() as conn:
            rows = conn.execute(stmt).all()
            more = len(rows) > limit
            rows = rows[:limit]
            counts = _step_counts(conn, [row.id for row in rows])
        now = datetime.now(UTC)
        records = [self._run_record(row, now) for row in rows]
        if status is not None:
            records = [r for r in records if r.status == status]
        summaries = [RunSummary(r, *counts.get(r.id, (0, 0, 0))) for r in records]
        cursor = _cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return RunPage(summaries, cursor)

    def list_pipelines(self, *, limit: int = 200) -> list[str]:
        stmt = sa.select(_pipelines.c.name).order_by(_pipelines.c.name).limit(limit)
        with self.database.transaction() as conn:
            return list(conn.execute(stmt).scalars())

    def _run_record(self, row: sa.Row[Any], now: datetime) -> RunRecord:
        status, error = row.status, row.error
        if status == "running":
            crashed = crash_reason(
                owner_pid=row.owner_pid,
                owner_host=row.owner_host,
                heartbeat_at=row.heartbeat_at,
                created_at=row.created_at,
                now=now,
                stale_after_s=self.stale_after_s,
            )
            if crashed is not None:
                status, error = "crashed", crashed
        return RunRecord(
            id=row.id,
            pipeline=row.pipeline,
            status=status,
            stack=row.stack,
            params=dict(row.params or {}),
            spec=dict(row.spec or {}),
            created_at=row.created_at,
            ended_at=row.ended_at,
            error=error,
            owner_pid=row.owner_pid,
            owner_host=row.owner_host,
            heartbeat_at=row.heartbeat_at,
        )

    # step runs ----------------------------------------------------------------------
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
        if status not in _STEP_STATUSES:
            raise MetadataError(
                f"Unknown step status {status!r} for step {name!r}: use one of "
                f"{', '.join(sorted(_STEP_STATUSES))}."
            )
        now = self.database.now()
        step_id = uuid.uuid4().hex
        input_ids = dict(inputs or {})
        output_ids: dict[str, str] = {}
        new_artifacts: dict[str, dict[str, Any]] = {}
        referenced = set(input_ids.values())
        for out, value in (outputs or {}).items():
            if isinstance(value, ArtifactDraft):
                aid = tables.artifact_id(value.content_hash, value.data_type, value.materializer)
                new_artifacts.setdefault(aid, _artifact_row(aid, value, now))
                output_ids[out] = aid
            else:
                output_ids[out] = value
                referenced.add(value)
        referenced -= new_artifacts.keys()
        duration = (
            (ended_at - started_at).total_seconds()
            if started_at is not None and ended_at is not None
            else None
        )
        edges = _edges(step_id, "input", input_ids) + _edges(step_id, "output", output_ids)
        dataset_rows = _dataset_rows(step_id, datasets)

        record = StepRunRecord(
            id=step_id,
            run_id=run_id,
            name=name,
            status=status,
            cache_key=cache_key,
            cache_hit=cache_hit,
            started_at=_utc(started_at),
            ended_at=_utc(ended_at),
            duration_s=duration,
            attempts=attempts,
            error=error,
            inputs=input_ids,
            outputs=output_ids,
        )
        # Idempotent (the step id is fixed and a second write replaces the first), so
        # retried when the connection fails.
        self.database.retrying(
            lambda: self._write_step(
                record, now, logs, referenced, new_artifacts, edges, dataset_rows
            )
        )
        return record

    def _write_step(
        self,
        record: StepRunRecord,
        recorded_at: datetime,
        logs: str | None,
        referenced: set[str],
        new_artifacts: Mapping[str, dict[str, Any]],
        edges: list[dict[str, Any]],
        dataset_rows: list[dict[str, Any]],
    ) -> None:
        run_id, name = record.run_id, record.name
        step_row = {
            "id": record.id,
            "run_id": run_id,
            "name": name,
            "status": record.status,
            "cache_key": record.cache_key,
            "cache_hit": record.cache_hit,
            "started_at": record.started_at,
            "ended_at": record.ended_at,
            "duration_s": record.duration_s,
            "attempts": record.attempts,
            "error": record.error,
            "recorded_at": recorded_at,
        }
        try:
            with self.database.transaction() as conn:
                if referenced:
                    _check_artifacts_exist(conn, referenced, run_id, name)
                # Cascades to the old record's lineage and logs (a resumed run re-executes).
                conn.execute(
                    _steps.delete().where(_steps.c.run_id == run_id, _steps.c.name == name)
                )
                conn.execute(_steps.insert(), step_row)
                if new_artifacts:
                    conn.execute(self._insert_artifact, list(new_artifacts.values()))
                if edges:
                    conn.execute(_lineage.insert(), edges)
                if dataset_rows:
                    conn.execute(_datasets.insert(), dataset_rows)
                if logs:
                    conn.execute(_logs.insert(), {"step_run_id": record.id, "text": logs})
        except sa.exc.IntegrityError as exc:
            with self.database.transaction() as conn:
                exists = conn.execute(sa.select(_runs.c.id).where(_runs.c.id == run_id)).first()
            if exists is None:
                raise RecordNotFoundError(
                    f"Cannot record step {name!r}: no run {run_id!r}. Create the run first "
                    f"(MetadataStore.create_run). {_RUNS_HINT}"
                ) from exc
            raise

    def get_step_run(self, run_id: str, name: str) -> StepRunRecord:
        with self.database.transaction() as conn:
            full_id = self._run_id(conn, run_id)
            rows = conn.execute(
                _STEP_WITH_EDGES.where(_steps.c.run_id == full_id, _steps.c.name == name).order_by(
                    _lineage.c.position
                )
            ).all()
            if not rows:
                self._find_one(conn, _runs, full_id, "run", _RUNS_HINT)
        if not rows:
            raise RecordNotFoundError(
                f"Run {run_id!r} has no step named {name!r}. "
                f"See its steps with: dockyard runs show {run_id}"
            )
        return _step_records(rows)[0]

    def list_step_runs(self, run_id: str) -> list[StepRunRecord]:
        with self.database.transaction() as conn:
            full_id = self._run_id(conn, run_id)
            rows = conn.execute(
                _STEP_WITH_EDGES.where(_steps.c.run_id == full_id).order_by(
                    _steps.c.recorded_at, _steps.c.id, _lineage.c.position
                )
            ).all()
            if not rows:
                self._find_one(conn, _runs, full_id, "run", _RUNS_HINT)
        return _step_records(rows)

    def get_step_logs(self, run_id: str, name: str) -> str:
        with self.database.transaction() as conn:
            full_id = self._run_id(conn, run_id)
            row = conn.execute(
                sa.select(_steps.c.id, _logs.c.text)
                .select_from(_steps.outerjoin(_logs, _logs.c.step_run_id == _steps.c.id))
                .where(_steps.c.run_id == full_id, _steps.c.name == name)
            ).first()
        if row is None:
            raise RecordNotFoundError(
                f"Run {run_id!r} has no step named {name!r}. "
                f"See its steps with: dockyard runs show {run_id}"
            )
        return row.text or ""

    def find_cached(self, cache_key: str) -> StepRunRecord | None:
        latest = (
            sa.select(_steps.c.id)
            .where(_steps.c.cache_key == cache_key, _steps.c.status.in_(_REUSABLE))
            .order_by(_steps.c.recorded_at.desc())
            .limit(1)
            .scalar_subquery()
        )
        with self.database.transaction() as conn:
            rows = conn.execute(
                _STEP_WITH_EDGES.where(_steps.c.id == latest).order_by(_lineage.c.position)
            ).all()
        return _step_records(rows)[0] if rows else None

    # datasets -----------------------------------------------------------------------
    def list_dataset_uses(self, run_id: str, step: str | None = None) -> list[DatasetUse]:
        with self.database.transaction() as conn:
            full_id = self._run_id(conn, run_id)
            where = [_steps.c.run_id == full_id]
            if step is not None:
                where.append(_steps.c.name == step)
            rows = conn.execute(
                _DATASET_USES.where(*where).order_by(
                    _steps.c.recorded_at, _steps.c.id, _datasets.c.position
                )
            ).all()
        return [_dataset_use(row) for row in rows]

    def find_dataset_uses(
        self, dataset: str, version: int | None = None, *, limit: int = 100
    ) -> list[DatasetUse]:
        if limit < 1:
            return []
        where = [_datasets.c.dataset == dataset]
        if version is not None:
            where.append(_datasets.c.version == version)
        stmt = (
            _DATASET_USES.where(*where)
            .order_by(_steps.c.recorded_at.desc(), _steps.c.id, _datasets.c.position)
            .limit(limit)
        )
        with self.database.transaction() as conn:
            return [_dataset_use(row) for row in conn.execute(stmt)]

    # artifacts ----------------------------------------------------------------------
    def get_artifact(self, artifact_id: str) -> ArtifactRecord:
        with self.database.transaction() as conn:
            row = self._find_one(conn, _artifacts, artifact_id, "artifact", _ARTIFACTS_HINT)
        return _artifact_record(row)

    def record_artifact(self, draft: ArtifactDraft) -> ArtifactRecord:
        aid = tables.artifact_id(draft.content_hash, draft.data_type, draft.materializer)
        values = _artifact_row(aid, draft, self.database.now())

        def write() -> sa.Row[Any]:  # idempotent: insert-or-keep, then read back
            with self.database.transaction() as conn:
                conn.execute(self._insert_artifact, values)
                return conn.execute(sa.select(_artifacts).where(_artifacts.c.id == aid)).one()

        return _artifact_record(self.database.retrying(write))

    def list_artifacts(self, *, after: str | None = None, limit: int = 500) -> list[ArtifactRecord]:
        if limit < 1:
            return []
        stmt = sa.select(_artifacts).order_by(_artifacts.c.id).limit(limit)
        if after is not None:
            stmt = stmt.where(_artifacts.c.id > after)
        with self.database.transaction() as conn:
            return [_artifact_record(row) for row in conn.execute(stmt)]

    def get_lineage(self, artifact_id: str) -> Lineage:
        with self.database.transaction() as conn:
            artifact = self._find_one(conn, _artifacts, artifact_id, "artifact", _ARTIFACTS_HINT)
            rows = conn.execute(
                sa.select(_lineage.c.direction, _steps.c.run_id, _steps.c.name, _steps.c.id)
                .select_from(_lineage.join(_steps, _steps.c.id == _lineage.c.step_run_id))
                .where(_lineage.c.artifact_id == artifact.id)
                .order_by(_steps.c.recorded_at, _steps.c.id)
            ).all()
        # dict.fromkeys: a step that outputs (or takes) the same artifact twice counts once.
        produced = dict.fromkeys((r.run_id, r.name, r.id) for r in rows if r.direction == "output")
        consumed = dict.fromkeys((r.run_id, r.name, r.id) for r in rows if r.direction == "input")
        return Lineage(
            artifact=_artifact_record(artifact),
            produced_by=list(produced),
            consumed_by=list(consumed),
        )


# rows <-> records -----------------------------------------------------------------------
_STEP_WITH_EDGES = sa.select(
    _steps,
    _lineage.c.direction.label("edge_direction"),
    _lineage.c.name.label("edge_name"),
    _lineage.c.artifact_id.label("edge_artifact"),
).select_from(_steps.outerjoin(_lineage, _lineage.c.step_run_id == _steps.c.id))


_DATASET_USES = sa.select(
    _datasets.c.dataset,
    _datasets.c.version,
    _datasets.c.direction,
    _steps.c.run_id,
    _steps.c.name,
).select_from(_datasets.join(_steps, _steps.c.id == _datasets.c.step_run_id))


def _dataset_rows(step_id: str, uses: Sequence[DatasetUse]) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str, int], dict[str, Any]] = {}
    for use in uses:
        if use.direction not in ("input", "output"):
            raise MetadataError(
                f"Dataset use {use.dataset}@{use.version} has direction {use.direction!r}; "
                "use 'input' or 'output'."
            )
        key = (use.direction, use.dataset, int(use.version))
        rows.setdefault(
            key,
            {
                "step_run_id": step_id,
                "direction": use.direction,
                "dataset": use.dataset,
                "version": int(use.version),
                "position": len(rows),
            },
        )
    return list(rows.values())


def _dataset_use(row: sa.Row[Any, Any, Any, Any, Any]) -> DatasetUse:
    return DatasetUse(
        dataset=row.dataset,
        version=int(row.version),
        direction=row.direction,
        run_id=row.run_id,
        step=row.name,
    )


#: A cursor is the last run's start (UTC, microseconds) and id: URL-safe as it is.
_CURSOR_TIME = "%Y%m%dT%H%M%S.%fZ"


def _cursor(created_at: datetime, run_id: str) -> str:
    return f"{created_at.astimezone(UTC).strftime(_CURSOR_TIME)}~{run_id}"


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    at, sep, run_id = cursor.partition("~")
    try:
        parsed: datetime | None = datetime.strptime(at, _CURSOR_TIME).replace(tzinfo=UTC)
    except ValueError:
        parsed = None
    if not sep or parsed is None or not run_id or not _HEX.match(run_id):
        raise MetadataError(
            f"Not a cursor of this store: {cursor!r}. Start again from the first page."
        )
    return parsed, run_id


def _step_counts(conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    """(steps, cache hits, failed) per run, in one grouped query over the page's runs."""
    if not run_ids:
        return {}
    stmt = (
        sa.select(
            _steps.c.run_id,
            sa.func.count(),
            sa.func.sum(sa.case((_steps.c.cache_hit, 1), else_=0)),
            sa.func.sum(sa.case((_steps.c.status == "failed", 1), else_=0)),
        )
        .where(_steps.c.run_id.in_(run_ids))
        .group_by(_steps.c.run_id)
    )
    return {
        row[0]: (int(row[1]), int(row[2] or 0), int(row[3] or 0))
        for row in conn.execute(stmt).all()
    }


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _edges(step_id: str, direction: str, ids: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "step_run_id": step_id,
            "direction": direction,
            "name": edge,
            "position": position,
            "artifact_id": aid,
        }
        for position, (edge, aid) in enumerate(ids.items())
    ]


def _check_artifacts_exist(conn: sa.Connection, ids: Iterable[str], run_id: str, name: str) -> None:
    wanted = set(ids)
    found = set(
        conn.execute(sa.select(_artifacts.c.id).where(_artifacts.c.id.in_(wanted))).scalars()
    )
    missing = sorted(wanted - found)
    if missing:
        raise RecordNotFoundError(
            f"Cannot record step {name!r} of run {run_id[:8]}: no artifact with id "
            f"{', '.join(repr(m) for m in missing)}. Inputs and cache hits must refer to "
            "recorded artifacts (full ids)."
        )


def _artifact_row(aid: str, draft: ArtifactDraft, now: datetime) -> dict[str, Any]:
    return {
        "id": aid,
        "uri": draft.uri,
        "content_hash": draft.content_hash,
        "size": draft.size,
        "data_type": draft.data_type,
        "materializer": draft.materializer,
        "materializer_version": draft.materializer_version,
        "unsafe": draft.unsafe,
        "created_at": now,
    }


def _artifact_record(row: sa.Row[Any]) -> ArtifactRecord:
    return ArtifactRecord(
        id=row.id,
        uri=row.uri,
        content_hash=row.content_hash,
        size=row.size,
        data_type=row.data_type,
        materializer=row.materializer,
        materializer_version=row.materializer_version,
        unsafe=bool(row.unsafe),
        created_at=row.created_at,
    )


def _step_records(rows: Sequence[sa.Row[Any]]) -> list[StepRunRecord]:
    """Fold step rows joined with their lineage edges into records, keeping row order."""
    steps: dict[str, StepRunRecord] = {}
    for row in rows:
        record = steps.get(row.id)
        if record is None:
            record = steps[row.id] = StepRunRecord(
                id=row.id,
                run_id=row.run_id,
                name=row.name,
                status=row.status,
                cache_key=row.cache_key,
                cache_hit=bool(row.cache_hit),
                started_at=row.started_at,
                ended_at=row.ended_at,
                duration_s=row.duration_s,
                attempts=row.attempts,
                error=row.error,
            )
        if row.edge_direction == "input":
            record.inputs[row.edge_name] = row.edge_artifact
        elif row.edge_direction == "output":
            record.outputs[row.edge_name] = row.edge_artifact
    return list(steps.values())
