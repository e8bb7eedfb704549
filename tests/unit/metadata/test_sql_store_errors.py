"""SqlMetadataStore: opening, schema versions and the errors users meet.

The behaviour shared by every adapter is in tests/contract/test_metadata_store.py; these
tests cover what is particular to the SQL adapter: unreachable servers, schema
revisions written by other dockyard versions, SQLite's settings.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from dockyard.errors import MetadataError, MetadataUnavailableError, SchemaVersionError
from dockyard.metadata import sql_store
from dockyard.metadata.models import metadata as all_tables
from dockyard.metadata.sql_store import HEAD_REVISION, SqlMetadataStore


def _revisions(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]


def test_unreachable_postgres_names_the_url_without_password() -> None:
    """A stack pointing at a database that is down must say so, quickly and in words,
    naming the URL (password masked: the message lands in CI logs) and the fix."""
    url = "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/x"
    started = time.monotonic()
    with pytest.raises(MetadataUnavailableError) as info:
        SqlMetadataStore(url)
    message = str(info.value)
    assert time.monotonic() - started < 10
    assert "hunter2" not in message
    assert message == (
        "Cannot reach the metadata database at postgresql+psycopg://postgres:***@127.0.0.1:1/x: "
        "connection refused. Check that PostgreSQL is running and the URL in the stack's "
        "metadata_store is right."
    )
    assert isinstance(info.value, ConnectionError)
    assert info.value.__cause__ is not None


@pytest.mark.parametrize(
    ("url", "error", "expected"),
    [
        ("not a url", MetadataError, "Invalid metadata database URL 'not a url'"),
        ("postgresql+psycopg://u:hunter2@h:port/db", MetadataError, "u:***@h:port"),
        ("mysql+nosuchdriver://u:hunter2@h/db", MetadataUnavailableError, "not installed"),
    ],
)
def test_bad_urls_are_explained(url: str, error: type[Exception], expected: str) -> None:
    """A typo in the stack file must produce a message about the URL (with the password
    still masked), not a driver traceback."""
    with pytest.raises(error) as info:
        SqlMetadataStore(url)
    assert expected in str(info.value)
    assert "hunter2" not in str(info.value)


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    """Pointing the store at some other file must say so rather than crash in a query."""
    path = tmp_path / "notes.db"
    path.write_text("not sqlite " * 500)
    with pytest.raises(MetadataUnavailableError, match="file is not a database"):
        SqlMetadataStore(f"sqlite:///{path}")


def test_database_from_a_newer_dockyard_is_refused(tmp_path: Path) -> None:
    """An older dockyard must not write into a schema it does not understand (it could
    corrupt data a newer one relies on); the user is told to upgrade dockyard."""
    db = tmp_path / "metadata.db"
    SqlMetadataStore(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'zzzz_future'")
    with pytest.raises(SchemaVersionError) as info:
        SqlMetadataStore(f"sqlite:///{db}")
    message = str(info.value)
    assert "zzzz_future" in message
    assert f"newest known: {HEAD_REVISION}" in message
    assert "pip install -U dockyard" in message
    assert _revisions(db) == ["zzzz_future"]  # untouched


def test_empty_database_is_created_at_head(tmp_path: Path) -> None:
    """`dockyard init` needs no setup step: the first open creates the schema, and the
    parent folder of the SQLite file."""
    db = tmp_path / "deep" / "er" / "metadata.db"
    SqlMetadataStore(f"sqlite:///{db}").close()
    assert _revisions(db) == [HEAD_REVISION]


def test_older_known_database_is_upgraded(tmp_path: Path) -> None:
    """Upgrading dockyard must upgrade an existing project's database on first open,
    keeping its data (runs recorded by the old version stay visible)."""
    from alembic import command

    db = tmp_path / "metadata.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        command.upgrade(sql_store.alembic_config(conn), "0001")  # as dockyard 0.1 left it
        conn.execute(sa.text("INSERT INTO pipelines VALUES ('p', '2024-01-01 00:00:00')"))
        conn.execute(
            sa.text(
                "INSERT INTO runs VALUES ('0123456789abcdef0123456789abcdef', 'p', "
                "'completed', 'default', '{}', '{}', '2024-01-01 00:00:00', NULL, NULL)"
            )
        )
    engine.dispose()
    assert _revisions(db) == ["0001"]

    store = SqlMetadataStore(f"sqlite:///{db}")
    try:
        assert store.get_run("01234567").pipeline == "p"
        assert store.list_models() == []  # the 0002 tables exist
    finally:
        store.close()
    assert _revisions(db) == [sql_store.HEAD_REVISION]


def test_sqlite_file_uses_wal_and_settings(tmp_path: Path) -> None:
    """WAL lets readers (the CLI, the UI) run while a pipeline writes; NORMAL sync avoids
    an fsync per step; busy_timeout makes concurrent writers wait instead of failing;
    foreign keys make replacing a step run cascade to its lineage."""
    db = tmp_path / "metadata.db"
    store = SqlMetadataStore(f"sqlite:///{db}", busy_timeout_s=7, unknown_option="ignored")
    try:
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        with store._engine.connect() as conn:
            pragma = conn.exec_driver_sql
            assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert pragma("PRAGMA busy_timeout").scalar() == 7000
            assert pragma("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.close()


def test_head_revision_is_alembics_head() -> None:
    """The fast open path compares against HEAD_REVISION without importing Alembic; a
    new migration that forgets to bump it would leave databases un-upgraded."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(sql_store.alembic_config())
    assert script.get_heads() == [HEAD_REVISION]
    assert SqlMetadataStore.HEAD_REVISION == HEAD_REVISION


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_migrations_match_the_models(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The tables come from the migrations, the queries from the models: the two must
    describe the same schema, on every database, or a query breaks in production only."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/metadata.db"
    else:
        url = request.getfixturevalue("postgres_url")
    SqlMetadataStore(url).close()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, all_tables) == []
    finally:
        engine.dispose()


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )


def test_opening_a_current_database_does_not_import_alembic(tmp_path: Path) -> None:
    """Every CLI call and step opens the store: at head that must be one small query,
    not an Alembic script-directory scan."""
    url = f"sqlite:///{tmp_path}/metadata.db"
    SqlMetadataStore(url).close()
    out = _run_python(
        "import sys\n"
        "from dockyard.metadata.sql_store import SqlMetadataStore\n"
        f"SqlMetadataStore({url!r}).close()\n"
        "print('alembic' in sys.modules)\n"
    )
    assert out.stdout.strip() == "False"


def test_importing_the_metadata_package_does_not_import_sqlalchemy() -> None:
    """The records and the port are imported by every context; SQLAlchemy loads only
    when a SQL store is actually opened (import time matters for the CLI)."""
    out = _run_python("import sys, dockyard.metadata\nprint('sqlalchemy' in sys.modules)\n")
    assert out.stdout.strip() == "False"


def _open_concurrently(url: str, workers: int = 6) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def open_and_write() -> None:
        try:
            barrier.wait()
            store = SqlMetadataStore(url)
            store.create_run("p", spec={}, params={}, stack="default")
            store.close()
        except BaseException as exc:  # returned to the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=open_and_write) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_concurrent_first_open_creates_the_schema_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Parallel workers of a fresh project open the store at the same moment: exactly
    one creates the schema, the others wait and use it; none fails."""
    for trial in range(3 if backend == "sqlite" else 1):
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path}/{trial}/metadata.db"
        else:
            url = request.getfixturevalue("postgres_url")
        assert _open_concurrently(url) == []
        store = SqlMetadataStore(url)
        try:
            assert len(store.list_runs()) == 6
        finally:
            store.close()
