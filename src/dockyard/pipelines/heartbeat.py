"""A run's heartbeat: tells the metadata store, on a daemon thread, that a process still
works on the run, so a run whose processes are gone reads as ``crashed``.

The process that runs a pipeline beats for the whole run; ``dockyard step run`` beats
while its step runs, which keeps a run planned for an external orchestrator (Airflow,
Kubeflow: no process owns it) alive while its steps run.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

    from dockyard.metadata.base import MetadataStore

__all__ = ["Heartbeat"]

_log = logging.getLogger(__name__)


class Heartbeat:
    """Tells the metadata store every ``interval_s`` that this process still runs the
    run, on a daemon thread, so a run whose process died reads as ``crashed``."""

    def __init__(self, metadata: MetadataStore, run_id: str, interval_s: float) -> None:
        self._metadata = metadata
        self._run_id = run_id
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"dockyard-heartbeat-{run_id[:8]}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        if self._interval_s > 0:
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            # A beat stuck on an unreachable database ends with its connect timeout; the
            # thread is a daemon, so waiting longer than this would only delay the caller.
            self._thread.join(timeout=5.0)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._metadata.heartbeat(self._run_id)
            except Exception as exc:  # a missed beat; the run reads crashed only if they stop
                _log.debug("heartbeat of run %s failed: %s", self._run_id[:8], exc)
