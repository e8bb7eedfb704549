"""The ScheduleStore contract on every adapter: SQLite file and PostgreSQL.

Each test says the rule and why it exists. The claim rules are what keep two scheduler
processes from running one schedule at once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockyard.errors import ScheduleError, UnknownScheduleError
from dockyard.schedules.sql_store import SqlScheduleStore
from dockyard.schedules.store import ScheduleDraft, ScheduleRunRecord, ScheduleStore

T0 = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
DRAFT = ScheduleDraft(
    "nightly", "0 2 * * *", "UTC", ("run", "flow.py:sums", "-p", "n=3"), "once", None
)


def _claim(
    store: ScheduleStore, *, expected: datetime = T0, now: datetime = T0, lease: float = 60
) -> ScheduleRunRecord | None:
    return store.claim(
        "nightly",
        expected_due_at=expected,
        due_at=expected,
        next_due_at=expected + DAY,
        run_id=uuid.uuid4().hex,
        runner="test:1",
        now=now,
        lease_until=now + timedelta(seconds=lease),
    )


class ScheduleStoreContract:
    """Fixture: ``make_store`` returns a new store over the same, empty database."""

    @pytest.fixture
    def store(self, make_store: Callable[[], ScheduleStore]) -> Iterator[ScheduleStore]:
        s = make_store()
        s.create_schedule(DRAFT, next_due_at=T0, now=T0 - DAY)
        yield s
        s.close()

    def test_a_schedule_reads_back_as_written(self, store: ScheduleStore) -> None:
        """The scheduler runs exactly the argv that was checked at add time."""
        record = store.get_schedule("nightly")
        assert (record.cron, record.timezone, record.argv, record.catch_up) == (
            "0 2 * * *",
            "UTC",
            ("run", "flow.py:sums", "-p", "n=3"),
            "once",
        )
        assert record.next_due_at == T0 and record.next_due_at.tzinfo is not None
        assert (record.paused, record.running_run, record.last_outcome) == (False, None, None)
        assert [r.name for r in store.list_schedules()] == ["nightly"]

    def test_a_name_is_used_once(self, store: ScheduleStore) -> None:
        """Adding over an existing schedule would silently change what runs at night."""
        with pytest.raises(ScheduleError, match=r"exists already.*schedule remove nightly"):
            store.create_schedule(DRAFT, next_due_at=T0, now=T0)

    def test_unknown_names_say_how_to_list(self, store: ScheduleStore) -> None:
        for call in (
            lambda: store.get_schedule("nope"),
            lambda: store.delete_schedule("nope"),
            lambda: store.set_paused("nope", True, now=T0),
            lambda: store.list_runs("nope"),
        ):
            with pytest.raises(UnknownScheduleError, match=r"No schedule named 'nope'.*list"):
                call()

    def test_one_claim_per_slot(self, store: ScheduleStore) -> None:
        """Two schedulers that both read the slot as due: the second claim fails, and a
        scheduler with a stale view (it read before the first claim) never runs it again
        after the first one finished."""
        first = _claim(store)
        assert first is not None and first.outcome == "running"
        assert _claim(store) is None
        store.finish(first.id, "succeeded", exit_code=0, output_tail="ok", now=T0)
        assert _claim(store) is None  # the due time moved on
        record = store.get_schedule("nightly")
        assert record.next_due_at == T0 + DAY
        assert (record.running_run, record.last_outcome) == (None, "succeeded")

    def test_no_second_run_while_one_runs(self, store: ScheduleStore) -> None:
        """A run longer than the interval must not overlap the next slot's run."""
        first = _claim(store, lease=2 * DAY.total_seconds())  # as if renewed all along
        assert first is not None
        assert _claim(store, expected=T0 + DAY, now=T0 + DAY + timedelta(seconds=1)) is None

    def test_an_expired_lease_is_taken_over_and_the_old_run_is_lost(
        self, store: ScheduleStore
    ) -> None:
        """A scheduler killed mid-run must not block its schedule forever; its run is
        recorded as lost, not left 'running'."""
        first = _claim(store, lease=60)
        assert first is not None
        later = T0 + timedelta(minutes=5)
        second = _claim(store, expected=T0 + DAY, now=later)
        assert second is not None
        outcomes = {r.id: r.outcome for r in store.list_runs("nightly")}
        assert outcomes == {first.id: "lost", second.id: "running"}

    def test_renew_extends_only_a_held_claim(self, store: ScheduleStore) -> None:
        first = _claim(store, lease=60)
        assert first is not None
        assert store.renew(first.id, lease_until=T0 + timedelta(minutes=10))
        # Renewed: five minutes later it is still held.
        assert _claim(store, expected=T0 + DAY, now=T0 + timedelta(minutes=5)) is None
        store.finish(first.id, "succeeded", exit_code=0, output_tail="", now=T0)
        assert not store.renew(first.id, lease_until=T0 + timedelta(minutes=20))

    def test_a_paused_schedule_cannot_be_claimed(self, store: ScheduleStore) -> None:
        """Pausing wins over a scheduler that read the schedule just before."""
        store.set_paused("nightly", True, now=T0)
        assert _claim(store) is None
        resumed = store.set_paused("nightly", False, now=T0, next_due_at=T0 + DAY)
        assert (resumed.paused, resumed.next_due_at) == (False, T0 + DAY)

    def test_runs_are_recorded_with_their_outcome(self, store: ScheduleStore) -> None:
        run = _claim(store)
        assert run is not None
        done = store.finish(
            run.id, "failed", exit_code=3, output_tail="Error: boom", now=T0 + timedelta(seconds=4)
        )
        assert (done.outcome, done.exit_code, done.output_tail) == ("failed", 3, "Error: boom")
        assert done.duration_s == pytest.approx(4.0)
        [listed] = store.list_runs("nightly")
        assert listed == done
        assert store.get_schedule("nightly").last_run_at == T0

    def test_a_skip_is_recorded_without_holding_the_claim(self, store: ScheduleStore) -> None:
        skipped = store.claim(
            "nightly",
            expected_due_at=T0,
            due_at=T0,
            next_due_at=T0 + DAY,
            run_id=uuid.uuid4().hex,
            runner="test:1",
            now=T0,
            lease_until=T0,
            outcome="skipped",
            output_tail="3 missed run(s) skipped",
        )
        assert skipped is not None and skipped.ended_at is not None
        assert store.get_schedule("nightly").running_run is None

    def test_history_is_newest_first_and_limited(self, store: ScheduleStore) -> None:
        ids = []
        for i in range(3):
            due = T0 + i * DAY
            run = _claim(store, expected=due, now=due)
            assert run is not None
            store.finish(run.id, "succeeded", exit_code=0, output_tail="", now=due)
            ids.append(run.id)
        assert [r.id for r in store.list_runs("nightly", limit=2)] == ids[::-1][:2]

    def test_remove_deletes_the_history_too(self, store: ScheduleStore) -> None:
        run = _claim(store)
        assert run is not None
        store.delete_schedule("nightly")
        assert store.list_schedules() == []
        store.create_schedule(DRAFT, next_due_at=T0, now=T0)
        assert store.list_runs("nightly") == []

    def test_racing_claims_have_exactly_one_winner(
        self, store: ScheduleStore, make_store: Callable[[], ScheduleStore]
    ) -> None:
        """Eight threads, each with its own store (connection pool), claim one slot at
        once: the database's conditional write lets exactly one through."""
        stores = [make_store() for _ in range(8)]
        barrier = threading.Barrier(len(stores))
        won: list[ScheduleRunRecord] = []
        errors: list[BaseException] = []

        def claim(s: ScheduleStore) -> None:
            try:
                barrier.wait(timeout=10)
                run = _claim(s)
                if run is not None:
                    won.append(run)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        for s in stores:
            s.close()
        assert errors == []
        assert len(won) == 1
        assert [r.id for r in store.list_runs("nightly")] == [won[0].id]


class TestSqliteFile(ScheduleStoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Callable[[], ScheduleStore]:
        url = f"sqlite:///{tmp_path}/.dockyard/metadata.db"
        return lambda: SqlScheduleStore(url)


@pytest.mark.postgres
class TestPostgres(ScheduleStoreContract):
    @pytest.fixture
    def make_store(self, postgres_url: str) -> Callable[[], ScheduleStore]:
        return lambda: SqlScheduleStore(postgres_url)
