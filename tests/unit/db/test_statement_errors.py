"""Failures inside statements become one-line errors; idempotent writes outlive a blip.

Issue #8 items 21, 22 and 24: a SQLite lock held past the busy timeout, a dropped
PostgreSQL connection (``pg_terminate_backend``), a full disk used to print a long
SQLAlchemy traceback, or store a multi-line ``[SQL: ...]`` text in ``runs.error``; a
database restart overlapping one statement failed the run although the database was
back a moment later.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from dockyard.db import faults
from dockyard.db.engine import Database
from dockyard.errors import MetadataError, MetadataUnavailableError
from dockyard.metadata.sql_store import SqlMetadataStore
from dockyard.registry.sql_store import SqlRegistryStore
from dockyard.testing.metadata_store import draft, new_run


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text
    assert "[SQL" not in text
    assert "sqlalchemy" not in text.lower()
    return text


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/metadata.db"


# SQLite ---------------------------------------------------------------------------------
def test_a_lock_held_past_the_busy_timeout_names_the_fix(sqlite_url: str, tmp_path: Path) -> None:
    """Another process holding the write lock (a long transaction, a stuck writer) must
    read as exactly that, with what to do, and never as 'check the URL'."""
    store = SqlMetadataStore(sqlite_url, busy_timeout_s=0.2)
    run = new_run(store)
    holder = sqlite3.connect(tmp_path / "metadata.db")
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(MetadataUnavailableError) as info:
            store.finish_run(run, "completed")
        assert time.monotonic() - started < 5  # a lock is not retried: it already waited
        assert _one_line(info.value) == (
            f"The metadata database at {sqlite_url} is locked: another process held its "
            "write lock for more than 0.2 s. Wait for that process to finish (or stop it), "
            "then try again; to wait longer, raise busy_timeout_s in the stack's "
            "metadata_store."
        )
        assert isinstance(info.value.__cause__, sa.exc.OperationalError)
        assert store.get_run(run).status == "running"  # reads still work (WAL)
    finally:
        holder.rollback()
        holder.close()
        store.close()


def test_a_lock_while_opening_an_older_database_is_not_a_bad_url(tmp_path: Path) -> None:
    """Upgrading the schema needs the write lock too: held by another process, the
    message says locked (it used to say 'check the URL')."""
    from alembic import command

    from dockyard.db import migrate

    db = tmp_path / "metadata.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0001")
    engine.dispose()
    holder = sqlite3.connect(db)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(MetadataUnavailableError) as info:
            Database(f"sqlite:///{db}", busy_timeout_s=0.2)
        message = _one_line(info.value)
        assert message.startswith(f"The metadata database at sqlite:///{db} is locked")
        assert "URL" not in message
    finally:
        holder.rollback()
        holder.close()


def test_a_full_database_disk_names_the_folder_and_the_free_space(
    sqlite_url: str, tmp_path: Path
) -> None:
    """SQLite cannot grow the file (SQLITE_FULL): the user learns which disk to free,
    and how much is left there."""
    store = SqlMetadataStore(sqlite_url)
    run = new_run(store)
    engine = store.database.engine
    engine.dispose()

    @sa.event.listens_for(engine, "connect")
    def _no_room(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count={pages}")

    try:
        with pytest.raises(MetadataError) as info:
            store.record_step_run(run, "big", status="completed", logs="x" * 2_000_000)
        message = _one_line(info.value)
        assert message.startswith(
            f"Cannot write to the metadata database at {sqlite_url}: database or disk is "
            f"full, the disk holding {tmp_path} is full ("
        )
        assert message.endswith(
            " free). Free some space there, then try again (a pipeline run resumes from the cache)."
        )
    finally:
        sa.event.remove(engine, "connect", _no_room)
        store.close()


@pytest.mark.parametrize(("free", "full"), [(0, True), (50 * 2**30, False)])
def test_a_disk_io_error_says_whether_the_disk_is_full(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, free: int, full: bool
) -> None:
    """SQLite reports a full disk under WAL as a bare 'disk I/O error': the free space
    on the database's disk tells the two apart."""
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage(2**40, 2**40 - free, free))
    database = Database(sqlite_url)
    try:
        with pytest.raises(MetadataError) as info, database.transaction():
            raise sa.exc.OperationalError(
                "INSERT INTO runs ...", {}, sqlite3.OperationalError("disk I/O error")
            )
        message = _one_line(info.value)
        if full:
            assert message == (
                f"Cannot write to the metadata database at {sqlite_url}: disk I/O error, the "
                f"disk holding {tmp_path} is full (0 B free). Free some space there, then try "
                "again (a pipeline run resumes from the cache)."
            )
        else:
            assert message == (
                f"Cannot read or write the metadata database at {sqlite_url}: disk I/O error "
                f"(50.0 GiB free on the disk holding {tmp_path}). Check that disk (a failing "
                "disk, a network mount that went away), then try again (a pipeline run "
                "resumes from the cache)."
            )
    finally:
        database.close()


