"""Micro-batching: concurrent requests share one model call.

Each request :meth:`MicroBatcher.submit`\\ s its validated batch and awaits its own slice
of the result. One worker task per model takes every request queued by the time it runs
(up to ``max_batch_size`` rows) into one call.

*Natural batching* (the default, ``max_latency_ms=0``): the worker never waits for more
requests. Requests that arrive while the model computes queue up and form the next call,
so a lone or sequential client is never delayed, and a busy service gets full batches.
With ``max_latency_ms > 0`` the worker may also wait, at most that long after the oldest
queued request, for more rows, but only while it can pay off: requests have lately
arrived while others were in flight, and faster than the window (a moving average of the
gaps between arrivals). A wait that gathers nothing turns waiting off until requests
overlap again. Worth it for models whose call costs the same for 1 row and for many
(a GPU) and is long compared with the window.

*Where the model runs*: on a model thread (:class:`ModelThreads`, or any ``Executor``),
so the event loop keeps serving HTTP while the model computes; or, with ``inline=True``,
on the event loop itself. Inline is for models whose call is measured to be short and
holds the GIL anyway (a scikit-learn ``predict`` on a few dozen rows: 0.24-0.39 ms, all
of it Python under the GIL; the thread hop added 20-60 us per call and made the model
thread 20-35% slower, ``benchmarks/README.md``, Serving): a thread then buys no
parallelism, only the hop. The serving app decides by timing the model at start-up
(``ServeConfig.inline_below_ms``).

*Fair errors*: when a merged call raises, each request in it is retried alone, so only the
requests that fail by themselves get the error.

*Off switch*: ``enabled=False`` or ``max_batch_size=1`` calls the model once per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from dockyard.errors import ServingError
from dockyard.runtime.validation import batch_rows, concat_batches, split_batch

__all__ = ["MicroBatcher", "ModelThreads"]


class ModelThreads:
    """Dedicated threads for blocking model calls, handed work through one queue.

    Lighter than ``loop.run_in_executor`` (no concurrent future chained to an asyncio
    one): for sub-millisecond models the hand-off is a visible share of a request.
    Threads start on first use; :meth:`shutdown` stops them.
    """

    def __init__(self, threads: int = 1, name: str = "dockyard-model") -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.size = threads
        self.name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def run(self, fn: Callable[[Any], Any], arg: Any) -> asyncio.Future[Any]:
        """Call ``fn(arg)`` on a model thread; the future resolves on the calling loop."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if len(self._threads) < self.size:
            self._start()
        self._queue.put((loop, future, fn, arg))
        return future

    def _start(self) -> None:
        with self._lock:
            while len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            loop, future, fn, arg = job
            try:
                outcome, ok = fn(arg), True
            except BaseException as exc:  # handed to the awaiting request
                outcome, ok = exc, False
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(_resolve, future, outcome, ok)

    def shutdown(self) -> None:
        """Stop the threads once the calls already queued are done."""
        with self._lock:
            for _ in self._threads:
                self._queue.put(None)
            self._threads = []


def _resolve(future: asyncio.Future[Any], outcome: Any, ok: bool) -> None:
    if future.done():
        return
    if ok:
        future.set_result(outcome)
    else:
        future.set_exception(outcome)


@dataclass(slots=True)
class _Item:
    batch: Any
    rows: int
    future: asyncio.Future[Any]
    arrived: float


