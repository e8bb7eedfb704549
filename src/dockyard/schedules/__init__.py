"""Schedules: run dockyard commands (pipelines, batch jobs) on a cron schedule.

``add``/``list_schedules``/``remove``/``pause``/``resume``/``due``/``history`` keep the
schedules in the stack's ``schedule_store`` (the metadata database by default);
:class:`Scheduler` runs the due ones as subprocesses (``dockyard scheduler``). Missed
runs (no scheduler was running) run once when one starts (``catch_up="once"``, the
default) or not at all (``"skip"``); two schedulers never run one schedule at once.

Names are re-exported lazily: ``import dockyard.schedules`` imports neither croniter nor
SQLAlchemy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.schedules.api import (
        add,
        due,
        history,
        list_schedules,
        pause,
        remove,
        resume,
    )
    from dockyard.schedules.commands import SCHEDULABLE_COMMANDS
    from dockyard.schedules.scheduler import Scheduler
    from dockyard.schedules.store import (
        ScheduleDraft,
        ScheduleRecord,
        ScheduleRunRecord,
        ScheduleStore,
    )
    from dockyard.schedules.timing import CATCH_UP_POLICIES

_EXPORTS = {
    "add": "api",
    "due": "api",
    "history": "api",
    "list_schedules": "api",
    "pause": "api",
    "remove": "api",
    "resume": "api",
    "SCHEDULABLE_COMMANDS": "commands",
    "Scheduler": "scheduler",
    "ScheduleDraft": "store",
    "ScheduleRecord": "store",
    "ScheduleRunRecord": "store",
    "ScheduleStore": "store",
    "CATCH_UP_POLICIES": "timing",
}

__all__ = [
    "CATCH_UP_POLICIES",
    "SCHEDULABLE_COMMANDS",
    "ScheduleDraft",
    "ScheduleRecord",
    "ScheduleRunRecord",
    "ScheduleStore",
    "Scheduler",
    "add",
    "due",
    "history",
    "list_schedules",
    "pause",
    "remove",
    "resume",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.schedules' has no attribute {name!r}")
    value = getattr(import_module(f"dockyard.schedules.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
