"""What a schedule may run, and what it may be called: the one list of commands.

A schedule runs a ``dockyard`` command line (argv without the leading ``dockyard``) in a
subprocess. The first word must be one of :data:`SCHEDULABLE_COMMANDS`, checked when
the schedule is added, so a typo is refused then rather than failing at 02:00.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dockyard.errors import ScheduleError

__all__ = ["NAME_PATTERN", "SCHEDULABLE_COMMANDS", "check_command", "check_name"]

#: The dockyard commands a schedule may run (a test checks each is a CLI command).
SCHEDULABLE_COMMANDS = (
    "run",
    "batch",
    "lake",
    "models",
    "deploy",
    "rollout",
    "runs",
    "artifacts",
)

#: A schedule's name: letters, digits, '.', '_' or '-', up to 128, starting with a
#: letter or digit (it is typed on command lines and shown in logs).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

_EXAMPLE = "e.g. dockyard schedule add nightly --cron '0 2 * * *' -- run train.py:training"


def check_name(name: str) -> str:
    """``name`` if it is a valid schedule name; ScheduleError otherwise."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ScheduleError(
            f"Invalid schedule name {name!r}: use letters, digits, '.', '_' or '-' "
            "(up to 128, starting with a letter or digit)."
        )
    return name


def check_command(command: Sequence[str], *, name: str | None = None) -> tuple[str, ...]:
    """``command`` as a tuple if its first word is a schedulable dockyard command.

    Raises:
        ScheduleError: empty, not a list of strings, or an unknown first word.
    """
    where = f" for schedule {name!r}" if name else ""
    known = ", ".join(SCHEDULABLE_COMMANDS)
    if isinstance(command, str | bytes) or not all(isinstance(a, str) for a in command):
        raise ScheduleError(
            f"The command{where} must be a list of words (argv), got {command!r}; {_EXAMPLE}."
        )
    argv = tuple(command)
    if not argv:
        raise ScheduleError(
            f"No command given{where}: put the dockyard command after '--' ({_EXAMPLE})."
        )
    first = argv[0]
    if first == "dockyard":
        raise ScheduleError(
            f"Leave out the leading 'dockyard' in the command{where}: give "
            f"{' '.join(argv[1:]) or 'run FILE:PIPELINE'!r} ({_EXAMPLE})."
        )
    if first not in SCHEDULABLE_COMMANDS:
        raise ScheduleError(
            f"Unknown command {first!r}{where}: a schedule runs a dockyard command, one of "
            f"{known} ({_EXAMPLE})."
        )
    return argv
