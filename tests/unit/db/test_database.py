"""The database kernel: opening, schema versions, transactions and the errors users meet.

The behaviour shared by every adapter of each port is in tests/contract/; these tests
cover what is particular to the SQL kernel every store is built on: unreachable servers,
schema revisions written by other dockyard versions (and the data they hold), SQLite's
settings, transactions across contexts.
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

import dockyard.batch.tables
import dockyard.db.outbox
import dockyard.metadata.tables
import dockyard.registry.tables
import dockyard.rollout.tables
import dockyard.schedules.tables
from dockyard.db import migrate
from dockyard.db.engine import Database
from dockyard.db.migrate import HEAD_REVISION
from dockyard.db.types import METADATA as all_tables
from dockyard.errors import (
    MetadataError,
    MetadataUnavailableError,
    RecordNotFoundError,
    SchemaVersionError,
)
from dockyard.metadata.sql_store import SqlMetadataStore
from dockyard.registry.sql_store import SqlRegistryStore
from dockyard.rollout.sql_store import SqlDeploymentStore

FIXTURES = Path(__file__).parents[2] / "fixtures"


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
        command.upgrade(migrate.alembic_config(conn), "0001")  # as dockyard 0.1 left it
        conn.execute(sa.text("INSERT INTO pipelines VALUES ('p', '2024-01-01 00:00:00')"))
        conn.execute(
            sa.text(
                "INSERT INTO runs VALUES ('0123456789abcdef0123456789abcdef', 'p', "
                "'completed', 'default', '{}', '{}', '2024-01-01 00:00:00', NULL, NULL)"
            )
        )
    engine.dispose()
    assert _revisions(db) == ["0001"]

    database = Database(f"sqlite:///{db}")
    try:
        assert SqlMetadataStore(database).get_run("01234567").pipeline == "p"
        assert SqlRegistryStore(database).list_models() == []  # the 0002 tables exist
        assert SqlDeploymentStore(database).list_deployments() == []  # and 0003's
    finally:
        database.close()
    assert _revisions(db) == [HEAD_REVISION]


def test_sqlite_file_uses_wal_and_settings(tmp_path: Path) -> None:
    """WAL lets readers (the CLI, the UI) run while a pipeline writes; NORMAL sync avoids
    an fsync per step; busy_timeout makes concurrent writers wait instead of failing;
    foreign keys make replacing a step run cascade to its lineage."""
    db = tmp_path / "metadata.db"
    store = SqlMetadataStore(f"sqlite:///{db}", busy_timeout_s=7, unknown_option="ignored")
    try:
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        with store.database.engine.connect() as conn:
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

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert script.get_heads() == [HEAD_REVISION]
    assert Database.HEAD_REVISION == HEAD_REVISION


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_migrations_match_the_models(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The tables come from the migrations, the queries from each context's tables
    module: the two must describe the same schema, on every database, or a query breaks
    in production only."""
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


def test_a_project_written_by_the_previous_release_opens_with_its_data(tmp_path: Path) -> None:
    """Upgrading dockyard must never lose a project: a database written by dockyard
    0.1.0 (runs, steps, artifacts, lineage, model versions with signatures, aliases, a
    deployment and its events, in one file) opens through the per-context stores and
    reads back everything. The fixture is that release's own database (an SQL dump made
    by running its code)."""
    db = tmp_path / "metadata.db"
    with sqlite3.connect(db) as conn:
        conn.executescript((FIXTURES / "dockyard-0.1.0.sql").read_text())
    database = Database(f"sqlite:///{db}")
    try:
        runs = SqlMetadataStore(database)
        models = SqlRegistryStore(database)
        deployments = SqlDeploymentStore(database)
        recorded = runs.list_runs()
        assert [r.status for r in recorded] == ["completed", "completed"]
        assert {r.params["C"] for r in recorded} == {0.5, 2.0}
        for run in recorded:
            steps = {s.name: s for s in runs.list_step_runs(run.id)}
            assert set(steps) == {"data", "train"}
            data_out = steps["data"].outputs["output"]
            assert steps["train"].inputs == {"d": data_out}
            assert runs.get_lineage(data_out).consumed_by[0][1] == "train"
        toy = models.list_model_versions("toy")
        assert [v.version for v in toy] == [1, 2]
        assert toy[0].aliases == ("production",)
        assert toy[0].signature is not None
        assert toy[0].signature.column_names == ("x0", "x1")
        assert toy[0].description == "toy model"
        assert toy[0].run_id in {r.id for r in recorded}
        assert runs.get_artifact(toy[1].artifact_id).materializer == "sklearn"
        assert models.resolve_alias("toy", "production") == 1
        (deployment,) = deployments.list_deployments()
        assert (deployment.name, deployment.port) == ("toy-api", 18080)
        assert [e.kind for e in deployments.list_events("toy-api")] == ["start"]
        assert deployments.versions_in_use("toy") == {
            1: ["deployment 'toy-api' (take it down with: dockyard deployments down toy-api)"]
        }
        # 0005: runs recorded before owners and heartbeats existed keep their status.
        for run in recorded:
            assert (run.owner_pid, run.owner_host, run.heartbeat_at) == (None, None, None)
        # 0006: the high-water mark of version numbers, backfilled from the versions.
        with database.engine.connect() as conn:
            marks = conn.execute(sa.text("SELECT name, last_version FROM model_names")).all()
        assert [tuple(m) for m in marks] == [("toy", 2)]
        artifact_of_2 = toy[1].artifact_id
        models.delete_model_version("toy", 2)
        assert models.create_model_version("toy", artifact_id=artifact_of_2).version == 3
    finally:
        database.close()
    assert _revisions(db) == [HEAD_REVISION]


