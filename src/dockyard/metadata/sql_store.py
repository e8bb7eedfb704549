"""The SQL metadata store: SQLite by default, PostgreSQL for teams.

``SqlMetadataStore(url)`` opens (and creates or upgrades) the database at ``url``:

- ``sqlite:///.dockyard/metadata.db``: a file, in WAL mode, safe from many threads and
  processes; the parent folder is created.
- ``sqlite:///:memory:``: one shared in-memory connection, for tests.
- ``postgresql+psycopg://user:password@host:5432/db``: for teams.

Every call uses its own pooled connection and transaction and returns frozen records
from :mod:`dockyard.metadata.base`. Writes go through SQLAlchemy Core (the ORM classes
in :mod:`dockyard.metadata.models` only describe the tables): the per-step cost is a
handful of statements in one transaction.

Schema versions
---------------
The schema is owned by the Alembic migrations in ``dockyard/metadata/migrations``. On
open, the store reads ``alembic_version`` with a plain query: at :data:`HEAD_REVISION`
it does nothing more (Alembic is not even imported). An empty or older database is
upgraded to head; a revision this dockyard does not know (a newer dockyard wrote it)
raises :class:`~dockyard.errors.SchemaVersionError`.

Adding a migration (e.g. ``0002`` for the model registry):

1. Change or add the models in ``models.py``.
2. Add ``migrations/versions/0002_<what>.py`` with ``revision = "0002"`` and
   ``down_revision = "0001"``. Write the operations out (``op.create_table``,
   ``op.add_column``...); on SQLite wrap column changes in ``op.batch_alter_table``.
   The file name starts with the revision id. To draft the operations, run
   ``alembic.autogenerate.produce_migrations`` against a database at the previous head.
3. Set :data:`HEAD_REVISION` below to ``"0002"``.
4. The unit tests check that :data:`HEAD_REVISION` is Alembic's head and that an
   upgraded empty database matches the models exactly.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from dockyard._urls import mask_password
from dockyard.errors import (
    MetadataError,
    MetadataUnavailableError,
    RecordNotFoundError,
    SchemaVersionError,
)
from dockyard.metadata import models
from dockyard.metadata.base import (
    ArtifactDraft,
    ArtifactRecord,
    Lineage,
    MetadataStore,
    RunRecord,
    RunStatus,
    StepRunRecord,
    StepStatus,
)
from dockyard.metadata.sql_deployments import SqlDeploymentsMixin
from dockyard.metadata.sql_registry import SqlModelRegistryMixin

#: The newest schema revision this dockyard knows (the last file in migrations/versions).
HEAD_REVISION = "0003"
#: Where the Alembic scripts live (``env.py`` and ``versions/``).
MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_MIGRATION_LOCK = threading.Lock()

MIN_PREFIX = 4
_HEX = re.compile(r"^[0-9a-f]+$")
_RUN_STATUSES = frozenset(("running", "completed", "failed"))
_STEP_STATUSES = frozenset(("running", "completed", "cached", "failed", "skipped"))
#: Step statuses whose outputs a later run may reuse.
_REUSABLE = ("completed", "cached")

_pipelines = models.pipelines
_runs = models.runs
_steps = models.step_runs
_logs = models.step_logs
_artifacts = models.artifacts
_lineage = models.lineage

_RUNS_HINT = "List runs with: dockyard runs list"
_ARTIFACTS_HINT = "Artifact ids are shown by: dockyard runs show RUN_ID"


def mask_url(url: str | sa.URL) -> str:
    """``url`` with its password replaced by ``***`` (unchanged when it has none)."""
    parsed = sa.make_url(url)
    if parsed.password is None:
        # Rendering would percent-escape the path (sqlite:///%3Amemory%3A); keep it as given.
        return str(url) if isinstance(url, str) else url.render_as_string()
    return parsed.render_as_string(hide_password=True)


# schema ---------------------------------------------------------------------------------
def read_revisions(conn: sa.Connection) -> list[str]:
    """The revisions stamped in ``alembic_version`` ([] for an empty database)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return []
    return list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


