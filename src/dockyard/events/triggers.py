"""Triggers: a new dataset version, a message on a topic or a dockyard event starts a run.

Built like the rollout and schedule code: :func:`decide` is pure (what was observed, when,
and the debounce window -> wait or fire), and :class:`TriggerLoop` is the thin I/O around
it: it observes each trigger's source, asks :func:`decide`, claims the change in the store
(:meth:`TriggerStore.fire` moves the trigger's mark with a conditional update: of two
processes one fires), and runs the trigger's dockyard command as a subprocess with
``DOCKYARD_TRIGGERED_BY`` set, so the pipeline run records what started it.

What each kind observes (its *position*, compared with the trigger's stored mark):

- ``dataset``: the lake dataset's latest version;
- ``event``: the outbox ``seq`` of the newest dockyard event whose type matches the glob
  (read from the stack's database: no bus needed);
- ``topic``: messages taken from the stack's bus with the group ``dockyard-trigger-NAME``
  (acknowledged once their run has been claimed), counted.

A burst of changes closer together than ``debounce_s`` starts **one** run, once the
source has been quiet for ``debounce_s`` (or ``max_wait_s`` after the first change, so a
source that never rests still fires).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dockyard.errors import DockyardError, LakeError
from dockyard.events.publishing import matches

if TYPE_CHECKING:
    from dockyard.events.base import EventBus, Message
    from dockyard.events.trigger_store import TriggerRecord, TriggerRunRecord, TriggerStore
    from dockyard.stacks.stack import Stack

__all__ = ["Observation", "TriggerLoop", "decide", "topic_group"]

_log = logging.getLogger(__name__)


def topic_group(name: str) -> str:
    """The consumer group a topic trigger reads with."""
    return f"dockyard-trigger-{name}"


@dataclass
class Observation:
    """What the loop has seen of one trigger's source since its mark."""

    position: int
    first_change_at: float | None = None  # monotonic seconds
    last_change_at: float | None = None
    details: list[Any] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)

    def saw(self, position: int, now: float, detail: Any = None) -> None:
        if position <= self.position:
            return
        self.position = position
        if self.first_change_at is None:
            self.first_change_at = now
        self.last_change_at = now
        if detail is not None and len(self.details) < 100:
            self.details.append(detail)


def decide(
    mark: int, seen: Observation, now: float, *, debounce_s: float, max_wait_s: float
) -> Literal["idle", "wait", "fire"]:
    """Whether a trigger fires now: ``idle`` (nothing new since ``mark``), ``wait`` (a
    change, still within the debounce window), ``fire``."""
    if seen.position <= mark or seen.last_change_at is None or seen.first_change_at is None:
        return "idle"
    quiet = now - seen.last_change_at >= debounce_s
    overdue = now - seen.first_change_at >= max(max_wait_s, debounce_s)
    return "fire" if quiet or overdue else "wait"


