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

Failures are the kernel's to explain, so every store gets the same errors: a statement
that fails for the database's sake (a dropped connection, a SQLite lock held past the
busy timeout, a full disk, a read-only file) leaves :meth:`~Database.transaction` as one
line naming the database and the fix (:mod:`dockyard.db.faults`), never SQLAlchemy's
multi-line ``[SQL: ...]`` text. Integrity errors pass through: only the store knows what
a broken constraint means. :meth:`~Database.retrying` re-runs an idempotent write a few
times over about a second when the connection itself failed (a restart, a dropped
connection).

A SQLite file whose folder this user cannot write (a project on read-only media, another
user's project) is opened read-only, and so is any database opened with
``readonly=True``: reads work, writes fail with a one-line error saying so.
"""

from __future__ import annotations

import contextvars
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.pool import QueuePool, StaticPool

from dockyard._urls import mask_password
from dockyard.db import faults
from dockyard.db.migrate import HEAD_REVISION, known_revisions, read_revisions, upgrade_schema
from dockyard.errors import MetadataError, MetadataUnavailableError, SchemaVersionError

T = TypeVar("T")

#: Pauses between the tries of an idempotent write whose connection failed: four tries
#: over about a second, enough for a restart or a dropped connection, short enough that
#: a real outage is reported quickly.
RETRY_DELAYS_S = (0.1, 0.3, 0.6)

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


def _sqlite_engine(
    url: sa.URL, *, busy_timeout_s: float, echo: bool, readonly: bool, immutable: bool
) -> sa.Engine:
    memory = _is_memory(url)
    if memory:
        engine = sa.create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}, echo=echo
        )
    elif readonly:
        # mode=ro never writes; immutable=1 also skips the -shm file, which a WAL
        # database needs and a folder this user cannot write cannot hold.
        uri = f"file:{quote(os.path.abspath(url.database or ''))}?mode=ro"
        if immutable:
            uri += "&immutable=1"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=busy_timeout_s)

        engine = sa.create_engine("sqlite://", creator=connect, poolclass=QueuePool, echo=echo)
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
        if not memory and not readonly:
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


def _create_engine(
    url: sa.URL, options: Mapping[str, Any], *, readonly: bool, immutable: bool = False
) -> sa.Engine:
    echo = bool(options.get("echo", False))
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(
            url,
            busy_timeout_s=float(options.get("busy_timeout_s", 30.0)),
            echo=echo,
            readonly=readonly,
            immutable=immutable,
        )
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(1, round(float(options.get("connect_timeout_s", 3))))
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args, echo=echo)


def _unwritable(path: str) -> str | None:
    """Why this user cannot write the SQLite file at ``path`` (None: it can)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return f"{path} is not writable by this user"
    if os.path.isdir(folder) and not os.access(folder, os.W_OK | os.X_OK):
        return f"its folder {folder} is not writable by this user"
    return None


# the kernel -----------------------------------------------------------------------------
class Database:
    """One SQL database (SQLite file or memory, PostgreSQL) at the current schema.

    Args:
        url: an SQLAlchemy URL, e.g. ``sqlite:///.dockyard/metadata.db`` or
            ``postgresql+psycopg://user:pw@host/db``.
        readonly: open a SQLite file read-only (reads work, writes fail with an error
            saying so; an older schema is not upgraded). ``None`` (the default): only
            when this user cannot write the file or its folder. PostgreSQL ignores it.
        **options: ``busy_timeout_s`` (SQLite, default 30), ``connect_timeout_s``
            (PostgreSQL, default 3), ``retry_delays_s`` (the pauses between tries of an
            idempotent write, default :data:`RETRY_DELAYS_S`), ``echo``. Unknown options
            are ignored, so a stack file can carry options for other stores.

    Raises:
        MetadataError: the URL is not a database URL; a read-only database is older
            than this dockyard.
        MetadataUnavailableError: the database cannot be reached.
        SchemaVersionError: the database was written by a newer dockyard.
    """

    HEAD_REVISION = HEAD_REVISION

    def __init__(self, url: str, *, readonly: bool | None = None, **options: Any) -> None:
        try:
            self._url = sa.make_url(url)
        except (sa.exc.ArgumentError, ValueError) as exc:
            shown = mask_password(str(url))
            raise MetadataError(
                f"Invalid metadata database URL {shown!r}. Use sqlite:///path/to/metadata.db "
                "or postgresql+psycopg://user:password@host:5432/db."
            ) from exc
        self.url = mask_url(str(url))
        self._options = dict(options)
        self._retry_delays = tuple(float(d) for d in options.get("retry_delays_s", RETRY_DELAYS_S))
        path = self._sqlite_path()
        why: str | None = None
        if path is not None:
            why = "opened with readonly=True" if readonly else None
            if readonly is None:
                why = _unwritable(path)
        #: Whether writes are refused (a SQLite file opened read-only).
        self.readonly = why is not None
        self._where = faults.Where(
            url=self.url,
            dialect=self._url.get_backend_name(),
            path=path,
            busy_timeout_s=float(options.get("busy_timeout_s", 30.0)),
            readonly_why=why,
        )
        try:
            self.engine = _create_engine(self._url, options, readonly=self.readonly)
        except (ImportError, sa.exc.NoSuchModuleError) as exc:  # drivers are optional extras
            raise MetadataUnavailableError(
                f"Cannot open the metadata database at {self.url}: its driver is not "
                f"installed ({exc}). For PostgreSQL: pip install 'dockyard[postgres]'."
            ) from exc
        except OSError as exc:  # the SQLite file's folder cannot be created
            raise MetadataUnavailableError(
                f"Cannot create the folder of the metadata database at {self.url}: "
                f"{exc.strerror or exc} ({exc.filename}). Check the URL in the stack's "
                "metadata_store and that its folder can be created by this user."
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
        if self.readonly:
            self._open_readonly()
        else:
            self._open()

    def __repr__(self) -> str:
        return f"Database({self.url!r})"

    def _sqlite_path(self) -> str | None:
        """The SQLite file of this database (None: PostgreSQL, or SQLite in memory)."""
        if self._url.get_backend_name() != "sqlite" or _is_memory(self._url):
            return None
        database = self._url.database or ""
        return None if database.startswith("file:") else database

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

    def _open_readonly(self) -> None:
        """Open a SQLite file without writing to it, nor to its folder."""
        path = self._where.path or ""
        if not os.path.isfile(path):
            raise MetadataUnavailableError(
                f"Cannot open the metadata database at {self.url}: there is no file {path}, "
                f"and a read-only open cannot create one ({self._where.readonly_why}). "
                "Check the metadata_store URL, or run a pipeline where the project is "
                "writable first."
            )
        try:
            current = self._read_revisions()
        except (sa.exc.OperationalError, sa.exc.DatabaseError) as exc:
            self.engine.dispose()
            # A WAL database needs its -shm file, which an unwritable folder cannot get:
            # with no pending -wal changes, the file alone is the whole database.
            wal = f"{path}-wal"
            if "readonly" not in str(exc).lower() and "unable to open" not in str(exc).lower():
                raise self.unavailable(exc) from exc
            if os.path.exists(wal) and os.path.getsize(wal) > 0:
                raise MetadataUnavailableError(
                    f"Cannot read the metadata database at {self.url} read-only "
                    f"({self._where.readonly_why}): it has changes not yet merged from "
                    f"{wal}, and reading them needs write access to its folder. Open it "
                    "once where it is writable (any dockyard command merges them), then "
                    "try again."
                ) from exc
            self.engine = _create_engine(self._url, self._options, readonly=True, immutable=True)
            try:
                current = self._read_revisions()
            except (sa.exc.OperationalError, sa.exc.DatabaseError) as again:
                self.engine.dispose()
                raise self.unavailable(again) from again
        if current == [HEAD_REVISION]:
            return
        self.engine.dispose()
        unknown = sorted(set(current) - known_revisions())
        if unknown:
            raise SchemaVersionError(
                f"The metadata database at {self.url} is at schema revision "
                f"{', '.join(unknown)}, newer than this dockyard knows (newest known: "
                f"{HEAD_REVISION}); a newer dockyard wrote it. Upgrade dockyard "
                "(pip install -U dockyard)."
            )
        shown = ", ".join(current) or "none (an empty file)"
        raise MetadataError(
            f"The metadata database at {self.url} is at schema revision {shown}, older "
            f"than this dockyard's {HEAD_REVISION}, and it is open read-only "
            f"({self._where.readonly_why}), so it cannot be upgraded. Open it once where it "
            "is writable (any dockyard command upgrades it), or use the dockyard release "
            "that wrote it."
        )

    def _read_revisions(self) -> list[str]:
        with self._lock, self.engine.connect() as conn:
            return read_revisions(conn)

    def unavailable(self, exc: BaseException) -> MetadataError:
        """The one-line error for a database that cannot be opened or reached, with the
        fix (a lock held by another process, a read-only file, a full disk, a server
        that is down...)."""
        return faults.explain(exc, self._where, connecting=True)

    def explain(self, exc: BaseException) -> MetadataError:
        """The one-line error for a statement that failed for the database's sake."""
        return faults.explain(exc, self._where)

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[sa.Connection]:
        """A connection in a transaction: committed on success, rolled back on error.

        Inside another ``transaction()`` of this database (same thread or task) it joins
        that one: the outermost block commits or rolls back everything.

        Args:
            write: the block reads, then writes what it read depends on (the next
                version number, "no alias points here, so delete"). On SQLite the write
                lock is taken at the start (``BEGIN IMMEDIATE``) so no other writer comes
                in between; on PostgreSQL the block locks the rows it reads
                (``SELECT ... FOR UPDATE``).

        Raises:
            MetadataUnavailableError: the database cannot be reached, the connection
                was lost, or a SQLite lock was held past the busy timeout.
            MetadataError: any other failure of the database (a full disk, a read-only
                file...), in one line. ``sqlalchemy.exc.IntegrityError`` is left to the
                store, which knows what the broken constraint means.
        """
        current = self._current.get()
        if current is not None:
            yield current
            return
        with self._lock:
            try:
                conn = self.engine.connect()
            except sa.exc.DBAPIError as exc:
                raise self.unavailable(exc) from exc
            token = self._current.set(conn)
            try:
                with conn, conn.begin():
                    if write and self.dialect == "sqlite":
                        conn.exec_driver_sql("BEGIN IMMEDIATE")
                    yield conn
            except sa.exc.IntegrityError:
                raise
            except sa.exc.DBAPIError as exc:
                raise self.explain(exc) from exc
            finally:
                self._current.reset(token)

    def in_transaction(self) -> bool:
        """Whether this thread (or task) is inside a :meth:`transaction` of this database."""
        return self._current.get() is not None

    def retrying(self, write: Callable[[], T]) -> T:
        """Call ``write`` (an idempotent write: running it twice leaves what running it
        once does), again after a short pause when the connection failed.

        A database restarting, or a dropped connection, fails the one statement that
        overlapped it although the database answers a moment later. Only such failures
        are retried (a lock already waited its busy timeout; a full disk stays full), a
        few times over about a second, and never inside a caller's transaction, which
        the failure has already ended.
        """
        if self.in_transaction():
            return write()
        for delay in self._retry_delays:
            try:
                return write()
            except MetadataUnavailableError as exc:
                if not faults.is_connection_error(exc.__cause__):
                    raise
            time.sleep(delay)
        return write()

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

    def upsert(self, table: sa.Table, keys: Sequence[str]) -> sa.Executable:
        """INSERT that, when a row with the same ``keys`` exists, updates its other
        columns instead, in one statement (no window between a delete and an insert)."""
        if self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(table)
            updates = {c.name: stmt.excluded[c.name] for c in table.c if c.name not in keys}
            return stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            pg_stmt = pg_insert(table)
            updates = {c.name: pg_stmt.excluded[c.name] for c in table.c if c.name not in keys}
            return pg_stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        my_stmt = mysql_insert(table)
        return my_stmt.on_duplicate_key_update(
            {c.name: my_stmt.inserted[c.name] for c in table.c if c.name not in keys}
        )

    def describe(self) -> dict[str, Any]:
        """The URL, password masked (and ``readonly`` when writes are refused)."""
        return {"url": self.url, "readonly": True} if self.readonly else {"url": self.url}

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()
