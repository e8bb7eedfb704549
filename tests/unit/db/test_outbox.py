"""The outbox: each store records the events of its changes in the change's transaction,
once, in order, whatever database sits underneath."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockyard.db.engine import Database
from dockyard.db.outbox import Outbox, record_event
from dockyard.metadata.base import ArtifactDraft
from dockyard.metadata.sql_store import SqlMetadataStore
from dockyard.registry.sql_store import SqlRegistryStore
from dockyard.rollout.sql_store import SqlDeploymentStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/metadata.db"
    else:
        url = request.getfixturevalue("postgres_url")
    db = Database(url)
    yield db
    db.close()


def _artifact(metadata: SqlMetadataStore) -> str:
    draft = ArtifactDraft(
        uri="file:///x/ab", content_hash="ab" * 32, size=1, data_type="m", materializer="m",
        materializer_version="1",
    )  # fmt: skip
    return metadata.record_artifact(draft).id


def test_changes_record_their_events_in_order(database: Database) -> None:
    """A finished run, a registered version, a moved alias and the published rollout
    decisions each leave one event; recording needs no broker."""
    metadata = SqlMetadataStore(database)
    registry = SqlRegistryStore(database)
    rollout = SqlDeploymentStore(database)
    run = metadata.create_run("training", spec={}, params={}, stack="default")
    metadata.finish_run(run.id, "completed")
    registry.create_model_version("churn", artifact_id=_artifact(metadata), run_id=run.id)
    registry.set_alias("churn", "production", 1)
    registry.set_alias("churn", "production", 1)  # not moved: no event
    rollout.create_deployment("api", port=8080, state={})
    rollout.update_state(
        "api",
        {},
        1,
        events=[("ready", "ready", {}), ("advance", "20%", {"weight": 20}), ("abort", "op", {})],
    )

    events = Outbox(database).pending()
    assert [(e.type, e.source, e.subject) for e in events] == [
        ("dockyard.run.completed", f"/runs/{run.id}", "training"),
        ("dockyard.model.registered", "/models/churn", "1"),
        ("dockyard.model.alias_moved", "/models/churn", "production"),
        ("dockyard.rollout.advanced", "/deployments/api", "advance"),
        ("dockyard.rollout.aborted", "/deployments/api", "abort"),
    ]
    assert events[1].data["run_id"] == run.id
    assert events[2].data == {
        "name": "churn", "alias": "production", "version": 1, "previous_version": None,
    }  # fmt: skip
    assert events[3].data["figures"] == {"weight": 20}
    assert len({e.id for e in events}) == len(events)
    assert all(e.time.tzinfo is not None for e in events)


def test_a_retried_write_records_its_event_once(database: Database) -> None:
    """An idempotent write retried after a lost commit answer must not send twice."""
    when = datetime(2026, 12, 7, tzinfo=UTC)
    for _ in range(2):
        with database.transaction() as conn:
            record_event(database, conn, "dockyard.x", source="/x", data={}, key=("k",), time=when)
    assert len(Outbox(database).pending()) == 1


def test_an_event_is_not_kept_when_its_change_rolls_back(database: Database) -> None:
    """The outbox is written in the change's transaction: no change, no event."""

    def change() -> None:
        with database.transaction() as conn:
            record_event(database, conn, "dockyard.x", source="/x", data={}, key=("k",))
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change()
    assert Outbox(database).pending() == []


def test_sent_events_leave_the_pending_list(database: Database) -> None:
    outbox = Outbox(database)
    for i in range(5):
        with database.transaction() as conn:
            record_event(database, conn, "dockyard.x", source="/x", data={"i": i}, key=(i,))
    first = outbox.pending(limit=2)
    assert [e.data["i"] for e in first] == [0, 1]
    outbox.mark_sent([e.seq for e in first])
    assert [e.data["i"] for e in outbox.pending()] == [2, 3, 4]
    assert [e.data["i"] for e in outbox.recent(limit=3)] == [2, 3, 4]
    assert [e.data["i"] for e in outbox.recent(after=first[-1].seq)] == [2, 3, 4]
    assert outbox.recent(limit=5)[0].sent_at is not None