def test_every_revision_upgrades_to_head_with_its_data(tmp_path: Path) -> None:
    """A project may have been written by any earlier release: from each revision of
    the chain, opening upgrades to head and keeps the runs and model versions there."""
    from alembic import command
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    assert revisions[-1] == HEAD_REVISION
    for revision in revisions[1:-1]:  # 0002 onwards hold model versions
        db = tmp_path / revision / "metadata.db"
        db.parent.mkdir()
        engine = sa.create_engine(f"sqlite:///{db}")
        with engine.begin() as conn:
            command.upgrade(migrate.alembic_config(conn), revision)
            conn.execute(sa.text("INSERT INTO pipelines VALUES ('p', '2024-01-01 00:00:00')"))
            conn.execute(
                sa.text(
                    "INSERT INTO runs (id, pipeline, status, stack, params, spec, created_at) "
                    "VALUES ('0123456789abcdef0123456789abcdef', 'p', 'completed', 'default', "
                    "'{}', '{}', '2024-01-01 00:00:00')"
                )
            )
            artifact = "a" * 32
            conn.execute(
                sa.text(
                    "INSERT INTO artifacts VALUES (:a, 'memory://x', 'h', 1, 't', 'm', '1', 0, "
                    "'2024-01-01 00:00:00')"
                ),
                {"a": artifact},
            )
            for version in (1, 2, 7):
                conn.execute(
                    sa.text(
                        "INSERT INTO model_versions (name, version, artifact_id, metrics, "
                        "requirements, created_at) VALUES "
                        "('m', :v, :a, '{}', '{}', '2024-01-01 00:00:00')"
                    ),
                    {"v": version, "a": artifact},
                )
            if sa.inspect(conn).has_table("model_names"):
                # From 0006 on, dockyard records the high-water mark with each version.
                conn.execute(sa.text("INSERT INTO model_names VALUES ('m', 7)"))
        engine.dispose()
        database = Database(f"sqlite:///{db}")
        try:
            assert SqlMetadataStore(database).get_run("01234567").status == "completed"
            models = SqlRegistryStore(database)
            assert [v.version for v in models.list_model_versions("m")] == [1, 2, 7]
            models.delete_model_version("m", 7)
            assert models.create_model_version("m", artifact_id=artifact).version == 8
        finally:
            database.close()
        assert _revisions(db) == [HEAD_REVISION], revision


def test_a_transaction_spans_contexts_and_rolls_back_as_one(tmp_path: Path) -> None:
    """Registering a model writes its artifact (metadata) and its version (registry):
    both or neither. Stores built on one database join the caller's transaction."""
    import hashlib

    from dockyard.metadata.base import ArtifactDraft

    database = Database(f"sqlite:///{tmp_path}/metadata.db")
    runs, models = SqlMetadataStore(database), SqlRegistryStore(database)
    digest = hashlib.sha256(b"m").hexdigest()
    draft = ArtifactDraft(f"memory://{digest}", digest, 1, "x.Model", "sklearn", "1")
    try:

        def register_then_fail() -> str:
            with database.transaction():
                artifact = runs.record_artifact(draft)
                models.create_model_version("m", artifact_id=artifact.id)
                raise RuntimeError(f"boom after recording {artifact.id}")

        with pytest.raises(RuntimeError, match="boom"):
            register_then_fail()
        assert models.list_models() == []
        with pytest.raises(RecordNotFoundError):  # the artifact went with the version
            runs.get_artifact(dockyard.metadata.tables.artifact_id(digest, "x.Model", "sklearn"))
        with database.transaction():
            artifact = runs.record_artifact(draft)
            models.create_model_version("m", artifact_id=artifact.id)
        assert models.get_model_version("m", 1).artifact_id == artifact.id
    finally:
        database.close()
