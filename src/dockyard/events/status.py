"""Live status of stream consumers: what ``dockyard consume status`` shows.

Each running consumer writes a small JSON file, ``.dockyard/consumers/GROUP.NAME.json``,
every two seconds and when it stops (written under a temporary name and renamed, so a
reader never sees half a file): its model, topics, counts, recent events/s, p99 latency and
the group's pending messages as its broker last said. ``consumer_status()`` reads them
back. Files
are per project folder: consumers started from other machines are not seen (ask the
broker, ``EventBus.pending``).
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ConsumerStatus", "consumer_status", "status_dir", "write_status"]

#: A running consumer rewrites its file this often; silent for 5 of these reads as gone.
EVERY_S = 2.0


@dataclass(frozen=True)
class ConsumerStatus:
    """One consumer, as it last wrote itself down."""

    group: str
    name: str
    model: str
    bus: str  # password masked
    input: str
    output: str
    dead_letter: str
    pid: int
    host: str
    started_at: float
    updated_at: float
    running: bool  # False once it stopped by itself
    scored: int
    dead_lettered: int
    events_per_s: float  # over the last interval
    p99_ms: float | None
    pending: int  # the group's unacknowledged messages (-1: the broker cannot tell)
    dead_letter_reasons: list[str] = field(default_factory=list)  # the last few, newest last

    @property
    def state(self) -> str:
        """``running``, ``stopped`` (it said so) or ``gone`` (silent: killed, crashed)."""
        if not self.running:
            return "stopped"
        if time.time() - self.updated_at > 5 * EVERY_S:
            return "gone"
        if self.host == socket.gethostname() and not _alive(self.pid):
            return "gone"
        return "running"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status_dir(config_dir: Path) -> Path:
    """Where the consumers of a project write their status (under ``.dockyard/``)."""
    return config_dir / "consumers"


def write_status(folder: Path, record: ConsumerStatus) -> None:
    """Write ``record`` atomically (temporary file, then rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record.group}.{record.name}.json"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(record)))
    os.replace(tmp, path)


def consumer_status(config_dir: Path | None = None) -> list[ConsumerStatus]:
    """Every consumer of the project (default: the active stack's), newest first.

    Files that cannot be read (being replaced, from another dockyard) are skipped.
    """
    if config_dir is None:
        from dockyard.stacks.stack import load_stack

        config_dir = load_stack().config_dir
    out: list[ConsumerStatus] = []
    folder = status_dir(config_dir)
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            out.append(ConsumerStatus(**data))
        except (OSError, ValueError, TypeError):
            continue
    return sorted(out, key=lambda s: s.updated_at, reverse=True)