class MicroBatcher:
    """Merge concurrent requests into model calls.

    Args:
        fn: the blocking model call: batch in, one output row per input row out.
        max_batch_size: most rows per model call; 1 turns batching off.
        max_latency_ms: longest a request may wait for others to join its call; 0 (the
            default) never waits: only what queued while the model was busy is merged.
        enabled: False turns batching off.
        executor: where ``fn`` runs: :class:`ModelThreads`, any ``Executor``, or None
            for the loop's default thread pool.
        inline: call ``fn`` on the event loop (for short calls; see the module docs).
        on_batch: called with the number of rows of every model call (metrics).
        concat, rows, split: how batches are joined, counted and cut (defaults fit the
            signature's batches: 2-D arrays or dicts of columns).
    """

    def __init__(
        self,
        fn: Callable[[Any], Any],
        *,
        max_batch_size: int = 32,
        max_latency_ms: float = 0.0,
        enabled: bool = True,
        executor: ModelThreads | Executor | None = None,
        inline: bool = False,
        on_batch: Callable[[int], None] | None = None,
        concat: Callable[[Sequence[Any]], Any] = concat_batches,
        rows: Callable[[Any], int] = batch_rows,
        split: Callable[[Any, Sequence[int]], list[Any]] = split_batch,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        if max_latency_ms < 0:
            raise ValueError(f"max_latency_ms must be >= 0, got {max_latency_ms}")
        self.fn = fn
        self.max_batch_size = max_batch_size
        self.max_latency = max_latency_ms / 1000.0
        self.enabled = enabled and max_batch_size > 1
        self.executor = executor
        self.inline = inline
        self.on_batch = on_batch
        self._concat = concat
        self._rows = rows
        self._split = split
        self._queue: deque[_Item] = deque()
        self._queued_rows = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._last_arrival = 0.0
        self._gap = float("inf")  # moving average of the time between arrivals
        self._closed = False
        self._busy = 0  # model calls running
        self._concurrent = False  # requests lately arrived while others were in flight

    async def submit(self, batch: Any) -> Any:
        """Predict ``batch`` (possibly merged with others) and return its own output rows.

        Raises:
            Exception: whatever ``fn`` raised for this batch alone.
        """
        if self._closed:
            raise ServingError("the model server is shutting down")
        n = self._rows(batch)
        if not self.enabled or n >= self.max_batch_size:
            return await self._call(batch, n)
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # first use, or a new loop (test clients make one per call)
            self._loop, self._wakeup, self._worker = loop, asyncio.Event(), None
            self._queue.clear()
            self._queued_rows = 0
        now = 0.0
        if self.max_latency > 0:  # the bookkeeping only a wait window needs
            now = time.perf_counter()
            if self._last_arrival:
                gap = now - self._last_arrival
                self._gap = gap if self._gap == float("inf") else 0.8 * self._gap + 0.2 * gap
            self._last_arrival = now
            if self._busy or self._queue:
                self._concurrent = True  # others are in flight: waiting for them can pay
            self._wakeup.set()
        item = _Item(batch, n, loop.create_future(), now)
        self._queue.append(item)
        self._queued_rows += n
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._work())
        return await item.future

    async def _call(self, batch: Any, n: int) -> Any:
        self._busy += 1
        try:
            if self.inline:
                result = self.fn(batch)
            elif isinstance(self.executor, ModelThreads):
                result = await self.executor.run(self.fn, batch)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self.executor, self.fn, batch)
        finally:
            self._busy -= 1
        if self.on_batch is not None:
            self.on_batch(n)
        if len(result) != n:
            raise ServingError(f"the model returned {len(result)} rows for {n}")
        return result

    async def _work(self) -> None:
        while self._queue:
            await self._gather()
            items = self._take()
            if items:
                await self._run(items)
            if self.inline:
                # Let the answers go out and the requests that arrived during the call
                # be read before the next one: they are the next batch.
                await asyncio.sleep(0)

    async def _gather(self) -> None:
        """Wait for more rows while it is worth it (see the module docstring)."""
        wakeup = self._wakeup
        if not self._concurrent or self.max_latency <= 0:
            return
        before = len(self._queue)
        while self._queued_rows < self.max_batch_size and self.max_latency > 0:
            remaining = self._queue[0].arrived + self.max_latency - time.perf_counter()
            if remaining <= 0 or self._gap > remaining:
                break
            wakeup.clear()
            try:
                await asyncio.wait_for(wakeup.wait(), remaining)
            except TimeoutError:
                break
        if len(self._queue) <= before:
            self._concurrent = False  # nobody came: stop waiting until traffic overlaps again

    def _take(self) -> list[_Item]:
        items: list[_Item] = []
        rows = 0
        while self._queue and (not items or rows + self._queue[0].rows <= self.max_batch_size):
            item = self._queue.popleft()
            self._queued_rows -= item.rows
            if item.future.cancelled():  # the client went away
                continue
            items.append(item)
            rows += item.rows
        return items

    async def _run(self, items: list[_Item]) -> None:
        sizes = [it.rows for it in items]
        total = sum(sizes)
        try:
            merged = self._concat([it.batch for it in items])
            result = await self._call(merged, total)
        except asyncio.CancelledError:
            for it in items:
                if not it.future.done():
                    it.future.set_exception(ServingError("the model server is shutting down"))
            raise
        except Exception as exc:
            if len(items) == 1:
                _settle(items[0].future, exc=exc)
                return
            # One bad request must not fail the others: retry each alone.
            for it in items:
                if it.future.cancelled():
                    continue
                try:
                    _settle(it.future, await self._call(it.batch, it.rows))
                except asyncio.CancelledError:
                    _settle(it.future, exc=ServingError("the model server is shutting down"))
                    raise
                except Exception as single:
                    _settle(it.future, exc=single)
            return
        for it, part in zip(items, self._split(result, sizes), strict=True):
            _settle(it.future, part)

    async def close(self) -> None:
        """Stop the worker; requests still queued fail with a ServingError."""
        self._closed = True
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker
        while self._queue:
            _settle(
                self._queue.popleft().future,
                exc=ServingError("the model server is shutting down"),
            )
        self._queued_rows = 0


def _settle(
    future: asyncio.Future[Any], value: Any = None, exc: BaseException | None = None
) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)
