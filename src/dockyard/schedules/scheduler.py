"""The scheduler: a long-running loop that runs due schedules as subprocesses.

Each tick reads the schedules, asks :func:`~dockyard.schedules.timing.decide` (pure)
what to do about each, and for a due one *claims* the slot in the store (one conditional
write: of two schedulers, exactly one wins) before running ``python -m dockyard ARGV``
in the project folder. Runs of one scheduler are sequential; a slot that passes during a
long run is handled by the schedule's missed-run policy.

Stopping (:meth:`Scheduler.stop`, which the CLI calls on SIGTERM and SIGINT): the loop
starts nothing more; a running child gets SIGTERM (its process group), then SIGKILL after
``stop_timeout_s``; its run is recorded as ``terminated``. Every wait is bounded: a child
past ``max_run_s`` is stopped the same way and recorded as ``timed_out``.

Example::

    scheduler = Scheduler(store, cwd=project_root, tick=10, report=print)
    scheduler.serve()            # until scheduler.stop(); serve(once=True) for one pass
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING

from dockyard.errors import DockyardError
from dockyard.schedules.timing import decide

if TYPE_CHECKING:
    from dockyard.schedules.store import ScheduleRecord, ScheduleRunRecord, ScheduleStore

__all__ = ["Scheduler"]

#: Characters of a run's output kept in its record (the end of it, where errors are).
TAIL_CHARS = 2000
#: How often a running child is checked on (stop requests, lease renewal), in seconds.
_POLL_S = 0.2


def _tail_reader(stream: IO[str], lines: deque[str]) -> None:
    # Ends when the command and every process it left holding its output have exited,
    # or when the scheduler closes the stream after waiting a while for that.
    with contextlib.suppress(OSError, ValueError):
        for line in stream:
            lines.append(line)


def _tail(lines: deque[str]) -> str:
    return "".join(lines)[-TAIL_CHARS:]


class Scheduler:
    """Runs due schedules from ``store`` until stopped.

    Args:
        store: where the schedules and their runs live.
        cwd: the folder commands run in (the project root).
        env: the environment of the commands (default: this process's); a schedule's
            ``stack`` is passed as ``DOCKYARD_STACK``.
        tick: the longest sleep between two looks at the schedules, in seconds (it wakes
            earlier when a schedule is due sooner).
        lease_s: how long a claim holds without renewal (renewed every third of it).
        stop_timeout_s: how long a child may take to exit after SIGTERM.
        max_run_s: a run longer than this is stopped and recorded as ``timed_out``.
        report: called with one line per thing done (the CLI prints them).
        program: what a schedule's argv is appended to (default: this Python's
            ``-m dockyard``; tests put a stand-in there).
    """

    def __init__(
        self,
        store: ScheduleStore,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        tick: float = 10.0,
        lease_s: float = 60.0,
        stop_timeout_s: float = 10.0,
        max_run_s: float = 24 * 3600.0,
        report: Callable[[str], None] | None = None,
        program: Sequence[str] | None = None,
    ) -> None:
        if tick <= 0:
            raise ValueError(f"tick must be positive, got {tick}")
        self.store = store
        self.cwd = cwd
        self.env = dict(os.environ if env is None else env)
        self.tick_s = float(tick)
        self.lease = timedelta(seconds=lease_s)
        self.stop_timeout_s = stop_timeout_s
        self.max_run_s = max_run_s
        self.runner = f"{socket.gethostname()}:{os.getpid()}"
        self.program = list(program or (sys.executable, "-m", "dockyard"))
        self._report = report or (lambda line: None)
        # A plain flag, not a threading.Event: stop() runs in signal handlers, where taking
        # the lock an interrupted Event.wait() holds would deadlock.
        self._stopping = False

    @property
    def grace(self) -> timedelta:
        """How late a slot may be and still be on time (``skip`` policy): a minute, or two
        ticks when the tick is longer."""
        return max(timedelta(minutes=1), timedelta(seconds=2 * self.tick_s))

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Ask the loop to stop (safe from a signal handler or another thread)."""
        self._stopping = True

    def serve(self, *, once: bool = False) -> list[ScheduleRunRecord]:
        """Tick until :meth:`stop` (or once); the runs made (the last 1,000), oldest first."""
        done: deque[ScheduleRunRecord] = deque(maxlen=1000)
        while not self._stopping:
            try:
                done.extend(self.tick())
            except DockyardError as exc:  # e.g. the database is away: try again next tick
                if once:
                    raise
                self._report(f"tick failed, retrying in {self.tick_s:g} s: {exc}")
            if once:
                break
            self._sleep(self._seconds_to_next())
        return list(done)

    def tick(self, now: datetime | None = None) -> list[ScheduleRunRecord]:
        """One look at the schedules: run (or skip) each due one; the runs recorded."""
        done: list[ScheduleRunRecord] = []
        for record in self.store.list_schedules():
            if self._stopping:
                break
            if record.paused:
                continue
            run = self._act(record, now or datetime.now(UTC))
            if run is not None:
                done.append(run)
        return done

    def _act(self, record: ScheduleRecord, now: datetime) -> ScheduleRunRecord | None:
        decision = decide(
            record.next_due_at,
            record.cron,
            record.timezone,
            record.catch_up,
            now=now,
            grace=self.grace,
        )
        if decision.action == "wait" or decision.due_at is None:
            return None
        missed = decision.missed
        if decision.action == "skip":
            note = (
                f"{missed}{'+' if missed >= 1000 else ''} missed run(s) skipped, the last "
                f"due {decision.due_at:%Y-%m-%d %H:%M} UTC (catch-up policy: skip); next "
                f"run {decision.next_due_at:%Y-%m-%d %H:%M} UTC"
            )
            skipped = self.store.claim(
                record.name,
                expected_due_at=record.next_due_at,
                due_at=decision.due_at,
                next_due_at=decision.next_due_at,
                run_id=uuid.uuid4().hex,
                runner=self.runner,
                now=now,
                lease_until=now,
                outcome="skipped",
                output_tail=note,
            )
            if skipped is not None:
                self._report(f"{record.name}: {note}")
            return skipped
        run = self.store.claim(
            record.name,
            expected_due_at=record.next_due_at,
            due_at=decision.due_at,
            next_due_at=decision.next_due_at,
            run_id=uuid.uuid4().hex,
            runner=self.runner,
            now=now,
            lease_until=now + self.lease,
        )
        if run is None:  # another scheduler took it, or it was paused meanwhile
            return None
        if missed > 1:
            self._report(
                f"{record.name}: {missed}{'+' if missed >= 1000 else ''} runs were missed; "
                "running once (catch-up policy: once)"
            )
        return self._execute(record, run)

    def _execute(self, record: ScheduleRecord, run: ScheduleRunRecord) -> ScheduleRunRecord:
        argv = [*self.program, *record.argv]
        env = dict(self.env)
        # Not a terminal: without a width, Rich wraps the command's output at 80
        # columns, which cuts run ids and paths in the recorded tail.
        env.setdefault("COLUMNS", "160")
        if record.stack:
            env["DOCKYARD_STACK"] = record.stack
        self._report(f"{record.name}: running dockyard {' '.join(record.argv)} (run {run.id[:8]})")
        try:
            proc = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                start_new_session=True,  # its own group: stopped as a whole, not by Ctrl-C
            )
        except OSError as exc:
            return self._finish(record, run, "error", None, f"could not start: {exc}")
        lines: deque[str] = deque(maxlen=200)
        reader = threading.Thread(target=_tail_reader, args=(proc.stdout, lines), daemon=True)
        if proc.stdout is not None:  # always, with stdout=PIPE
            reader.start()
        outcome = self._wait(proc, run)
        if reader.is_alive():
            reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        code = proc.returncode
        if outcome is None:
            outcome = "succeeded" if code == 0 else "failed"
        return self._finish(record, run, outcome, code, _tail(lines))

    def _wait(self, proc: subprocess.Popen[str], run: ScheduleRunRecord) -> str | None:
        """Wait for the child; the outcome when it had to be stopped, else None."""
        started = time.monotonic()
        renew_every = self.lease.total_seconds() / 3
        next_renew = started + renew_every
        while True:
            try:
                proc.wait(timeout=_POLL_S)
                return None
            except subprocess.TimeoutExpired:
                pass
            if self._stopping:
                self._terminate(proc)
                return "terminated"
            if time.monotonic() - started > self.max_run_s:
                self._terminate(proc)
                return "timed_out"
            if time.monotonic() >= next_renew:
                next_renew = time.monotonic() + renew_every
                try:
                    held = self.store.renew(run.id, lease_until=datetime.now(UTC) + self.lease)
                except DockyardError as exc:  # the database is away: keep trying
                    self._report(f"could not renew the claim of run {run.id[:8]}: {exc}")
                    continue
                if not held:  # the lease expired and another scheduler may run it now
                    self._terminate(proc)
                    return "terminated"

    def _terminate(self, proc: subprocess.Popen[str]) -> None:
        """SIGTERM to the child's group, SIGKILL after ``stop_timeout_s``."""
        for sig, wait in ((signal.SIGTERM, self.stop_timeout_s), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def _finish(
        self,
        record: ScheduleRecord,
        run: ScheduleRunRecord,
        outcome: str,
        code: int | None,
        tail: str,
    ) -> ScheduleRunRecord:
        done = self.store.finish(
            run.id, outcome, exit_code=code, output_tail=tail, now=datetime.now(UTC)
        )
        took = f" in {done.duration_s:.1f} s" if done.duration_s is not None else ""
        exit_text = f" (exit code {code})" if code is not None else ""
        self._report(f"{record.name}: {outcome}{exit_text}{took} (run {run.id[:8]})")
        return done

    def _seconds_to_next(self) -> float:
        """Until the soonest due time, at most one tick, at least a tenth of a second."""
        try:
            # One running elsewhere is not waited for closely: it will not be free before
            # its run ends (the next tick looks again).
            pending = [
                r.next_due_at
                for r in self.store.list_schedules()
                if not r.paused and r.running_run is None
            ]
        except DockyardError as exc:
            self._report(f"could not read the schedules: {exc}")
            return self.tick_s
        if not pending:
            return self.tick_s
        wait = (min(pending) - datetime.now(UTC)).total_seconds()
        return min(self.tick_s, max(0.1, wait))

    def _sleep(self, seconds: float) -> None:
        # Short waits: a stop request (from a signal handler) ends the sleep promptly.
        deadline = time.monotonic() + seconds
        while not self._stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.1))
