"""What a schedule may be called and what it may run: checked when it is added."""

from __future__ import annotations

import pytest

from dockyard.errors import ScheduleError
from dockyard.schedules.commands import SCHEDULABLE_COMMANDS, check_command, check_name


@pytest.mark.parametrize("name", ["nightly", "score.churn-2", "A_1"])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "-x", "has space", "a/b", "x" * 129, ".hidden"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ScheduleError, match=r"Invalid schedule name .*letters, digits"):
        check_name(name)


def test_a_command_is_argv_with_a_known_first_word() -> None:
    argv = ["batch", "run", "churn@production", "--input", "lake://curated/customers"]
    assert check_command(argv) == tuple(argv)
    assert check_command(["run", "f.py:p", "-p", "k=v"]) == ("run", "f.py:p", "-p", "k=v")


def test_unknown_commands_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ScheduleError) as info:
        check_command(["frobnicate", "x"], name="nightly")
    message = str(info.value)
    assert "Unknown command 'frobnicate' for schedule 'nightly'" in message
    assert ", ".join(SCHEDULABLE_COMMANDS) in message


@pytest.mark.parametrize(
    ("command", "match"),
    [
        ([], "No command given"),
        ("run f.py:p", "must be a list of words"),
        (["dockyard", "run", "f.py:p"], "Leave out the leading 'dockyard'"),
        (["schedule", "list"], "Unknown command 'schedule'"),
        (["scheduler"], "Unknown command 'scheduler'"),
    ],
)
def test_bad_commands(command: object, match: str) -> None:
    with pytest.raises(ScheduleError, match=match):
        check_command(command)  # type: ignore[arg-type]


def test_every_schedulable_command_is_a_dockyard_command() -> None:
    """The one list of schedulable commands must name real CLI commands (a schedule that
    passed the check at add time must not fail at 02:00 with 'No such command')."""
    import typer.main

    from dockyard.cli.main import app

    registered = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    # batch and lake are registered by their own contexts' CLI modules.
    assert set(SCHEDULABLE_COMMANDS) - registered <= {"batch", "lake"}
    assert {"schedule", "scheduler"} <= registered
    assert not {"schedule", "scheduler", "init"} & set(SCHEDULABLE_COMMANDS)
