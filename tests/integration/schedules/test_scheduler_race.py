"""Two scheduler processes, one schedule: never two runs at once, on SQLite and PostgreSQL.

The claim of a run is a conditional write in the database; these tests race real
processes on it (``dockyard scheduler --once`` twice at once, and two long-running
schedulers on an every-second schedule whose runs take longer than a second).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockyard.schedules.sql_store import SqlScheduleStore
from dockyard.schedules.store import ScheduleDraft
from dockyard.stacks.config import ProjectConfig

SLOW_FLOW = """
import time
from dockyard import pipeline, step


@step
def wait(seconds: float = 1.5) -> float:
    time.sleep(seconds)
    return seconds


@pipeline
def slow(seconds: float = 1.5):
    wait(seconds=seconds)
"""

#: A scheduler in a subprocess whose "dockyard" is a stand-in that sleeps (fast start).
SCHEDULER = """
import sys
from dockyard.schedules import Scheduler
from dockyard.schedules.sql_store import SqlScheduleStore

url, seconds = sys.argv[1], float(sys.argv[2])
store = SqlScheduleStore(url)
fake = [sys.executable, "-c", "import sys, time; time.sleep(float(sys.argv[-1]))"]
scheduler = Scheduler(store, program=fake, tick=0.05, stop_timeout_s=5)
import threading
threading.Timer(seconds, scheduler.stop).start()
scheduler.serve()
store.close()
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, project: Path) -> Iterator[str]:
    """The project's metadata database: SQLite (the default stack) or PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{project}/.dockyard/metadata.db"
        return
    url: str = request.getfixturevalue("postgres_url")
    config = ProjectConfig.load(project)
    config.register(
        "team",
        {
            "orchestrator": {"flavor": "local"},
            "artifact_store": {"flavor": "local", "path": "artifacts"},
            "metadata_store": {"flavor": "sql", "url": url},
        },
    )
    config.active_stack = "team"
    config.save()
    yield url


@pytest.fixture
def dockyard(project: Path) -> Callable[..., subprocess.Popen[str]]:
    env = {**os.environ, "DOCKYARD_HOME": str(project), "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("DOCKYARD_STACK", None)

    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "dockyard", *args],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    return start


def test_two_schedulers_started_at_once_run_a_due_schedule_once(
    project: Path, database_url: str, dockyard: Callable[..., subprocess.Popen[str]]
) -> None:
    (project / "slow.py").write_text(SLOW_FLOW)
    subprocess.run(
        [sys.executable, "-m", "dockyard", "init"], cwd=project, check=True, capture_output=True
    )
    store = SqlScheduleStore(database_url)
    try:
        now = datetime.now(UTC)
        draft = ScheduleDraft("yearly", "0 0 1 1 *", "UTC", ("run", "slow.py:slow"), "once", None)
        store.create_schedule(draft, next_due_at=now - timedelta(minutes=1), now=now)
        procs = [dockyard("scheduler", "--once") for _ in range(2)]
        outputs = [p.communicate(timeout=120)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        runs = store.list_runs("yearly")
        assert [r.outcome for r in runs] == ["succeeded"], outputs
        assert sum("succeeded" in out for out in outputs) == 1, outputs
    finally:
        store.close()


def test_two_long_running_schedulers_never_overlap_runs(tmp_path: Path, database_url: str) -> None:
    """Every second is a slot, each run takes 0.7 s, two schedulers race for 4 s: runs
    follow each other and never overlap, whichever scheduler runs them."""
    store = SqlScheduleStore(database_url)
    try:
        now = datetime.now(UTC)
        draft = ScheduleDraft("busy", "* * * * * *", "UTC", ("run", "0.7"), "once", None)
        store.create_schedule(draft, next_due_at=now, now=now)
        script = tmp_path / "scheduler.py"
        script.write_text(textwrap.dedent(SCHEDULER))
        procs = [
            subprocess.Popen(
                [sys.executable, str(script), database_url, "4"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=60)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        runs = sorted(store.list_runs("busy", limit=100), key=lambda r: r.started_at)
        finished = [r for r in runs if r.outcome == "succeeded"]
        assert len(finished) >= 2, runs
        for earlier, later in itertools.pairwise(runs):
            assert earlier.ended_at is not None
            assert earlier.ended_at <= later.started_at, (earlier, later)
        assert {r.outcome for r in runs} <= {"succeeded", "terminated"}
        assert store.get_schedule("busy").running_run is None
    finally:
        store.close()
