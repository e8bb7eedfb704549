"""Whether the process running a run is still there: owners, heartbeats, ``crashed``.

The process that runs a pipeline records itself as the run's owner (pid and host) and
heartbeats while it runs (:func:`dockyard.pipelines.pipeline.execute_plan` does, on a
thread); only that process writes the run's end. When it dies without writing it
(SIGKILL, a lost machine, a database that was down at the end) the run would read
``running`` forever. :func:`crash_reason` tells instead, from what was recorded:

- the owner ran on this host and its pid is gone: crashed at once;
- otherwise, no heartbeat for ``stale_after_s``: crashed (this also covers a reused pid,
  another host, and runs recorded before owners existed, judged by their start time).

The status is derived when a run is read, never written by the reader: reading needs no
write access (a read-only project lists its runs), two readers cannot race to write it,
and a run whose process was only cut off for a while reads ``running`` again as soon as
its next heartbeat lands, while its own ``finish_run`` stays the final word.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from functools import cache

__all__ = ["crash_reason", "pid_alive", "this_host"]


@cache
def this_host() -> str:
    """This machine's name, as recorded with the runs it owns."""
    return socket.gethostname()[:255]


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (True when it cannot be told)."""
    if os.name != "posix":
        return True  # os.kill would terminate it on Windows; rely on the heartbeat
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


_AGAIN = "Run the pipeline again: the steps that completed are reused from the cache."


def crash_reason(
    *,
    owner_pid: int | None,
    owner_host: str | None,
    heartbeat_at: datetime | None,
    created_at: datetime,
    now: datetime,
    stale_after_s: float,
) -> str | None:
    """Why a run recorded as ``running`` is in fact crashed (one line), or None."""
    owner = (
        f"pid {owner_pid} on {owner_host}"
        if owner_pid is not None and owner_host
        else "the process that ran it"
    )
    if (
        owner_pid is not None
        and owner_host == this_host()
        and owner_pid != os.getpid()
        and not pid_alive(owner_pid)
    ):
        return (
            f"Crashed: the process running it ({owner}) ended without recording the "
            f"run's end (it was killed, or lost the metadata database). {_AGAIN}"
        )
    silent = (now - (heartbeat_at or created_at)).total_seconds()
    if silent > stale_after_s:
        return (
            f"Crashed: no sign of life from the process running it ({owner}) for "
            f"{_duration(silent)}: it was killed, its machine was lost, or it lost the "
            f"metadata database. {_AGAIN}"
        )
    return None
