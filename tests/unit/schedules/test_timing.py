"""Due times and the missed-run policy (pure functions: no database, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockyard.errors import ScheduleError
from dockyard.schedules.timing import (
    MAX_COUNTED_MISSES,
    check_catch_up,
    decide,
    latest_slot,
    next_slot,
    parse_cron,
    zone,
)

GRACE = timedelta(minutes=1)
NIGHTLY = "0 2 * * *"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("0 25 * * *", "out of range"),
        ("bogus", "Exactly 5, 6 or 7 columns"),
        ("* * *", "Exactly 5, 6 or 7 columns"),
        ("", "Exactly 5, 6 or 7 columns"),
        ("61 * * * *", "out of range"),
    ],
)
def test_a_cron_that_does_not_parse_is_one_line_naming_it(expression: str, reason: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_cron(expression, name="nightly")
    message = str(info.value)
    assert "\n" not in message
    assert f"Invalid cron expression {expression!r} for schedule 'nightly'" in message
    assert reason in message  # croniter's own reason
    assert "e.g. '0 2 * * *'" in message  # and an example


def test_a_valid_cron_is_returned_stripped() -> None:
    assert parse_cron("  */15 * * * *  ") == "*/15 * * * *"


def test_unknown_timezone_and_policy_are_refused() -> None:
    with pytest.raises(ScheduleError, match=r"Unknown timezone 'Mars/Olympus'.*IANA"):
        zone("Mars/Olympus", name="x")
    with pytest.raises(ScheduleError, match=r"Unknown missed-run policy 'all'.*once or skip"):
        check_catch_up("all")


def test_slots_are_read_in_the_schedules_timezone() -> None:
    # 02:00 in Madrid is 01:00 UTC in winter (CET, UTC+1)...
    assert next_slot(NIGHTLY, "Europe/Madrid", at(1, 0)) == at(1, 1)
    # ... and 00:00 UTC in summer (CEST, UTC+2), after the change on 29 March 2026.
    assert next_slot(NIGHTLY, "Europe/Madrid", at(30, 3)) == at(31, 0)


def test_latest_slot_includes_a_slot_exactly_now() -> None:
    assert latest_slot(NIGHTLY, "UTC", at(5, 2)) == at(5, 2)
    assert latest_slot(NIGHTLY, "UTC", at(5, 1, 59)) == at(4, 2)


def test_not_due_yet_waits() -> None:
    d = decide(at(5, 2), NIGHTLY, "UTC", "once", now=at(5, 1, 59), grace=GRACE)
    assert (d.action, d.due_at, d.next_due_at) == ("wait", None, at(5, 2))


def test_on_time_runs_the_slot_and_moves_to_the_next() -> None:
    for policy in ("once", "skip"):
        d = decide(at(5, 2), NIGHTLY, "UTC", policy, now=at(5, 2, 0, 3), grace=GRACE)
        assert (d.action, d.due_at, d.missed, d.next_due_at) == ("run", at(5, 2), 1, at(6, 2))


def test_catch_up_once_runs_a_downtime_once_not_once_per_slot() -> None:
    """Down from the 5th 01:00 to the 9th 12:00: five nightly slots passed (5th-9th); the
    policy 'once' runs one of them (the latest), then goes on from the 10th."""
    d = decide(at(5, 2), NIGHTLY, "UTC", "once", now=at(9, 12), grace=GRACE)
    assert d.action == "run"
    assert d.missed == 5
    assert d.due_at == at(9, 2)
    assert d.next_due_at == at(10, 2)


def test_catch_up_skip_drops_a_downtime() -> None:
    d = decide(at(5, 2), NIGHTLY, "UTC", "skip", now=at(9, 12), grace=GRACE)
    assert (d.action, d.missed, d.due_at, d.next_due_at) == ("skip", 5, at(9, 2), at(10, 2))


def test_skip_still_runs_a_slot_within_the_grace_period() -> None:
    """A scheduler wakes a little after a slot; that is not a missed run. Earlier slots
    missed during a downtime are skipped, the current one runs."""
    d = decide(at(5, 2), NIGHTLY, "UTC", "skip", now=at(9, 2, 0, 30), grace=GRACE)
    assert (d.action, d.missed, d.due_at) == ("run", 5, at(9, 2))


def test_counting_missed_slots_is_bounded() -> None:
    d = decide(at(1, 0), "* * * * *", "UTC", "once", now=at(31, 0), grace=GRACE)
    assert d.action == "run"
    assert d.missed == MAX_COUNTED_MISSES
    assert d.due_at == at(31, 0)