def test_an_unexpected_database_failure_is_still_one_line(sqlite_url: str) -> None:
    """Whatever else the database reports, the user reads one line naming it."""
    database = Database(sqlite_url)
    try:
        with pytest.raises(MetadataError) as info, database.transaction() as conn:
            conn.execute(sa.text("SELECT * FROM no_such_table"))
        assert _one_line(info.value) == (
            f"The metadata database at {sqlite_url} failed: no such table: no_such_table. "
            f"Check the file {sqlite_url.removeprefix('sqlite:///')}, then try again (a "
            "pipeline run resumes from the cache)."
        )
    finally:
        database.close()


def test_integrity_errors_are_left_to_the_stores(sqlite_url: str) -> None:
    """Only the store knows what a broken constraint means (no run, a taken name...)."""
    database = Database(sqlite_url)
    try:

        def insert_twice() -> None:
            with database.transaction() as conn:
                for _ in range(2):
                    conn.execute(sa.text("INSERT INTO pipelines VALUES ('p', '2024-01-01')"))

        with pytest.raises(sa.exc.IntegrityError):
            insert_twice()
    finally:
        database.close()


def test_a_write_transaction_keeps_other_writers_out(sqlite_url: str) -> None:
    """transaction(write=True) takes SQLite's write lock at its start, so what it read
    still holds when it writes (version numbers, "no alias, so delete")."""
    database = Database(sqlite_url, busy_timeout_s=5)
    order: list[str] = []
    inside = threading.Event()

    def other_writer() -> None:
        inside.wait(timeout=10)
        with database.transaction(write=True):
            order.append("other")

    thread = threading.Thread(target=other_writer)
    thread.start()
    try:
        with database.transaction(write=True):
            inside.set()
            time.sleep(0.3)
            order.append("first")
        thread.join(timeout=10)
        assert order == ["first", "other"]
    finally:
        thread.join(timeout=10)
        database.close()


def test_retrying_gives_up_on_anything_but_the_connection(sqlite_url: str) -> None:
    """A lock already waited its busy timeout and a full disk stays full: only a failed
    connection is worth another try, a bounded number of times, and never inside a
    caller's transaction (the failure has ended it)."""
    database = Database(sqlite_url, retry_delays_s=(0.01, 0.01))

    def failing(text: str, times: int) -> tuple[Callable[[], str], list[int]]:
        calls: list[int] = []

        def write() -> str:
            calls.append(1)
            if len(calls) <= times:
                with database.transaction():
                    raise sa.exc.OperationalError("UPDATE runs ...", {}, Exception(text))
            return "written"

        return write, calls

    try:
        locked, calls = failing("database is locked", 99)
        with pytest.raises(MetadataUnavailableError, match="is locked"):
            database.retrying(locked)
        assert len(calls) == 1

        blip, calls = failing("server closed the connection unexpectedly", 2)
        assert database.retrying(blip) == "written"
        assert len(calls) == 3

        outage, calls = failing("server closed the connection unexpectedly", 99)
        with pytest.raises(MetadataUnavailableError) as info:
            database.retrying(outage)
        assert len(calls) == 3
        assert _one_line(info.value) == (
            f"Lost the connection to the metadata database at {sqlite_url}: server closed "
            "the connection unexpectedly. Check that the database server is running and "
            "reachable, then try again (a pipeline run resumes from the cache)."
        )

        blip, calls = failing("server closed the connection unexpectedly", 1)
        with pytest.raises(MetadataUnavailableError), database.transaction():
            database.retrying(blip)
        assert len(calls) == 1
    finally:
        database.close()


def test_connection_errors_are_told_from_the_rest() -> None:
    """What retries hinge on: connection failures by flag, SQLSTATE or driver text."""

    class Driver(Exception):
        def __init__(self, text: str, sqlstate: str | None = None) -> None:
            super().__init__(text)
            self.sqlstate = sqlstate

    def op(text: str, sqlstate: str | None = None, invalidated: bool = False) -> BaseException:
        return sa.exc.OperationalError(
            "x", {}, Driver(text, sqlstate), connection_invalidated=invalidated
        )

    assert faults.is_connection_error(op("whatever", invalidated=True))
    assert faults.is_connection_error(op("terminating connection", "57P01"))
    assert faults.is_connection_error(op("the database system is starting up", "57P03"))
    assert faults.is_connection_error(op("connection failed: Connection refused"))
    assert faults.is_connection_error(op("no route", "08006"))
    assert not faults.is_connection_error(op("database is locked"))
    assert not faults.is_connection_error(op("could not extend file: No space left", "53100"))
    assert not faults.is_connection_error(None)


