"""Consumer status files: written atomically, read back, and a state that tells a
consumer that stopped from one that was killed."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from dockyard.events.status import ConsumerStatus, consumer_status, status_dir, write_status


def _record(**changes: object) -> ConsumerStatus:
    base = ConsumerStatus(
        group="scorers",
        name="c1",
        model="churn:1",
        bus="redis://:***@127.0.0.1:6379",
        input="in",
        output="out",
        dead_letter="in.dead",
        pid=os.getpid(),
        host=__import__("socket").gethostname(),
        started_at=time.time() - 10,
        updated_at=time.time(),
        running=True,
        scored=10,
        dead_lettered=1,
        events_per_s=5.0,
        p99_ms=1.5,
        pending=3,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_written_status_reads_back_newest_first(tmp_path: Path) -> None:
    folder = status_dir(tmp_path)
    write_status(folder, _record(name="old", updated_at=time.time() - 1))
    write_status(folder, _record(name="new"))
    (folder / "garbage.json").write_text("{not json")
    assert [s.name for s in consumer_status(tmp_path)] == ["new", "old"]
    assert not list(folder.glob("*.tmp"))
    assert consumer_status(tmp_path / "nowhere") == []


def test_state_running_stopped_or_gone() -> None:
    assert _record().state == "running"
    assert _record(running=False).state == "stopped"
    assert _record(updated_at=time.time() - 60).state == "gone"  # silent
    assert _record(pid=2**22 + 12345).state == "gone"  # no such process on this host
