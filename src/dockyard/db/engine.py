"""The shared database kernel: one engine, transactions and a clock for every store.

``Database(url)`` opens (and creates or upgrades) the database at ``url``:

- ``sqlite:///.dockyard/metadata.db``: a file, in WAL mode, safe from many threads and
  processes; the parent folder is created.
- ``sqlite:///:memory:``: one shared in-memory connection, for tests.
- ``postgresql+psycopg://user:password@host:5432/db``: for teams.

Every context's SQL store is built over one ``Database`` (a store *takes* a database; it
is never a mixin of another store), so all of them share one engine and pool::

    db = Database("sqlite:///:memory:")
    runs = SqlMetadataStore(db)
    models = SqlRegistryStore(db)
    with db.transaction():               # one transaction across both contexts
        artifact = runs.record_artifact(draft)
        models.create_model_version("churn", artifact_id=artifact.id)

:meth:`Database.transaction` joins the transaction already open in the same thread (or
asyncio task) on this database, so a higher layer can make writes of several contexts
atomic without any store knowing about the others.
"""

from __future__ import annotations

import contextvars
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from dockyard._urls import mask_password
from dockyard.db.migrate import HEAD_REVISION, read_revisions, upgrade_schema
from dockyard.errors import MetadataError, MetadataUnavailableError

__all__ = ["Database", "mask_url"]


def mask_url(url: str | sa.URL) -> str:
    """``url`` with its password replaced by ``***`` (unchanged when it has none)."""
    parsed = sa.make_url(url)
    if parsed.password is None:
        # Rendering would percent-escape the path (sqlite:///%3Amemory%3A); keep it as given.
        return str(url) if isinstance(url, str) else url.render_as_string()
    return parsed.render_as_string(hide_password=True)


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


# the kernel -----------------------------------------------------------------------------
class Database:
    """One SQL database (SQLite file or memory, PostgreSQL) at the current schema.

    Args:
        url: an SQLAlchemy URL, e.g. ``sqlite:///.dockyard/metadata.db`` or
            ``postgresql+psycopg://user:pw@host/db``.
        **options: ``busy_timeout_s`` (SQLite, default 30), ``connect_timeout_s``
            (PostgreSQL, default 3), ``echo``. Unknown options are ignored, so a stack
            file can carry options for other stores.

    Raises:
        MetadataError: the URL is not a database URL.
        MetadataUnavailableError: the database cannot be reached.
        SchemaVersionError: the database was written by a newer dockyard.
    """

    HEAD_REVISION = HEAD_REVISION

    def __init__(self, url: str, **options: Any) -> None:
        try:
            self._url = sa.make_url(url)
        except (sa.exc.ArgumentError, ValueError) as exc:
            shown = mask_password(str(url))
            raise MetadataError(
                f"Invalid metadata database URL {shown!r}. Use sqlite:///path/to/metadata.db "
                "or postgresql+psycopg://user:password@host:5432/db."
            ) from exc
        self.url = mask_url(str(url))
        try:
            self.engine = _create_engine(self._url, options)
        except (ImportError, sa.exc.NoSuchModuleError) as exc:  # drivers are optional extras
            raise MetadataUnavailableError(
                f"Cannot open the metadata database at {self.url}: its driver is not "
                f"installed ({exc}). For PostgreSQL: pip install 'dockyard[postgres]'."
            ) from exc
        self.dialect: str = self.engine.dialect.name
        # One shared in-memory connection cannot hold two transactions at once.
        self._lock: AbstractContextManager[Any] = (
            threading.RLock() if isinstance(self.engine.pool, StaticPool) else nullcontext()
        )
        self._clock_lock = threading.Lock()
        self._last_time = datetime.min.replace(tzinfo=UTC)
        self._current: contextvars.ContextVar[sa.Connection | None] = contextvars.ContextVar(
            f"dockyard_db_{id(self)}", default=None
        )
        self._open()

    def __repr__(self) -> str:
        return f"Database({self.url!r})"

    def _open(self) -> None:
        try:
            with self._lock, self.engine.connect() as conn:
                current = read_revisions(conn)
            if current != [HEAD_REVISION]:
                with self._lock:
                    upgrade_schema(self.engine, self.url)
        except (sa.exc.OperationalError, sa.exc.DatabaseError) as exc:
            # DatabaseError: e.g. the SQLite file is not a database.
            self.engine.dispose()
            raise self.unavailable(exc) from exc
        except BaseException:
            self.engine.dispose()
            raise

    def unavailable(self, exc: BaseException) -> MetadataUnavailableError:
        """The one-line error for a database that cannot be reached, with the fix."""
        if self.dialect == "postgresql":
            fix = (
                "Check that PostgreSQL is running and the URL in the stack's "
                "metadata_store is right."
            )
        else:
            fix = "Check the URL in the stack's metadata_store and that the file is writable."
        return MetadataUnavailableError(
            f"Cannot reach the metadata database at {self.url}: {_reason(exc)}. {fix}"
        )

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection in a transaction: committed on success, rolled back on error.

        Inside another ``transaction()`` of this database (same thread or task) it joins
        that one: the outermost block commits or rolls back everything.
        """
        current = self._current.get()
        if current is not None:
            yield current
            return
        with self._lock:
            try:
                conn = self.engine.connect()
            except sa.exc.OperationalError as exc:
                raise self.unavailable(exc) from exc
            token = self._current.set(conn)
            try:
                with conn, conn.begin():
                    yield conn
            finally:
                self._current.reset(token)

    def in_transaction(self) -> bool:
        """Whether this thread (or task) is inside a :meth:`transaction` of this database."""
        return self._current.get() is not None

    def now(self) -> datetime:
        """UTC now, strictly increasing within this process so order by time is stable."""
        with self._clock_lock:
            now = datetime.now(UTC)
            if now <= self._last_time:
                now = self._last_time + timedelta(microseconds=1)
            self._last_time = now
            return now

    def insert_ignore(self, table: sa.Table) -> sa.Executable:
        """INSERT that skips rows whose key exists (a race-free insert-or-keep)."""
        if self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table).on_conflict_do_nothing()
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        return table.insert().prefix_with("IGNORE", dialect="mysql")

    def describe(self) -> dict[str, Any]:
        """The URL, password masked."""
        return {"url": self.url}

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()