def alembic_config(connection: sa.Connection | None = None) -> Any:
    """An Alembic ``Config`` built in code (no alembic.ini), bound to ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def known_revisions() -> set[str]:
    """Every revision id in the migration scripts (imports Alembic)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def upgrade_schema(engine: sa.Engine, display_url: str = "") -> None:
    """Bring the database to :data:`HEAD_REVISION`, or refuse one from a newer dockyard.

    Raises:
        SchemaVersionError: the database carries a revision these migrations do not know.
    """
    from alembic import command

    # Alembic keeps its migration context in module globals: one upgrade at a time per
    # process. Across processes, the database's own lock does the same (see env.py).
    with _MIGRATION_LOCK, engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # Take the write lock first so concurrent openers migrate one at a time; the
            # later ones then find the schema at head and do nothing.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        current = read_revisions(conn)
        if current == [HEAD_REVISION]:
            conn.rollback()
            return
        unknown = sorted(set(current) - known_revisions())
        if unknown:
            conn.rollback()
            where = f" at {mask_url(display_url)}" if display_url else ""
            raise SchemaVersionError(
                f"The metadata database{where} is at schema revision {', '.join(unknown)}, "
                f"newer than this dockyard knows (newest known: {HEAD_REVISION}); a newer "
                "dockyard wrote it. Upgrade dockyard (pip install -U dockyard)."
            )
        command.upgrade(alembic_config(conn), "head")
        conn.commit()


# engines --------------------------------------------------------------------------------
def _is_memory(url: sa.URL) -> bool:
    db = url.database or ""
    return db in ("", ":memory:") or db.startswith("file::memory:") or "mode=memory" in db


def _sqlite_engine(url: sa.URL, *, busy_timeout_s: float, echo: bool) -> sa.Engine:
    memory = _is_memory(url)
    if memory:
        engine = sa.create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}, echo=echo
        )
    else:
        if url.database and not url.database.startswith("file:"):
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_s},
            echo=echo,
        )

    busy_ms = int(busy_timeout_s * 1000)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        if not memory:
            # WAL: readers never block the writer; NORMAL is durable across app crashes
            # and needs no fsync per commit.
            _enable_wal(cursor, busy_timeout_s)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")  # replacing a step run cascades
        cursor.close()

    return engine


def _enable_wal(cursor: Any, timeout_s: float) -> None:
    """Switch the file to WAL (persistent). Retried: the switch does not wait on
    ``busy_timeout`` when several connections open a brand-new file at once."""
    deadline = time.monotonic() + timeout_s
    delay = 0.002
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _create_engine(url: sa.URL, options: Mapping[str, Any]) -> sa.Engine:
    echo = bool(options.get("echo", False))
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(
            url, busy_timeout_s=float(options.get("busy_timeout_s", 30.0)), echo=echo
        )
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(1, round(float(options.get("connect_timeout_s", 3))))
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args, echo=echo)


