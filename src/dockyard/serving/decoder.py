"""Large request bodies decoded and validated in a child process, off the event loop.

Why a process, not a thread: parsing a large body is long C calls that hold the GIL
(``orjson.loads`` of a 7 MB body takes ~60 ms here, ``np.asarray`` of its rows as long),
and a thread does not shorten them for the event loop: every other client waits for all
of it, as when it ran on the loop. A child process parses in parallel; this process only
copies bytes through pipes (writes and reads release the GIL) and unpickles the validated
batch, a copy of its buffer (``benchmarks/bench_serving_large_bodies.py`` measures other
clients' latency while 7 MB bodies arrive).

One child per serving process, started on the first large body (~0.3 s: it imports
numpy), ended when the app closes or when this process exits (it reads EOF). It runs
:mod:`dockyard.serving.bodies`, the same functions the app runs inline for small bodies,
so answers and messages are the same. Jobs are answered in order; a writer thread feeds
the child and a reader thread resolves each request's future on its event loop. If the
child dies, the requests in flight get a :class:`~dockyard.errors.ServingError` (500) and
the next large body starts a new one.

Protocol: each job is ``<QQ`` (metadata size, body size), the pickled metadata
``(kind, target, *arguments)``, then the raw body; each answer is ``<Q`` (size) and a
pickled ``("ok", result) | ("invalid", message) | ("error", text)``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import pickle
import queue
import struct
import subprocess
import sys
import threading
import weakref
from collections import deque
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from dockyard.errors import InvalidInputError, ServingError

if TYPE_CHECKING:
    from dockyard.serving.bodies import Target

__all__ = ["BodyDecoder"]

_JOB = struct.Struct("<QQ")
_ANSWER = struct.Struct("<Q")
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from dockyard.serving.decoder import _child_main; _child_main()"
)
_LIVE: weakref.WeakSet[BodyDecoder] = weakref.WeakSet()
_atexit_registered = False


class BodyDecoder:
    """Decode and validate request bodies in a child process.

    ``await decoder.run(target, ("predict", body))`` (or ``("infer", body,
    header_length)``) returns what :func:`dockyard.serving.bodies.decode` returns, or
    raises its :class:`~dockyard.errors.InvalidInputError`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self._closed = False

    def run(self, target: Target, job: tuple[Any, ...]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            if self._closed:
                raise ServingError("the model server is shutting down")
            if self._child is None or not self._child.alive:
                self._child = _Child(self._lock)
                _watch(self)
            self._child.submit(loop, future, target, job)
        return future

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (tests use it)."""
        child = self._child
        return child.proc.pid if child is not None and child.alive else None

    def close(self, timeout: float = 5.0) -> None:
        """End the child once its jobs are done; later calls start nothing."""
        with self._lock:
            self._closed = True
            child, self._child = self._child, None
        if child is not None:
            child.stop(timeout)


def _watch(decoder: BodyDecoder) -> None:
    global _atexit_registered
    _LIVE.add(decoder)
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(_close_all)


def _close_all() -> None:
    for decoder in list(_LIVE):
        decoder.close(timeout=1.0)


class _Child:
    def __init__(self, lock: threading.Lock) -> None:
        import dockyard

        root = str(Path(dockyard.__file__).resolve().parent.parent)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, root],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self.lock = lock  # the decoder's: submit and the end of the child take it
        self.alive = True
        self.pending: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = deque()
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.writer = threading.Thread(target=self._write, name="dockyard-decode-w", daemon=True)
        self.reader = threading.Thread(target=self._read, name="dockyard-decode-r", daemon=True)
        self.writer.start()
        self.reader.start()

    def submit(
        self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], target: Any, job: Any
    ) -> None:
        """Queue a job (the caller holds the lock, so jobs and futures keep one order)."""
        self.pending.append((loop, future))
        self.jobs.put((target, job))

    def _write(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            while (item := self.jobs.get()) is not None:
                target, (kind, body, *rest) = item
                meta = pickle.dumps((kind, target, *rest), protocol=5)
                stdin.write(_JOB.pack(len(meta), len(body)))
                stdin.write(meta)
                stdin.write(body)
                stdin.flush()
        except (OSError, ValueError):  # the child is gone: the reader fails the requests
            pass
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _read(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        try:
            while (head := _read_exactly(stdout, _ANSWER.size)) is not None:
                payload = _read_exactly(stdout, _ANSWER.unpack(head)[0])
                if payload is None:
                    break
                status, value = pickle.loads(payload)
                loop, future = self.pending.popleft()
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                    loop.call_soon_threadsafe(_settle, future, status, value)
        finally:
            stdout.close()
            with self.lock:
                self.alive = False
                pending, self.pending = list(self.pending), deque()
            self.jobs.put(None)
            code = self.proc.wait()
            error = ServingError(
                f"the request decoder process ended (exit code {code}) before answering; "
                "send the request again"
            )
            for loop, future in pending:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_settle, future, "fail", error)

    def stop(self, timeout: float) -> None:
        self.jobs.put(None)  # the writer closes stdin: the child ends after its jobs
        self.reader.join(timeout)
        if self.reader.is_alive():
            self.proc.kill()
            self.reader.join(timeout)
        self.writer.join(timeout)


def _settle(future: asyncio.Future[Any], status: str, value: Any) -> None:
    if future.done():
        return
    if status == "ok":
        future.set_result(value)
    elif status == "invalid":
        future.set_exception(InvalidInputError(value))
    elif status == "fail":
        future.set_exception(value)
    else:
        future.set_exception(ServingError(f"decoding the request failed: {value}"))


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    """``size`` bytes, or None at the end of the stream."""
    data = stream.read(size)
    if data is None or len(data) < size:
        return None
    return data


# --- the child -------------------------------------------------------------------------


def _child_main() -> None:
    """The decoder process: jobs on stdin, answers on stdout, until stdin ends."""
    import signal

    from dockyard.runtime.validation import Validator
    from dockyard.serving.bodies import decode

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which ends us
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the answers
    validators: dict[Any, Validator] = {}
    while (head := _read_exactly(source, _JOB.size)) is not None:
        meta_size, body_size = _JOB.unpack(head)
        meta = _read_exactly(source, meta_size)
        body = _read_exactly(source, body_size) if body_size else b""
        if meta is None or body is None:
            return
        kind, target, *rest = pickle.loads(meta)
        answer: tuple[str, Any]
        try:
            validator = validators.get(target)
            if validator is None:
                validator = validators[target] = Validator(target.signature)
            answer = ("ok", decode(validator, target, (kind, body, *rest)))
        except InvalidInputError as exc:
            answer = ("invalid", str(exc))
        except Exception as exc:  # a bug of ours: the request gets a 500 naming it
            answer = ("error", f"{type(exc).__name__}: {exc}")
        payload = pickle.dumps(answer, protocol=5)
        sink.write(_ANSWER.pack(len(payload)))
        sink.write(payload)
        sink.flush()
