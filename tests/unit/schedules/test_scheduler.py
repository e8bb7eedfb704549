"""The scheduler loop and the Python API over a real SQLite store, with a stand-in for
``python -m dockyard`` (a small script) so each run takes milliseconds."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockyard import schedules
from dockyard.errors import ScheduleError, UnknownScheduleError
from dockyard.schedules import Scheduler
from dockyard.schedules.sql_store import SqlScheduleStore
from dockyard.schedules.store import ScheduleDraft

T0 = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)

FAKE = """
import pathlib, sys, time
word = sys.argv[3]  # argv: marks folder, "run", word, ...
pathlib.Path(sys.argv[1]).joinpath(word).touch()
print("fake dockyard", " ".join(sys.argv[2:]), flush=True)
if word == "fail":
    print("Error: boom", flush=True)
    sys.exit(3)
if word == "sleep":
    time.sleep(float(sys.argv[4]))
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlScheduleStore]:
    s = SqlScheduleStore(f"sqlite:///{tmp_path}/metadata.db")
    yield s
    s.close()


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    folder = tmp_path / "marks"
    folder.mkdir()
    return folder


@pytest.fixture
def scheduler(store: SqlScheduleStore, tmp_path: Path, marks: Path) -> Scheduler:
    script = tmp_path / "fake_dockyard.py"
    script.write_text(FAKE)
    return Scheduler(
        store, program=[sys.executable, str(script), str(marks)], tick=0.2, stop_timeout_s=2
    )


def _add(
    store: SqlScheduleStore, *args: str, cron: str = "0 2 * * *", catch_up: str = "once"
) -> None:
    draft = ScheduleDraft("nightly", cron, "UTC", ("run", *args), catch_up, None)
    store.create_schedule(draft, next_due_at=T0, now=T0 - timedelta(days=1))


def test_a_due_schedule_runs_and_is_recorded(
    store: SqlScheduleStore, scheduler: Scheduler, marks: Path
) -> None:
    _add(store, "ok")
    assert scheduler.tick(now=T0 - timedelta(seconds=1)) == []  # not yet
    [run] = scheduler.tick(now=T0 + timedelta(seconds=2))
    assert (run.outcome, run.exit_code, run.due_at) == ("succeeded", 0, T0)
    assert "fake dockyard run ok" in run.output_tail
    assert (marks / "ok").exists()
    record = store.get_schedule("nightly")
    assert (record.last_outcome, record.next_due_at) == ("succeeded", T0 + timedelta(days=1))
    assert scheduler.tick(now=T0 + timedelta(seconds=3)) == []  # the slot is used


def test_a_failing_command_is_recorded_as_failed(
    store: SqlScheduleStore, scheduler: Scheduler
) -> None:
    _add(store, "fail")
    [run] = scheduler.tick(now=T0)
    assert (run.outcome, run.exit_code) == ("failed", 3)
    assert run.output_tail.strip().endswith("Error: boom")


def test_catch_up_once_runs_a_long_downtime_once(
    store: SqlScheduleStore, scheduler: Scheduler, marks: Path
) -> None:
    _add(store, "ok")
    back = T0 + timedelta(days=4, hours=10)  # five nightly slots passed meanwhile
    runs = scheduler.tick(now=back)
    assert [r.outcome for r in runs] == ["succeeded"]
    assert runs[0].due_at == T0 + timedelta(days=4)
    assert scheduler.tick(now=back + timedelta(minutes=1)) == []
    assert store.get_schedule("nightly").next_due_at == T0 + timedelta(days=5)


def test_catch_up_skip_records_the_skip_and_runs_nothing(
    store: SqlScheduleStore, scheduler: Scheduler, marks: Path
) -> None:
    _add(store, "ok", catch_up="skip")
    [run] = scheduler.tick(now=T0 + timedelta(days=4, hours=10))
    assert run.outcome == "skipped"
    assert "5 missed run(s) skipped" in run.output_tail
    assert not (marks / "ok").exists()
    assert store.get_schedule("nightly").next_due_at == T0 + timedelta(days=5)


def test_a_paused_schedule_does_not_run(store: SqlScheduleStore, scheduler: Scheduler) -> None:
    _add(store, "ok")
    store.set_paused("nightly", True, now=T0)
    assert scheduler.tick(now=T0 + timedelta(hours=1)) == []