def _reason(exc: BaseException) -> str:
    """The driver's one-line reason for a failed connection ("connection refused")."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    if not lines:
        return type(orig).__name__
    for line in lines:
        if "refused" in line.lower():
            return "connection refused"
    return lines[0].rstrip(".")


# the store ------------------------------------------------------------------------------
class SqlMetadataStore(SqlModelRegistryMixin, SqlDeploymentsMixin, MetadataStore):
    """Metadata on SQLAlchemy: SQLite (file or memory) or PostgreSQL.

    Args:
        url: an SQLAlchemy URL, e.g. ``sqlite:///.dockyard/metadata.db`` or
            ``postgresql+psycopg://user:pw@host/db``.
        **options: ``busy_timeout_s`` (SQLite, default 30), ``connect_timeout_s``
            (PostgreSQL, default 3), ``echo``. Unknown options are ignored, so a stack
            file can carry options for other stores.

    Raises:
        MetadataUnavailableError: the database cannot be reached.
        SchemaVersionError: the database was written by a newer dockyard.
    """

    flavor: ClassVar[str] = "sql"
    HEAD_REVISION: ClassVar[str] = HEAD_REVISION

    def __init__(self, url: str, **options: Any) -> None:
        try:
            self._url = sa.make_url(url)
        except (sa.exc.ArgumentError, ValueError) as exc:
            shown = mask_password(str(url))
            raise MetadataError(
                f"Invalid metadata database URL {shown!r}. Use sqlite:///path/to/metadata.db "
                "or postgresql+psycopg://user:password@host:5432/db."
            ) from exc
        self._masked_url = mask_url(str(url))
        try:
            self._engine = _create_engine(self._url, options)
        except (ImportError, sa.exc.NoSuchModuleError) as exc:  # drivers are optional extras
            raise MetadataUnavailableError(
                f"Cannot open the metadata database at {self._masked_url}: its driver is not "
                f"installed ({exc}). For PostgreSQL: pip install 'dockyard[postgres]'."
            ) from exc
        self._dialect = self._engine.dialect.name
        # One shared in-memory connection cannot hold two transactions at once.
        self._lock: AbstractContextManager[Any] = (
            threading.RLock() if isinstance(self._engine.pool, StaticPool) else nullcontext()
        )
        self._clock_lock = threading.Lock()
        self._last_time = datetime.min.replace(tzinfo=UTC)
        self._insert_pipeline = self._insert_ignore(_pipelines)
        self._insert_artifact = self._insert_ignore(_artifacts)
        self._open()

    def __repr__(self) -> str:
        return f"SqlMetadataStore({self._masked_url!r})"

    # plumbing -----------------------------------------------------------------------
    def _open(self) -> None:
        try:
            with self._lock, self._engine.connect() as conn:
                current = read_revisions(conn)
            if current != [HEAD_REVISION]:
                with self._lock:
                    upgrade_schema(self._engine, self._masked_url)
        except (sa.exc.OperationalError, sa.exc.DatabaseError) as exc:
            # DatabaseError: e.g. the SQLite file is not a database.
            self._engine.dispose()
            raise self._unavailable(exc) from exc
        except BaseException:
            self._engine.dispose()
            raise

    def _unavailable(self, exc: BaseException) -> MetadataUnavailableError:
        masked = self._masked_url
        if self._dialect == "postgresql":
            fix = (
                "Check that PostgreSQL is running and the URL in the stack's "
                "metadata_store is right."
            )
        else:
            fix = "Check the URL in the stack's metadata_store and that the file is writable."
        return MetadataUnavailableError(
            f"Cannot reach the metadata database at {masked}: {_reason(exc)}. {fix}"
        )

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        """One connection and transaction: committed on success, rolled back on error."""
        with self._lock:
            try:
                conn = self._engine.connect()
            except sa.exc.OperationalError as exc:
                raise self._unavailable(exc) from exc
            with conn, conn.begin():
                yield conn

    def _now(self) -> datetime:
        """UTC now, strictly increasing within this store so order by time is stable."""
        with self._clock_lock:
            now = datetime.now(UTC)
            if now <= self._last_time:
                now = self._last_time + timedelta(microseconds=1)
            self._last_time = now
            return now

    def _insert_ignore(self, table: sa.Table) -> sa.Executable:
        """INSERT that skips rows whose key exists (a race-free upsert-or-keep)."""
        if self._dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table).on_conflict_do_nothing()
        if self._dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        return table.insert().prefix_with("IGNORE", dialect="mysql")

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
        if len(key) == models.ID_LENGTH:
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
        if len(run_id) == models.ID_LENGTH:
            return run_id
        return str(self._find_one(conn, _runs, run_id, "run", _RUNS_HINT).id)

    # runs ---------------------------------------------------------------------------
    def create_run(
        self, pipeline: str, *, spec: Mapping[str, Any], params: Mapping[str, Any], stack: str
    ) -> RunRecord:
        record = RunRecord(
            id=uuid.uuid4().hex,
            pipeline=pipeline,
            status="running",
            stack=stack,
            params=dict(params),
            spec=dict(spec),
            created_at=self._now(),
        )
        with self._tx() as conn:
            conn.execute(self._insert_pipeline, {"name": pipeline, "created_at": record.created_at})
            conn.execute(
                _runs.insert(),
                {
                    "id": record.id,
                    "pipeline": pipeline,
                    "status": record.status,
                    "stack": stack,
                    "params": record.params,
                    "spec": record.spec,
                    "created_at": record.created_at,
                    "ended_at": None,
                    "error": None,
                },
            )
        return record

    def finish_run(self, run_id: str, status: RunStatus, error: str | None = None) -> None:
        if status not in _RUN_STATUSES:
            raise MetadataError(
                f"Unknown run status {status!r}: use one of {', '.join(sorted(_RUN_STATUSES))}."
            )
        ended = None if status == "running" else self._now()
        with self._tx() as conn:
            full_id = self._run_id(conn, run_id)
            result = conn.execute(
                _runs.update()
                .where(_runs.c.id == full_id)
                .values(status=status, ended_at=ended, error=error)
            )
            if result.rowcount == 0:
                raise RecordNotFoundError(f"No run matches {run_id!r}. {_RUNS_HINT}")

    def get_run(self, run_id: str) -> RunRecord:
        with self._tx() as conn:
            return _run_record(self._find_one(conn, _runs, run_id, "run", _RUNS_HINT))

    def list_runs(self, *, pipeline: str | None = None, limit: int = 50) -> list[RunRecord]:
        if limit < 1:
            return []
        stmt = sa.select(_runs).order_by(_runs.c.created_at.desc()).limit(limit)
        if pipeline is not None:
            stmt = stmt.where(_runs.c.pipeline == pipeline)
        with self._tx() as conn:
            return [_run_record(row) for row in conn.execute(stmt)]

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
    ) -> StepRunRecord:
        if status not in _STEP_STATUSES:
            raise MetadataError(
                f"Unknown step status {status!r} for step {name!r}: use one of "
                f"{', '.join(sorted(_STEP_STATUSES))}."
            )
        now = self._now()
        step_id = uuid.uuid4().hex
        input_ids = dict(inputs or {})
        output_ids: dict[str, str] = {}
        new_artifacts: dict[str, dict[str, Any]] = {}
        referenced = set(input_ids.values())
        for out, value in (outputs or {}).items():
            if isinstance(value, ArtifactDraft):
                aid = models.artifact_id(value.content_hash, value.data_type, value.materializer)
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

        try:
            with self._tx() as conn:
                if referenced:
                    _check_artifacts_exist(conn, referenced, run_id, name)
                # Cascades to the old record's lineage and logs (a resumed run re-executes).
                conn.execute(
                    _steps.delete().where(_steps.c.run_id == run_id, _steps.c.name == name)
                )
                conn.execute(
                    _steps.insert(),
                    {
                        "id": step_id,
                        "run_id": run_id,
                        "name": name,
                        "status": status,
                        "cache_key": cache_key,
                        "cache_hit": cache_hit,
                        "started_at": started_at,
                        "ended_at": ended_at,
                        "duration_s": duration,
                        "attempts": attempts,
                        "error": error,
                        "recorded_at": now,
                    },
                )
                if new_artifacts:
                    conn.execute(self._insert_artifact, list(new_artifacts.values()))
                if edges:
                    conn.execute(_lineage.insert(), edges)
                if logs:
                    conn.execute(_logs.insert(), {"step_run_id": step_id, "text": logs})
        except sa.exc.IntegrityError as exc:
            with self._tx() as conn:
                exists = conn.execute(sa.select(_runs.c.id).where(_runs.c.id == run_id)).first()
            if exists is None:
                raise RecordNotFoundError(
                    f"Cannot record step {name!r}: no run {run_id!r}. Create the run first "
                    f"(MetadataStore.create_run). {_RUNS_HINT}"
                ) from exc
            raise

        return StepRunRecord(
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

    def get_step_run(self, run_id: str, name: str) -> StepRunRecord:
        with self._tx() as conn:
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
        with self._tx() as conn:
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
        with self._tx() as conn:
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
        with self._tx() as conn:
            rows = conn.execute(
                _STEP_WITH_EDGES.where(_steps.c.id == latest).order_by(_lineage.c.position)
            ).all()
        return _step_records(rows)[0] if rows else None

    # artifacts ----------------------------------------------------------------------
    def get_artifact(self, artifact_id: str) -> ArtifactRecord:
        with self._tx() as conn:
            row = self._find_one(conn, _artifacts, artifact_id, "artifact", _ARTIFACTS_HINT)
        return _artifact_record(row)

    def get_lineage(self, artifact_id: str) -> Lineage:
        with self._tx() as conn:
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

    # lifecycle ----------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {"flavor": self.flavor, "url": self._masked_url}

    def close(self) -> None:
        self._engine.dispose()


# rows <-> records -----------------------------------------------------------------------
_STEP_WITH_EDGES = sa.select(
    _steps,
    _lineage.c.direction.label("edge_direction"),
    _lineage.c.name.label("edge_name"),
    _lineage.c.artifact_id.label("edge_artifact"),
).select_from(_steps.outerjoin(_lineage, _lineage.c.step_run_id == _steps.c.id))


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


def _run_record(row: sa.Row[Any]) -> RunRecord:
    return RunRecord(
        id=row.id,
        pipeline=row.pipeline,
        status=row.status,
        stack=row.stack,
        params=dict(row.params or {}),
        spec=dict(row.spec or {}),
        created_at=row.created_at,
        ended_at=row.ended_at,
        error=row.error,
    )


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
