"""The DeploymentStore contract, for every adapter.

The rollout controller keeps its whole state here: a deployment agent killed at any
moment must find exactly what it last wrote, and an operator's write must never be lost
to a concurrent write of the agent (or the other way round).

A subclass provides the ``make_store`` fixture: a function that opens the store under
test, with the same data on every call (unless ``supports_durability = False``)::

    class TestMyStore(DeploymentStoreContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda: MyDeploymentStore(tmp_path / "deployments")
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest

from dockyard.errors import RecordNotFoundError, RolloutError, StaleStateError
from dockyard.registry.store import VersionUsers
from dockyard.rollout.machine import RolloutState
from dockyard.rollout.store import DeploymentStore

__all__ = ["DeploymentStoreContract"]


class DeploymentStoreContract:
    """The rules every deployment store keeps. Subclass it in a ``Test*`` class.

    Fixture to provide: ``make_store`` (see the module docstring).

    Attributes:
        supports_durability: the data outlives the store object (False for a database
            in memory): switches the reopening test on or off.
    """

    supports_durability: ClassVar[bool] = True

    # fixtures the subclass provides ----------------------------------------------------
    @pytest.fixture
    def make_store(self) -> Callable[[], DeploymentStore]:
        """Opens the store under test; every call opens the same (initially empty) data."""
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'make_store' fixture (see "
            "dockyard.testing.DeploymentStoreContract)"
        )

    @pytest.fixture
    def store(self, make_store: Callable[[], DeploymentStore]) -> Iterator[DeploymentStore]:
        s = make_store()
        yield s
        s.close()

    # the rules -------------------------------------------------------------------------
    def test_create_get_list_delete(self, store: DeploymentStore) -> None:
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

    def test_duplicate_and_invalid_names_are_refused(self, store: DeploymentStore) -> None:
        """Two deployments of one name would fight over one gateway."""
        store.create_deployment("churn-api", port=8080, state={})
        with pytest.raises(RolloutError, match="exists already"):
            store.create_deployment("churn-api", port=8081, state={})
        with pytest.raises(RolloutError, match="Invalid deployment name"):
            store.create_deployment("bad name", port=8080, state={})
        with pytest.raises(RolloutError, match="Invalid port"):
            store.create_deployment("ok", port=0, state={})

    def test_update_state_is_optimistic(self, store: DeploymentStore) -> None:
        """A write based on an old revision fails instead of silently overwriting a newer one."""
        dep = store.create_deployment("d", port=8080, state={"n": 0})
        dep2 = store.update_state("d", {"n": 1}, expected_revision=dep.revision)
        assert dep2.revision == dep.revision + 1
        assert dep2.state == {"n": 1}
        with pytest.raises(StaleStateError, match="changed since it was read") as info:
            store.update_state("d", {"n": 99}, expected_revision=dep.revision)
        assert info.value.current_revision == dep2.revision
        assert store.get_deployment("d").state == {"n": 1}
        with pytest.raises(RecordNotFoundError):
            store.update_state("nope", {}, expected_revision=1)

    def test_concurrent_writers_never_lose_an_update(self, store: DeploymentStore) -> None:
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

    def test_events_are_appended_in_order(self, store: DeploymentStore) -> None:
        """`rollout history` lists every decision, oldest first, with reason and figures."""
        store.create_deployment("d", port=8080, state={})
        for i in range(5):
            store.append_event(
                "d", "advance", f"step {i}", {"weight": i * 10, "nested": {"a": [1]}}
            )
        events = store.list_events("d")
        assert [e.reason for e in events] == [f"step {i}" for i in range(5)]
        assert events[2].figures == {"weight": 20, "nested": {"a": [1]}}
        assert [e.reason for e in store.list_events("d", limit=2)] == ["step 3", "step 4"]
        assert events[0].created_at is not None
        with pytest.raises(RecordNotFoundError):
            store.append_event("nope", "advance", "x")
        with pytest.raises(RecordNotFoundError):
            store.list_events("nope")

    def test_delete_removes_events(self, store: DeploymentStore) -> None:
        """A deployment brought down and created again starts with an empty history."""
        store.create_deployment("d", port=8080, state={})
        store.append_event("d", "complete", "done")
        store.delete_deployment("d")
        store.create_deployment("d", port=8080, state={})
        assert store.list_events("d") == []

    def test_commands_are_taken_once(self, store: DeploymentStore) -> None:
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

    def test_a_second_waiting_command_is_refused_not_dropped(self, store: DeploymentStore) -> None:
        """Two operators at once (abort and promote): the second is told its command was
        not taken, instead of silently replacing the first."""
        store.create_deployment("d", port=8080, state={})
        store.set_command("d", {"kind": "abort"})
        with pytest.raises(RolloutError, match=r"already has a command waiting .*\(abort\)"):
            store.set_command("d", {"kind": "promote"})
        assert store.take_command("d") == {"kind": "abort"}
        store.set_command("d", {"kind": "promote"})  # the agent took the first one
        assert store.take_command("d") == {"kind": "promote"}

    def test_a_state_its_decisions_and_its_command_are_written_together(
        self, store: DeploymentStore
    ) -> None:
        """A reader (`deploy --wait`) that sees a new state must see the decisions that
        led to it, and the command they answer must be gone with them (a controller
        that dies half-way acts on it again instead of losing it)."""
        dep = store.create_deployment("d", port=8080, state={"phase": "progressing"})
        store.set_command("d", {"kind": "abort"})
        new = store.update_state(
            "d",
            {"phase": "aborted"},
            dep.revision,
            events=[("abort", "operator abort", {"weight": 10.0})],
            clear_command=True,
        )
        assert new.command is None
        assert new.state == {"phase": "aborted"}
        assert [(e.kind, e.figures) for e in store.list_events("d")] == [
            ("abort", {"weight": 10.0})
        ]
        with pytest.raises(StaleStateError):  # a stale write adds no event either
            store.update_state("d", {}, dep.revision, events=[("x", "y", {})])
        assert len(store.list_events("d")) == 1

    def test_secrets_stay_out_of_every_record(self, store: DeploymentStore) -> None:
        """The gateway's control token is read only by who asks for it: records (which
        are printed, logged and compared) never carry it."""
        store.create_deployment("d", port=8080, state={"phase": "starting"})
        assert store.secrets("d") == {}
        store.set_secrets("d", {"control": "s3cret"})
        assert store.secrets("d") == {"control": "s3cret"}
        assert "s3cret" not in repr(store.get_deployment("d"))
        assert "s3cret" not in repr(store.list_deployments())
        with pytest.raises(RecordNotFoundError):
            store.secrets("nope")

    def test_heartbeat_records_the_agent(self, store: DeploymentStore) -> None:
        """`deployments list` tells whether an agent is alive without touching the state."""
        dep = store.create_deployment("d", port=8080, state={})
        assert dep.agent_pid is None
        assert dep.heartbeat_at is None
        store.heartbeat("d", 4242)
        after = store.get_deployment("d")
        assert after.agent_pid == 4242
        assert after.heartbeat_at is not None
        assert after.revision == dep.revision
        store.heartbeat("d", None)
        assert store.get_deployment("d").agent_pid is None

    def test_versions_in_use_are_stable_and_candidate(self, store: DeploymentStore) -> None:
        """The registry asks the deployments before deleting a version: the stable one
        serves traffic and the candidate may be promoted or retried (even after a
        rollback), so both are in use, each naming the deployment that uses it; versions
        of other models are not."""
        assert isinstance(store, VersionUsers)
        store.create_deployment(
            "churn-api",
            port=8080,
            state=RolloutState(model="churn", stable=1, candidate=2, phase="progressing").to_dict(),
        )
        store.create_deployment(
            "churn-eu",
            port=8081,
            state=RolloutState(model="churn", stable=3, candidate=4, phase="rolled_back").to_dict(),
        )
        store.create_deployment(
            "churn-us", port=8082, state=RolloutState(model="churn", stable=2).to_dict()
        )
        store.create_deployment(
            "fraud-api", port=8083, state=RolloutState(model="fraud", stable=7).to_dict()
        )
        used = store.versions_in_use("churn")

        def users(found: dict[int, list[str]], version: int) -> list[str]:
            """The deployments that the entries for ``version`` name, one entry each."""
            names = ["churn-api", "churn-eu", "churn-us", "fraud-api"]
            named = [n for n in names if any(n in entry for entry in found[version])]
            assert len(named) == len(found[version]), found[version]
            return named

        assert sorted(used) == [1, 2, 3, 4]
        assert users(used, 1) == ["churn-api"]
        assert users(used, 2) == ["churn-api", "churn-us"]
        assert users(used, 3) == ["churn-eu"]
        assert users(used, 4) == ["churn-eu"]
        fraud = store.versions_in_use("fraud")
        assert sorted(fraud) == [7]
        assert users(fraud, 7) == ["fraud-api"]
        assert store.versions_in_use("nope") == {}

    def test_state_survives_reopening(self, make_store: Callable[[], DeploymentStore]) -> None:
        """A controller restarted after a crash reads back exactly the state it wrote."""
        if not self.supports_durability:
            pytest.skip(f"{type(self).__name__}: the data does not outlive the store object")
        first = make_store()
        dep = first.create_deployment(
            "d", port=8080, state={"phase": "progressing", "weight": 25.0}
        )
        first.update_state("d", {"phase": "progressing", "weight": 50.0}, dep.revision)
        first.close()
        second = make_store()
        try:
            again = second.get_deployment("d")
            assert again.state == {"phase": "progressing", "weight": 50.0}
            assert again.revision == dep.revision + 1
        finally:
            second.close()