# PostgreSQL -----------------------------------------------------------------------------
@pytest.fixture
def pg_admin(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _terminate(admin: sa.Engine, pid: int) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


class _Dropper:
    """Terminates the backend of the next ``times`` statements matching ``words`` just
    before they run, as a PostgreSQL restart overlapping them would."""

    def __init__(self, engine: sa.Engine, admin: sa.Engine, words: str, times: int) -> None:
        self.engine, self.admin, self.words, self.left = engine, admin, words, times
        self.dropped = 0
        sa.event.listen(engine, "before_cursor_execute", self)

    def __call__(self, conn: sa.Connection, _c: object, statement: str, *_a: object) -> None:
        if self.left and statement.lstrip().upper().startswith(self.words):
            self.left -= 1
            self.dropped += 1
            _terminate(self.admin, conn.connection.dbapi_connection.info.backend_pid)  # type: ignore[union-attr]

    def remove(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self)


@pytest.mark.postgres
def test_a_dropped_connection_mid_transaction_is_one_line(
    postgres_url: str, pg_admin: sa.Engine
) -> None:
    """pg_terminate_backend during a transaction used to escape as an 80-line
    OperationalError with the SQL; the user reads one line with the fix."""
    database = Database(postgres_url)
    try:

        def drop_then_query() -> None:
            with database.transaction() as conn:
                pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
                _terminate(pg_admin, pid)
                conn.execute(sa.text("SELECT 1"))

        with pytest.raises(MetadataUnavailableError) as info:
            drop_then_query()
        message = _one_line(info.value)
        assert message.startswith(
            f"Lost the connection to the metadata database at {database.url}: "
        )
        assert message.endswith(
            "Check that the database server is running and reachable, then try again (a "
            "pipeline run resumes from the cache)."
        )
        assert faults.is_connection_error(info.value.__cause__)
        with database.transaction() as conn:  # the next call reconnects
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    finally:
        database.close()


@pytest.mark.postgres
def test_idempotent_writes_outlive_a_dropped_connection(
    postgres_url: str, pg_admin: sa.Engine
) -> None:
    """A restart overlapping one statement must not fail the run: record_step_run,
    finish_run and heartbeat try again on a new connection and succeed."""
    store = SqlMetadataStore(postgres_url)
    try:
        run = new_run(store)
        writes: list[tuple[str, Callable[[], object]]] = [
            (
                "DELETE FROM STEP_RUNS",
                lambda: store.record_step_run(
                    run, "train", status="completed", outputs={"m": draft("model")}
                ),
            ),
            ("UPDATE RUNS SET HEARTBEAT_AT", lambda: store.heartbeat(run)),
            ("UPDATE RUNS SET STATUS", lambda: store.finish_run(run, "completed")),
        ]
        for words, write in writes:
            dropper = _Dropper(store.database.engine, pg_admin, words, times=1)
            try:
                write()
            finally:
                dropper.remove()
            assert dropper.dropped == 1, words
        assert store.get_step_run(run, "train").outputs
        assert store.get_run(run).status == "completed"
    finally:
        store.close()


@pytest.mark.postgres
def test_a_lasting_outage_fails_fast_with_one_line(postgres_url: str, pg_admin: sa.Engine) -> None:
    """Retries are bounded: an outage that outlasts them is reported within seconds."""
    store = SqlMetadataStore(postgres_url)
    try:
        run = new_run(store)
        dropper = _Dropper(store.database.engine, pg_admin, "UPDATE RUNS", times=100)
        started = time.monotonic()
        try:
            with pytest.raises(MetadataUnavailableError) as info:
                store.finish_run(run, "completed")
        finally:
            dropper.remove()
        assert time.monotonic() - started < 10
        assert dropper.dropped == 4  # 1 + len(RETRY_DELAYS_S)
        assert _one_line(info.value).startswith("Lost the connection to the metadata database")
    finally:
        store.close()


@pytest.mark.postgres
def test_a_registration_is_not_retried_blindly(postgres_url: str, pg_admin: sa.Engine) -> None:
    """Registering a version is not idempotent (a retry after a commit whose answer was
    lost would make a second version): it fails with one line instead."""
    database = Database(postgres_url)
    try:
        runs, models = SqlMetadataStore(database), SqlRegistryStore(database)
        artifact = runs.record_artifact(draft("model")).id
        dropper = _Dropper(database.engine, pg_admin, "INSERT INTO MODEL_VERSIONS", times=1)
        try:
            with pytest.raises(MetadataUnavailableError) as info:
                models.create_model_version("churn", artifact_id=artifact)
        finally:
            dropper.remove()
        _one_line(info.value)
        assert dropper.dropped == 1
        assert models.list_models() == []
        assert models.create_model_version("churn", artifact_id=artifact).version == 1
    finally:
        database.close()
