"""Triggers: start a pipeline run when a dataset version lands, a message arrives on a
topic, or a dockyard event matches. The ``TriggerStore`` port and its records.

A trigger keeps a **mark**: what it has already answered (the dataset version, the
outbox ``seq`` of dockyard's events, or the count of topic messages taken). Firing moves
the mark with a conditional update (:meth:`TriggerStore.fire`), so of two ``dockyard
triggers`` processes that see the same change, one starts the run. Every fired run is
recorded with what triggered it.

Example::

    store.add_trigger(TriggerDraft("retrain", kind="dataset", source="raw/customers",
                                   argv=("run", "train.py:training"), debounce_s=5.0), mark=3)
    store.fire("retrain", expected_mark=3, mark=5, reason={"dataset": "raw/customers",
               "versions": [4, 5]}, run_id="...", now=now)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "TRIGGER_KINDS",
    "TriggerDraft",
    "TriggerKind",
    "TriggerRecord",
    "TriggerRunRecord",
    "TriggerStore",
]

TriggerKind = Literal["dataset", "topic", "event"]
TRIGGER_KINDS: tuple[TriggerKind, ...] = ("dataset", "topic", "event")


@dataclass(frozen=True)
class TriggerDraft:
    """What ``dockyard trigger add`` records.

    Attributes:
        kind: ``dataset`` (a lake dataset's new versions), ``topic`` (messages on a bus
            topic) or ``event`` (dockyard's own events whose type matches a glob).
        source: the dataset (``ZONE/NAME``), the topic, or the event type glob.
        argv: the dockyard command to run (``run FILE:PIPELINE -p k=v``).
        debounce_s: a burst of changes closer together than this starts one run.
        stack: the stack the run uses (None: the active one).
    """

    name: str
    kind: TriggerKind
    source: str
    argv: tuple[str, ...]
    debounce_s: float = 5.0
    stack: str | None = None


@dataclass(frozen=True)
class TriggerRecord(TriggerDraft):
    mark: int = 0
    created_at: datetime | None = None
    last_fired_at: datetime | None = None


@dataclass(frozen=True)
class TriggerRunRecord:
    """One run a trigger started: what triggered it and how the command ended."""

    id: str
    trigger: str
    reason: dict[str, Any]
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str = "running"
    exit_code: int | None = None
    output_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class TriggerStore(ABC):
    """Trigger definitions, their marks, and the runs they started."""

    @abstractmethod
    def add_trigger(self, draft: TriggerDraft, *, mark: int) -> TriggerRecord:
        """Record a new trigger answering changes after ``mark``.

        Raises:
            TriggerError: a trigger of that name exists.
        """

    @abstractmethod
    def get_trigger(self, name: str) -> TriggerRecord:
        """Raises UnknownTriggerError."""

    @abstractmethod
    def list_triggers(self) -> list[TriggerRecord]:
        """By name."""

    @abstractmethod
    def remove_trigger(self, name: str) -> None:
        """Raises UnknownTriggerError."""

    @abstractmethod
    def fire(
        self,
        name: str,
        *,
        expected_mark: int,
        mark: int,
        reason: Mapping[str, Any],
        run_id: str,
        now: datetime,
    ) -> TriggerRunRecord | None:
        """Move the mark from ``expected_mark`` to ``mark`` and record a ``running`` run,
        in one transaction; None when the mark had moved (another process fired)."""

    @abstractmethod
    def finish_run(
        self, run_id: str, outcome: str, *, exit_code: int | None, output_tail: str, now: datetime
    ) -> TriggerRunRecord:
        """Record how a fired run ended."""

    @abstractmethod
    def list_runs(self, name: str | None = None, *, limit: int = 20) -> list[TriggerRunRecord]:
        """Newest first."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
