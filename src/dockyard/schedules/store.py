"""The schedules context's port: schedules and the runs the scheduler made of them.

A schedule names a cron expression, a timezone, a dockyard command (argv) and a
missed-run policy. The store keeps, with each schedule, its next due time and the
*claim* of the run in progress: :meth:`ScheduleStore.claim` takes it with one
conditional write (the schedule is not paused, still due at the time the caller read,
and not running, or running under an expired lease), so of two scheduler processes that
both see a schedule due, exactly one runs it. The claim carries a lease that the running
scheduler renews; a scheduler killed mid-run leaves a lease that expires, and the next
claim records that run as ``lost``.

Example::

    store = SqlScheduleStore("sqlite:///:memory:")
    store.create_schedule(ScheduleDraft("nightly", "0 2 * * *", "UTC", ("run", "f.py:p"),
                                        "once", None), next_due_at=due, now=now)
    run = store.claim("nightly", expected_due_at=due, due_at=due, next_due_at=tomorrow,
                      run_id="ab" * 16, runner="host:42", now=now, lease_until=later)
    if run is not None:  # this process won the claim
        store.finish(run.id, "succeeded", exit_code=0, output_tail="ok", now=now)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

__all__ = [
    "OUTCOMES",
    "ScheduleDraft",
    "ScheduleRecord",
    "ScheduleRunRecord",
    "ScheduleStore",
]

#: How a scheduled run ended. ``running`` while it runs; ``succeeded``/``failed`` by the
#: command's exit code; ``terminated`` when the scheduler was stopped during it;
#: ``timed_out`` past the scheduler's run limit; ``error`` when it could not start;
#: ``lost`` when its scheduler died; ``skipped`` for slots dropped by the skip policy.
OUTCOMES = (
    "running",
    "succeeded",
    "failed",
    "terminated",
    "timed_out",
    "error",
    "lost",
    "skipped",
)


@dataclass(frozen=True, slots=True)
class ScheduleDraft:
    """What a user gives to add a schedule (already checked by the API)."""

    name: str
    cron: str
    timezone: str
    argv: tuple[str, ...]
    catch_up: str
    stack: str | None


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    """A schedule: its definition, its next due time, its last run, and its claim.

    ``running_run`` is the id of the run in progress (None when none runs).
    """

    name: str
    cron: str
    timezone: str
    argv: tuple[str, ...]
    catch_up: str
    stack: str | None
    paused: bool
    next_due_at: datetime
    created_at: datetime
    updated_at: datetime
    last_run_at: datetime | None = None
    last_outcome: str | None = None
    running_run: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduleRunRecord:
    """One run of a schedule (or one skip of missed slots), with how it ended."""

    id: str
    schedule: str
    due_at: datetime
    started_at: datetime
    outcome: str
    runner: str
    ended_at: datetime | None = None
    exit_code: int | None = None
    output_tail: str = ""

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class ScheduleStore(ABC):
    """Port for schedules and their runs. Implementations must be thread- and
    process-safe: :meth:`claim` is what keeps two schedulers from running one schedule
    at once."""

    flavor: ClassVar[str] = ""

    @abstractmethod
    def create_schedule(
        self, draft: ScheduleDraft, *, next_due_at: datetime, now: datetime
    ) -> ScheduleRecord:
        """Record a new, unpaused schedule.

        Raises:
            ScheduleError: a schedule of that name exists.
        """

    @abstractmethod
    def get_schedule(self, name: str) -> ScheduleRecord:
        """Raises UnknownScheduleError for an unknown name."""

    @abstractmethod
    def list_schedules(self) -> list[ScheduleRecord]:
        """Every schedule, by name."""

    @abstractmethod
    def delete_schedule(self, name: str) -> None:
        """Delete a schedule and its runs; UnknownScheduleError when unknown."""

    @abstractmethod
    def set_paused(
        self, name: str, paused: bool, *, now: datetime, next_due_at: datetime | None = None
    ) -> ScheduleRecord:
        """Pause or resume; ``next_due_at`` replaces the due time (resume sets the next
        slot after now: slots passed while paused are not wanted). UnknownScheduleError
        when unknown."""

    @abstractmethod
    def claim(
        self,
        name: str,
        *,
        expected_due_at: datetime,
        due_at: datetime,
        next_due_at: datetime,
        run_id: str,
        runner: str,
        now: datetime,
        lease_until: datetime,
        outcome: str = "running",
        output_tail: str = "",
    ) -> ScheduleRunRecord | None:
        """Take the schedule's slot, atomically: on success the due time moves to
        ``next_due_at`` and a run ``run_id`` is recorded (``running``, holding the claim
        until ``lease_until``; or already ended, for ``skipped``).

        The claim holds only if the stored due time is still ``expected_due_at``, the
        schedule is not paused and no unexpired claim is held. A run whose lease had
        expired is recorded as ``lost``.

        Returns:
            The new run, or None when another scheduler (or a pause) came first.
        """

    @abstractmethod
    def renew(self, run_id: str, *, lease_until: datetime) -> bool:
        """Extend the claim of a running run; False when it is no longer held."""

    @abstractmethod
    def finish(
        self,
        run_id: str,
        outcome: str,
        *,
        exit_code: int | None,
        output_tail: str,
        now: datetime,
    ) -> ScheduleRunRecord:
        """Record how run ``run_id`` ended and release its schedule's claim."""

    @abstractmethod
    def list_runs(self, name: str, limit: int = 20) -> list[ScheduleRunRecord]:
        """The newest ``limit`` runs of schedule ``name``, newest first;
        UnknownScheduleError when unknown."""

    def describe(self) -> dict[str, Any]:
        """Config that recreates this store."""
        return {"flavor": self.flavor}

    def close(self) -> None:  # noqa: B027 - optional hook, most stores need nothing
        """Release connections."""
