"""A project this user cannot write can still be read (issue #8, item 24).

SQLite in WAL mode needs a writable folder for its ``-shm`` file, so opening another
user's project, or one on read-only media, failed before a single run was listed. The
kernel now opens such a file read-only, by itself or when asked (``readonly=True``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.db.engine import Database
from dockyard.db.migrate import HEAD_REVISION
from dockyard.errors import MetadataError, MetadataUnavailableError
from dockyard.metadata.sql_store import SqlMetadataStore
from dockyard.registry.sql_store import SqlRegistryStore
from dockyard.testing.metadata_store import draft, new_run


def _project(folder: Path) -> tuple[str, str]:
    """A metadata database with one finished run and one model; (url, run id)."""
    url = f"sqlite:///{folder}/metadata.db"
    database = Database(url)
    try:
        runs = SqlMetadataStore(database)
        run = new_run(runs)
        runs.record_step_run(run, "train", status="completed", outputs={"m": draft("m")})
        runs.finish_run(run, "completed")
        artifact = runs.record_artifact(draft("model")).id
        SqlRegistryStore(database).create_model_version("churn", artifact_id=artifact)
    finally:
        database.close()
    assert not (folder / "metadata.db-wal").exists()  # a clean close merges the WAL
    return url, run


def test_readonly_true_reads_and_refuses_writes(tmp_path: Path) -> None:
    """A read command can ask for a read-only open: everything reads back, nothing can
    be written, and the error says why in one line."""
    url, run = _project(tmp_path)
    database = Database(url, readonly=True)
    try:
        assert database.readonly
        assert database.describe() == {"url": url, "readonly": True}
        runs = SqlMetadataStore(database)
        assert runs.get_run(run).status == "completed"
        assert [s.name for s in runs.list_step_runs(run)] == ["train"]
        assert SqlRegistryStore(database).list_models()[0].name == "churn"
        with pytest.raises(MetadataError) as info:
            runs.create_run("p", spec={}, params={}, stack="s")
        assert str(info.value) == (
            f"Cannot write to the metadata database at {url}: it is open read-only "
            f"(opened with readonly=True). This command needs to write: run it as a user "
            f"who can write to {tmp_path}."
        )
    finally:
        database.close()


def test_a_folder_this_user_cannot_write_opens_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nobody has to pass anything: the kernel sees the folder is not writable."""
    url, run = _project(tmp_path)
    folder = str(tmp_path)
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if str(p) == folder else real_access(p, mode)
    )
    store = SqlMetadataStore(url)
    try:
        assert store.database.readonly
        assert store.list_runs()[0].id == run
        with pytest.raises(MetadataError, match=f"its folder {folder} is not writable"):
            store.finish_run(run, "failed")
    finally:
        store.close()


def test_an_older_schema_cannot_be_upgraded_read_only(tmp_path: Path) -> None:
    """Reading an older schema with this dockyard's queries would fail on a missing
    column: the user is told to open it once where it is writable."""
    url, _ = _project(tmp_path)
    with sqlite3.connect(tmp_path / "metadata.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0003'")
    with pytest.raises(MetadataError) as info:
        Database(url, readonly=True)
    assert str(info.value) == (
        f"The metadata database at {url} is at schema revision 0003, older than this "
        f"dockyard's {HEAD_REVISION}, and it is open read-only (opened with "
        "readonly=True), so it cannot be upgraded. Open it once where it is writable (any "
        "dockyard command upgrades it), or use the dockyard release that wrote it."
    )


def test_a_missing_file_is_not_created_read_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nothing.db"
    with pytest.raises(MetadataUnavailableError) as info:
        Database(url, readonly=True)
    assert str(info.value) == (
        f"Cannot open the metadata database at {url}: there is no file "
        f"{tmp_path}/nothing.db, and a read-only open cannot create one (opened with "
        "readonly=True). Check the metadata_store URL, or run a pipeline where the "
        "project is writable first."
    )
    assert not (tmp_path / "nothing.db").exists()


# as another user, for real --------------------------------------------------------------
_LIST = """
import sys
from dockyard.metadata.sql_store import SqlMetadataStore
store = SqlMetadataStore(sys.argv[1])
print(store.database.readonly, [r.status for r in store.list_runs()])
try:
    store.create_run("p", spec={}, params={}, stack="s")
except Exception as exc:
    print(type(exc).__name__, exc)
"""


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder other users may read but not write (tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="dockyard-ro-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to run as a user who cannot write the project",
)
def test_another_user_lists_a_project_it_cannot_write(shared_folder: Path) -> None:
    """The real case: WAL mode, no -shm file, a folder the user cannot write. Runs list;
    a write says read-only in one line."""
    url, _ = _project(shared_folder)
    shared_folder.chmod(0o755)
    (shared_folder / "metadata.db").chmod(0o644)
    out = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-c", _LIST, url],
        capture_output=True, text=True, timeout=120, cwd=shared_folder,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    listed, refused = out.stdout.strip().splitlines()
    assert listed == "True ['completed']"
    assert refused == (
        f"MetadataError Cannot write to the metadata database at {url}: it is open "
        f"read-only ({shared_folder}/metadata.db is not writable by this user). This "
        f"command needs to write: run it as a user who can write to {shared_folder}."
    )
    assert sorted(p.name for p in shared_folder.iterdir()) == ["metadata.db"]


def test_a_folder_that_cannot_be_created_is_explained(tmp_path: Path) -> None:
    """A URL under a file (or a folder nobody may write) used to raise a bare OSError."""
    (tmp_path / "a-file").write_text("not a folder")
    url = f"sqlite:///{tmp_path}/a-file/sub/metadata.db"
    with pytest.raises(MetadataUnavailableError) as info:
        Database(url)
    assert str(info.value) == (
        f"Cannot create the folder of the metadata database at {url}: Not a directory "
        f"({tmp_path}/a-file/sub). Check the URL in the stack's metadata_store and that "
        "its folder can be created by this user."
    )
