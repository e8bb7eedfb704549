"""Capture what a step prints and logs, per thread, while still showing it.

Steps may run on several threads at once (local-parallel), so swapping ``sys.stdout``
per step would mix their output. Instead one router replaces the streams and sends each
write to the buffer of the step running on the writing thread, then on to the original
stream. A logging handler does the same for log records.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_local = threading.local()
_lock = threading.Lock()


class _Router(io.TextIOBase):
    def __init__(self, original: TextIO) -> None:
        self.original = original

    def write(self, s: str) -> int:
        buf = getattr(_local, "buffer", None)
        if buf is not None:
            buf.write(s)
        return self.original.write(s)

    def flush(self) -> None:
        self.original.flush()

    # io.TextIOBase defines these (raising or answering for itself), so __getattr__ never
    # sees them: a subprocess given sys.stdout (local-parallel's process mode) needs the
    # real descriptor.
    def fileno(self) -> int:
        return self.original.fileno()

    def isatty(self) -> bool:
        return self.original.isatty()

    def __getattr__(self, name: str) -> Any:  # isatty, encoding, fileno...
        return getattr(self.original, name)


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        buf = getattr(_local, "buffer", None)
        if buf is not None:
            try:
                buf.write(self.format(record) + "\n")
            except Exception:  # a bad log call must not fail the step
                self.handleError(record)


_handler = _Handler()
_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))


def _install() -> None:
    with _lock:
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout)
        if not isinstance(sys.stderr, _Router):
            sys.stderr = _Router(sys.stderr)
        root = logging.getLogger()
        if _handler not in root.handlers:
            root.addHandler(_handler)


@contextmanager
def capture_output() -> Iterator[io.StringIO]:
    """Collect stdout, stderr and log records of the current thread into a buffer."""
    _install()
    buf = io.StringIO()
    previous = getattr(_local, "buffer", None)
    _local.buffer = buf
    try:
        yield buf
    finally:
        _local.buffer = previous