class TriggerLoop:
    """Watches every trigger of a stack and starts their runs; :meth:`stop` ends it.

    Args:
        stack: the stack whose triggers, lake, database and bus are watched.
        tick_s: how often sources are looked at.
        max_wait_s: a source that keeps changing fires after this long anyway.
        cwd: the folder commands run in (the project).
        report: where progress lines go (the CLI prints them).
    """

    def __init__(
        self,
        stack: Stack,
        *,
        tick_s: float = 1.0,
        max_wait_s: float = 60.0,
        cwd: Path | None = None,
        report: Callable[[str], None] | None = None,
        program: Sequence[str] | None = None,
    ) -> None:
        self.stack = stack
        self.store: TriggerStore = stack.trigger_store
        self.tick_s = tick_s
        self.max_wait_s = max_wait_s
        self.cwd = cwd or stack.root
        self.program = list(program or (sys.executable, "-m", "dockyard"))
        self._report = report or (lambda line: None)
        self._stopping = False
        self._seen: dict[str, Observation] = {}
        self._bus: EventBus | None = None

    def stop(self) -> None:
        """Ask the loop to stop (safe from a signal handler)."""
        self._stopping = True

    def serve(
        self, *, once: bool = False, max_seconds: float | None = None
    ) -> list[TriggerRunRecord]:
        """Watch until :meth:`stop` (or one look, or ``max_seconds``); the runs started."""
        return asyncio.run(self._serve(once=once, max_seconds=max_seconds))

    async def _serve(self, *, once: bool, max_seconds: float | None) -> list[TriggerRunRecord]:
        done: deque[TriggerRunRecord] = deque(maxlen=1000)
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        try:
            while not self._stopping:
                try:
                    done.extend(await self.tick())
                except DockyardError as exc:  # a store or the lake away: try again
                    if once:
                        raise
                    self._report(f"tick failed, retrying in {self.tick_s:g} s: {exc}")
                if once or (deadline is not None and time.monotonic() >= deadline):
                    break
                await self._sleep(self.tick_s)
        finally:
            if self._bus is not None:
                await self._bus.aclose()
        return list(done)

    async def tick(self, now: float | None = None) -> list[TriggerRunRecord]:
        """Look at every trigger once; start the runs that are due."""
        started: list[TriggerRunRecord] = []
        for record in self.store.list_triggers():
            if self._stopping:
                break
            seen = self._seen.get(record.name)
            if seen is None or seen.position < record.mark:
                seen = self._seen[record.name] = Observation(record.mark)
            moment = time.monotonic() if now is None else now
            await self._observe(record, seen, moment)
            verdict = decide(
                record.mark, seen, moment, debounce_s=record.debounce_s, max_wait_s=self.max_wait_s
            )
            if verdict == "fire":
                run = await self._fire(record, seen)
                if run is not None:
                    started.append(run)
        return started

    # -- observing -------------------------------------------------------------------------

    async def _observe(self, record: TriggerRecord, seen: Observation, now: float) -> None:
        if record.kind == "dataset":
            from dockyard.lake.api import open as open_lake

            try:
                latest = open_lake(self.stack).latest_version(record.source)
            except LakeError:  # not written yet
                return
            seen.saw(latest, now, latest if latest > seen.position else None)
        elif record.kind == "event":
            from dockyard.db.outbox import Outbox

            for event in Outbox(self.stack.database).recent(limit=500, after=seen.position):
                if matches(event.type, [record.source]):
                    seen.saw(event.seq, now, {"type": event.type, "id": event.id})
                elif seen.first_change_at is None:
                    seen.position = event.seq  # nothing to answer: skip it for good
        else:  # topic
            bus = await self._topic_bus()
            messages = await bus.consume(
                record.source, topic_group(record.name), "dockyard-triggers", timeout=0.05
            )
            for message in messages:
                seen.messages.append(message)
                seen.saw(seen.position + 1, now, message.key)

    async def _topic_bus(self) -> EventBus:
        if self._bus is None:
            from dockyard.errors import TriggerError
            from dockyard.events.bus import open_bus
            from dockyard.events.publishing import shared_bus_url

            url = shared_bus_url(self.stack)
            if url is None:
                raise TriggerError(
                    f"Topic triggers need the stack's bus; stack {self.stack.name!r} names "
                    "none (dockyard stack register NAME --event-bus URL)."
                )
            self._bus = await open_bus(url)
        return self._bus

    # -- firing ----------------------------------------------------------------------------

    async def _fire(self, record: TriggerRecord, seen: Observation) -> TriggerRunRecord | None:
        reason: dict[str, Any] = {"trigger": record.name, "kind": record.kind}
        reason["dataset" if record.kind == "dataset" else record.kind] = record.source
        key = {"dataset": "versions", "event": "events", "topic": "messages"}[record.kind]
        reason[key] = list(seen.details)
        run = self.store.fire(
            record.name,
            expected_mark=record.mark,
            mark=seen.position,
            reason=reason,
            run_id=uuid.uuid4().hex,
            now=datetime.now(UTC),
        )
        messages, seen.messages = seen.messages, []
        seen.first_change_at = seen.last_change_at = None
        seen.details = []
        if run is None:  # another process answered this change
            return None
        if messages and self._bus is not None:
            await self._bus.ack(messages)
        changes = len(reason[key])
        self._report(
            f"{record.name}: {changes} change(s) of {record.source}; running dockyard "
            f"{' '.join(record.argv)} (trigger run {run.id[:8]})"
        )
        return await asyncio.to_thread(self._execute, record, run)

    def _execute(self, record: TriggerRecord, run: TriggerRunRecord) -> TriggerRunRecord:
        env = dict(os.environ)
        env["DOCKYARD_TRIGGERED_BY"] = json.dumps(run.reason | {"trigger_run": run.id})
        env.setdefault("COLUMNS", "160")
        if record.stack:
            env["DOCKYARD_STACK"] = record.stack
        try:
            proc = subprocess.run(
                [*self.program, *record.argv],
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=24 * 3600,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return self._finish(record, run, "error", None, f"could not run: {exc}")
        outcome = "succeeded" if proc.returncode == 0 else "failed"
        tail = (proc.stdout + proc.stderr)[-2000:]
        return self._finish(record, run, outcome, proc.returncode, tail)

    def _finish(
        self,
        record: TriggerRecord,
        run: TriggerRunRecord,
        outcome: str,
        code: int | None,
        tail: str,
    ) -> TriggerRunRecord:
        done = self.store.finish_run(
            run.id, outcome, exit_code=code, output_tail=tail, now=datetime.now(UTC)
        )
        self._report(f"{record.name}: {outcome} (exit code {code}, trigger run {run.id[:8]})")
        return done

    async def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            await asyncio.sleep(min(0.1, deadline - time.monotonic()))


def install_signal_handlers(loop: TriggerLoop) -> None:
    """SIGTERM and SIGINT stop the loop after the run in progress."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(sig, lambda *_: loop.stop())
