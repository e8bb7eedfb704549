"""Failure logs that a flood of errors cannot turn into a flood of tracebacks.

The service logs a model version's failure with its traceback (what an operator needs to
fix it), but a client repeating a failing request, or a broken version under load, would
write one per request: disks fill and the first, useful lines scroll away. So each key (a
model version) gets at most ``limit`` tracebacks per ``window`` seconds; the failures
past it are counted and reported in one line when the window ends. The counts of every
failure stay exact in the metrics (``dockyard_request_errors_total``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FailureLog"]


@dataclass(slots=True)
class _Window:
    start: float
    logged: int = 0
    suppressed: int = 0
    reported: bool = False  # a summary line is scheduled


class FailureLog:
    """At most ``limit`` tracebacks per key per ``window`` seconds; the rest are counted.

    Args:
        logger: where the lines go.
        limit: tracebacks per key per window (0: none, only the counts).
        window: seconds.
        clock: seconds, monotonic (tests pass their own).
    """

    def __init__(
        self,
        logger: logging.Logger,
        limit: int = 5,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.limit = limit
        self.window = window
        self.clock = clock
        self._windows: dict[str, _Window] = {}

    def failure(self, key: str, message: str, exc: BaseException | None) -> None:
        """One failure of ``key``: logged with ``exc``'s traceback, or counted."""
        now = self.clock()
        state = self._windows.get(key)
        if state is None or now - state.start >= self.window:
            if state is not None:
                self.flush(key)
            state = self._windows[key] = _Window(now)
        if state.logged < self.limit:
            state.logged += 1
            self.logger.warning("%s", message, exc_info=exc)
            if state.logged == self.limit:
                self.logger.warning(
                    "%s: %d failures logged in %.0f s; further ones are counted, not logged, "
                    "until the window ends",
                    key,
                    self.limit,
                    self.window,
                )
            return
        state.suppressed += 1
        if not state.reported:
            state.reported = True
            self._schedule(state.start + self.window - now, key)

    def flush(self, key: str | None = None) -> None:
        """Report the failures counted but not logged (of ``key``, or of every key)."""
        for name in [key] if key is not None else list(self._windows):
            state = self._windows.get(name)
            if state is None or not state.suppressed:
                continue
            self.logger.warning(
                "%s: %d more failures in the %.0f s after the first %d (tracebacks not "
                "logged; see dockyard_request_errors_total)",
                name,
                state.suppressed,
                self.window,
                state.logged,
            )
            state.suppressed = 0

    def _schedule(self, delay: float, key: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: the next failure after the window reports it
            return
        loop.call_later(max(delay, 0.0), self.flush, key)
