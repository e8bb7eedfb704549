"""The DeploymentStore contract, run against SQLite (file) and PostgreSQL.

The rollout controller keeps its whole state here: a deployment agent killed at any
moment must find exactly what it last wrote, and an operator's write must never be lost
to a concurrent write of the agent (or the other way round).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import MetadataError, RecordNotFoundError
from dockyard.metadata.deployments import StaleStateError
from dockyard.metadata.sql_store import SqlMetadataStore


@pytest.fixture(
    params=[
        pytest.param("sqlite-file", id="sqlite-file"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite-file":
        return f"sqlite:///{tmp_path}/.dockyard/metadata.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(url: str) -> Iterator[SqlMetadataStore]:
    s = SqlMetadataStore(url)
    yield s
    s.close()


def test_create_get_list_delete(store: SqlMetadataStore) -> None:
    """A deployment is found by name with the state it was created with."""
    dep = store.create_deployment("churn-api", port=8080, state={"phase": "starting"})
    assert (dep.name, dep.port, dep.host, dep.revision) == ("churn-api", 8080, "127.0.0.1", 1)
    assert store.get_deployment("churn-api").state == {"phase": "starting"}
    store.create_deployment("a-api", port=8081, state={})
    assert [d.name for d in store.list_deployments()] == ["a-api", "churn-api"]
    store.delete_deployment("a-api")
    with pytest.raises(RecordNotFoundError, match="No deployment named 'a-api'"):
        store.get_deployment("a-api")
    with pytest.raises(RecordNotFoundError):
        store.delete_deployment("a-api")


def test_duplicate_and_invalid_names_are_refused(store: SqlMetadataStore) -> None:
    """Two deployments of one name would fight over one gateway."""
    store.create_deployment("churn-api", port=8080, state={})
    with pytest.raises(MetadataError, match="exists already"):
        store.create_deployment("churn-api", port=8081, state={})
    with pytest.raises(MetadataError, match="Invalid deployment name"):
        store.create_deployment("bad name", port=8080, state={})
    with pytest.raises(MetadataError, match="Invalid port"):
        store.create_deployment("ok", port=0, state={})


def test_update_state_is_optimistic(store: SqlMetadataStore) -> None:
    """A write based on an old revision fails instead of silently overwriting a newer one."""
    dep = store.create_deployment("d", port=8080, state={"n": 0})
    dep2 = store.update_state("d", {"n": 1}, expected_revision=dep.revision)
    assert dep2.revision == dep.revision + 1 and dep2.state == {"n": 1}
    with pytest.raises(StaleStateError, match="changed since it was read") as info:
        store.update_state("d", {"n": 99}, expected_revision=dep.revision)
    assert info.value.current_revision == dep2.revision
    assert store.get_deployment("d").state == {"n": 1}
    with pytest.raises(RecordNotFoundError):
        store.update_state("nope", {}, expected_revision=1)


def test_concurrent_writers_never_lose_an_update(store: SqlMetadataStore) -> None:
    """Read-modify-write with retry on conflict counts every increment exactly once."""
    store.create_deployment("d", port=8080, state={"n": 0})

    def bump(times: int) -> None:
        for _ in range(times):
            while True:
                dep = store.get_deployment("d")
                try:
                    store.update_state("d", {"n": dep.state["n"] + 1}, dep.revision)
                    break
                except StaleStateError:
                    continue

    threads = [threading.Thread(target=bump, args=(10,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get_deployment("d").state == {"n": 30}


def test_events_are_appended_in_order(store: SqlMetadataStore) -> None:
    """`rollout history` lists every decision, oldest first, with reason and figures."""
    store.create_deployment("d", port=8080, state={})
    for i in range(5):
        store.append_event("d", "advance", f"step {i}", {"weight": i * 10, "nested": {"a": [1]}})
    events = store.list_events("d")
    assert [e.reason for e in events] == [f"step {i}" for i in range(5)]
    assert events[2].figures == {"weight": 20, "nested": {"a": [1]}}
    assert [e.reason for e in store.list_events("d", limit=2)] == ["step 3", "step 4"]
    assert events[0].created_at is not None
    with pytest.raises(RecordNotFoundError):
        store.append_event("nope", "advance", "x")
    with pytest.raises(RecordNotFoundError):
        store.list_events("nope")


def test_delete_removes_events(store: SqlMetadataStore) -> None:
    """A deployment brought down and created again starts with an empty history."""
    store.create_deployment("d", port=8080, state={})
    store.append_event("d", "complete", "done")
    store.delete_deployment("d")
    store.create_deployment("d", port=8080, state={})
    assert store.list_events("d") == []


def test_commands_are_taken_once(store: SqlMetadataStore) -> None:
    """An operator's abort is acted on exactly once, and does not bump the state revision."""
    dep = store.create_deployment("d", port=8080, state={})
    assert store.take_command("d") is None
    store.set_command("d", {"kind": "abort", "at": 1.5})
    assert store.get_deployment("d").command == {"kind": "abort", "at": 1.5}
    assert store.get_deployment("d").revision == dep.revision
    assert store.take_command("d") == {"kind": "abort", "at": 1.5}
    assert store.take_command("d") is None
    store.set_command("d", {"kind": "promote"})
    store.set_command("d", None)
    assert store.take_command("d") is None
    with pytest.raises(RecordNotFoundError):
        store.set_command("nope", {"kind": "abort"})


def test_heartbeat_records_the_agent(store: SqlMetadataStore) -> None:
    """`deployments list` tells whether an agent is alive without touching the state."""
    dep = store.create_deployment("d", port=8080, state={})
    assert dep.agent_pid is None and dep.heartbeat_at is None
    store.heartbeat("d", 4242)
    after = store.get_deployment("d")
    assert after.agent_pid == 4242 and after.heartbeat_at is not None
    assert after.revision == dep.revision
    store.heartbeat("d", None)
    assert store.get_deployment("d").agent_pid is None


def test_state_survives_reopening(url: str) -> None:
    """A controller restarted after a crash reads back exactly the state it wrote."""
    first = SqlMetadataStore(url)
    dep = first.create_deployment("d", port=8080, state={"phase": "progressing", "weight": 25.0})
    first.update_state("d", {"phase": "progressing", "weight": 50.0}, dep.revision)
    first.close()
    second = SqlMetadataStore(url)
    try:
        again = second.get_deployment("d")
        assert again.state == {"phase": "progressing", "weight": 50.0}
        assert again.revision == dep.revision + 1
    finally:
        second.close()
