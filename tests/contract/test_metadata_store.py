"""The MetadataStore contract (:mod:`dockyard.testing.metadata_store`) on every adapter.

Adapters: SQLite file, SQLite in memory, PostgreSQL (a fresh database per test).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockyard.errors import MetadataError
from dockyard.metadata import MetadataStore, tables
from dockyard.metadata.liveness import this_host
from dockyard.metadata.sql_store import SqlMetadataStore
from dockyard.testing import MetadataStoreContract
from dockyard.testing.metadata_store import new_run


def _set_run(store: SqlMetadataStore, run_id: str, **values: object) -> None:
    """Change a run's row behind the store's back (another host, an old heartbeat)."""
    with store.database.transaction() as conn:
        conn.execute(tables.runs.update().where(tables.runs.c.id == run_id).values(**values))


class _SqlMetadataStoreSuite(MetadataStoreContract):
    """The contract plus what the SQL adapter adds, for a database at ``url``."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def make_store(self, url: str) -> Callable[[], MetadataStore]:
        return lambda: SqlMetadataStore(url)

    def test_describe_shows_the_url_with_the_password_masked(self, url: str) -> None:
        """``dockyard stack show`` prints describe(): it must recreate the store but never
        leak a password into terminals or CI logs."""
        if "://postgres@" in url:  # the test server trusts any password
            url = url.replace("://postgres@", "://postgres:s3cret@")
        store = SqlMetadataStore(url)
        try:
            described = store.describe()
        finally:
            store.close()
        assert described["flavor"] == "sql"
        assert "s3cret" not in described["url"]
        assert described["url"] == url.replace(":s3cret@", ":***@")

    def test_a_run_records_its_owner_and_first_heartbeat(self, url: str) -> None:
        """The owner (pid, host) is what tells a dead run on this host at once; the first
        heartbeat is the start, so a run killed before its first beat is caught too."""
        store = SqlMetadataStore(url)
        try:
            run = store.create_run("p", spec={}, params={}, stack="s")
            assert (run.owner_pid, run.owner_host) == (os.getpid(), this_host())
            assert run.heartbeat_at == run.created_at
            assert store.get_run(run.id) == run
        finally:
            store.close()

    def test_silence_from_another_host_reads_as_crashed(self, url: str) -> None:
        """A pid means nothing on another machine: a run owned elsewhere is judged by its
        heartbeats alone, crashed after stale_after_s of silence, running while they come."""
        store = SqlMetadataStore(url, heartbeat_s=1, stale_after_s=30)
        try:
            run = new_run(store)
            long_ago = datetime.now(UTC) - timedelta(seconds=300)
            _set_run(store, run, owner_host="elsewhere", owner_pid=1, heartbeat_at=long_ago)
            crashed = store.get_run(run)
            assert crashed.status == "crashed"
            assert crashed.error == (
                "Crashed: no sign of life from the process running it (pid 1 on elsewhere) "
                "for 5 min: it was killed, its machine was lost, or it lost the metadata "
                "database. Run the pipeline again: the steps that completed are reused "
                "from the cache."
            )
            store.heartbeat(run)  # it was only cut off: the next beat makes it live again
            assert store.get_run(run).status == "running"
            assert store.get_run(run).error is None
        finally:
            store.close()

    def test_a_dead_pid_on_this_host_reads_as_crashed_at_once(self, url: str) -> None:
        """On the owner's own host a pid that is gone says crashed without waiting for
        the heartbeat to go stale."""
        import subprocess
        import sys

        child = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        dead_pid = int(child.stdout)
        store = SqlMetadataStore(url)
        try:
            run = new_run(store)
            _set_run(store, run, owner_pid=dead_pid)
            crashed = store.get_run(run)
            assert crashed.status == "crashed"
            assert crashed.error is not None
            assert crashed.error.startswith(
                f"Crashed: the process running it (pid {dead_pid} on {this_host()}) ended "
                "without recording the run's end"
            )
            assert [r.status for r in store.list_runs()] == ["crashed"]
        finally:
            store.close()

    def test_runs_from_before_owners_are_judged_by_their_start(self, url: str) -> None:
        """Runs recorded by dockyard 0.1 have no owner nor heartbeat: one still
        `running` long after it started is a ghost (the issue's forever-running runs),
        one just started may be live."""
        store = SqlMetadataStore(url, stale_after_s=60)
        try:
            old, recent = new_run(store), new_run(store)
            legacy = {"owner_pid": None, "owner_host": None, "heartbeat_at": None}
            _set_run(store, old, created_at=datetime.now(UTC) - timedelta(hours=3), **legacy)
            _set_run(store, recent, **legacy)
            ghost = store.get_run(old)
            assert ghost.status == "crashed"
            assert ghost.error is not None
            assert "(the process that ran it) for 3 h" in ghost.error
            assert store.get_run(recent).status == "running"
        finally:
            store.close()

    def test_without_heartbeats_only_a_dead_pid_says_crashed(self, url: str) -> None:
        """heartbeat_s: 0 turns the beats off; silence then proves nothing."""
        store = SqlMetadataStore(url, heartbeat_s=0)
        try:
            run = new_run(store)
            _set_run(store, run, heartbeat_at=datetime.now(UTC) - timedelta(days=3))
            assert store.get_run(run).status == "running"
        finally:
            store.close()

    def test_heartbeat_and_stale_limit_must_fit(self, url: str) -> None:
        """A stale limit shorter than the beat would show every live run as crashed."""
        with pytest.raises(MetadataError) as info:
            SqlMetadataStore(url, heartbeat_s=30, stale_after_s=10)
        assert str(info.value) == (
            "The metadata store's heartbeat_s (30) must be at least 0 and below "
            "stale_after_s (10), or live runs would read as crashed."
        )


class TestSqliteFile(_SqlMetadataStoreSuite):
    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/.dockyard/metadata.db"


class TestSqliteMemory(_SqlMetadataStoreSuite):
    supports_durability = False

    @pytest.fixture
    def url(self) -> str:
        return "sqlite:///:memory:"


@pytest.mark.postgres
class TestPostgres(_SqlMetadataStoreSuite):
    @pytest.fixture
    def url(self, postgres_url: str) -> str:
        return postgres_url

    @pytest.fixture
    def store_with_secret(self, url: str) -> Iterator[tuple[MetadataStore, str]]:
        store = SqlMetadataStore(url.replace("://postgres@", "://postgres:s3cret@"))
        yield store, "s3cret"
        store.close()