def test_stop_terminates_the_running_command_within_the_bounded_wait(
    store: SqlScheduleStore, scheduler: Scheduler, marks: Path
) -> None:
    draft = ScheduleDraft("slow", "* * * * * *", "UTC", ("run", "sleep", "60"), "once", None)
    store.create_schedule(draft, next_due_at=datetime.now(UTC), now=datetime.now(UTC))
    done: list[object] = []
    thread = threading.Thread(target=lambda: done.extend(scheduler.serve()))
    thread.start()
    deadline = time.monotonic() + 20
    while not (marks / "sleep").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (marks / "sleep").exists(), "the command did not start"
    stopped_at = time.monotonic()
    scheduler.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - stopped_at < 5
    [run] = store.list_runs("slow")
    assert run.outcome == "terminated"
    assert store.get_schedule("slow").running_run is None


def test_the_python_api(store: SqlScheduleStore) -> None:
    record = schedules.add(
        "nightly", "0 2 * * *", ["run", "flow.py:sums", "-p", "n=3"], store=store
    )
    assert record.next_due_at > datetime.now(UTC)
    assert [s.name for s in schedules.list_schedules(store=store)] == ["nightly"]
    assert schedules.due(record.next_due_at - timedelta(seconds=1), store=store) == []
    assert [s.name for s in schedules.due(record.next_due_at, store=store)] == ["nightly"]
    assert schedules.pause("nightly", store=store).paused
    assert schedules.due(record.next_due_at, store=store) == []
    resumed = schedules.resume("nightly", store=store)
    assert not resumed.paused and resumed.next_due_at > datetime.now(UTC)
    assert schedules.history("nightly", store=store) == []
    schedules.remove("nightly", store=store)
    with pytest.raises(UnknownScheduleError, match="No schedule named 'nightly'"):
        schedules.pause("nightly", store=store)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cron": "0 25 * * *"}, "Invalid cron expression '0 25 \\* \\* \\*'"),
        ({"command": ["nope"]}, "Unknown command 'nope'"),
        ({"name": "bad name"}, "Invalid schedule name"),
        ({"timezone": "Nowhere/City"}, "Unknown timezone"),
        ({"catch_up": "always"}, "Unknown missed-run policy"),
    ],
)
def test_add_refuses_bad_input_before_writing(
    store: SqlScheduleStore, kwargs: dict[str, object], match: str
) -> None:
    args: dict[str, object] = {
        "name": "nightly",
        "cron": "0 2 * * *",
        "command": ["run", "flow.py:sums"],
        **kwargs,
    }
    with pytest.raises(ScheduleError, match=match):
        schedules.add(store=store, **args)  # type: ignore[arg-type]
    assert store.list_schedules() == []


def test_the_schedules_stack_is_the_commands_stack(
    store: SqlScheduleStore, tmp_path: Path, marks: Path
) -> None:
    script = tmp_path / "print_stack.py"
    script.write_text("import os\nprint('stack=' + os.environ.get('DOCKYARD_STACK', '-'))\n")
    env = {k: v for k, v in os.environ.items() if k != "DOCKYARD_STACK"}
    scheduler = Scheduler(store, program=[sys.executable, str(script)], env=env)
    draft = ScheduleDraft("on-team", "0 2 * * *", "UTC", ("run", "x"), "once", "team")
    store.create_schedule(draft, next_due_at=T0, now=T0)
    [run] = scheduler.tick(now=T0)
    assert run.output_tail.strip() == "stack=team"


def test_an_unknown_stack_is_refused_when_added(store: SqlScheduleStore, project: Path) -> None:
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "dockyard", "init"], cwd=project, check=True, capture_output=True
    )
    with pytest.raises(KeyError, match=r"Unknown stack 'nope'\. Stacks: default"):
        schedules.add("x", "0 2 * * *", ["run", "f.py:p"], stack="nope", store=store)


def test_importing_schedules_is_light() -> None:
    """The CLI imports the schedules package on every call: no croniter, no SQLAlchemy."""
    import subprocess

    code = (
        "import sys, dockyard.schedules, dockyard.cli.schedule\n"
        "print(sorted(m for m in ('croniter', 'sqlalchemy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
