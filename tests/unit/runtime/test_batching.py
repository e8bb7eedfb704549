"""The micro-batcher: merges concurrent requests, splits results, isolates errors."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from dockyard.errors import ServingError
from dockyard.runtime.batching import MicroBatcher


class Recorder:
    """A model that doubles its input and records every call (and the thread it ran on)."""

    def __init__(self, delay: float = 0.0, poison: float | None = None) -> None:
        self.calls: list[int] = []
        self.threads: set[int] = set()
        self.delay = delay
        self.poison = poison

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(len(batch))
        self.threads.add(threading.get_ident())
        if self.delay:
            time.sleep(self.delay)
        if self.poison is not None and (batch == self.poison).any():
            raise ValueError(f"cannot take {self.poison}")
        return batch[:, 0] * 2


def rows(*values: float) -> np.ndarray:
    return np.array([[v] for v in values])


async def submit_all(batcher: MicroBatcher, batches: list[np.ndarray]) -> list[object]:
    return await asyncio.gather(*(batcher.submit(b) for b in batches), return_exceptions=True)


def test_concurrent_requests_share_model_calls_and_get_their_own_rows() -> None:
    model = Recorder(delay=0.01)

    async def main() -> list[object]:
        batcher = MicroBatcher(model, max_batch_size=8, max_latency_ms=20)
        return await submit_all(batcher, [rows(i, i + 0.5) for i in range(10)])

    results = asyncio.run(main())
    for i, result in enumerate(results):
        assert np.array_equal(result, [2 * i, 2 * i + 1])  # type: ignore[arg-type]
    assert sum(model.calls) == 20
    assert len(model.calls) < 10 and max(model.calls) <= 8


def test_model_runs_off_the_event_loop_thread() -> None:
    model = Recorder()

    async def main() -> None:
        batcher = MicroBatcher(model, max_batch_size=4)
        await batcher.submit(rows(1))
        MicroBatcher(model, enabled=False)
        await MicroBatcher(model, enabled=False).submit(rows(1))

    asyncio.run(main())
    assert threading.get_ident() not in model.threads


def test_a_bad_request_fails_alone() -> None:
    """One poisoned request in a merged call: retried alone, only it fails."""
    model = Recorder(delay=0.005, poison=13.0)

    async def main() -> list[object]:
        batcher = MicroBatcher(model, max_batch_size=16, max_latency_ms=20)
        return await submit_all(batcher, [rows(1), rows(13), rows(3), rows(4)])

    results = asyncio.run(main())
    assert isinstance(results[1], ValueError) and "cannot take 13" in str(results[1])
    assert [r.tolist() for i, r in enumerate(results) if i != 1] == [[2], [6], [8]]  # type: ignore[union-attr]


@pytest.mark.parametrize("config", [{"enabled": False}, {"max_batch_size": 1}])
def test_off_switch_calls_the_model_once_per_request(config: dict) -> None:
    model = Recorder(delay=0.002)

    async def main() -> list[object]:
        batcher = MicroBatcher(model, **config)
        return await submit_all(batcher, [rows(i) for i in range(5)])

    results = asyncio.run(main())
    assert model.calls == [1, 1, 1, 1, 1]
    assert [r.tolist() for r in results] == [[0], [2], [4], [6], [8]]  # type: ignore[union-attr]


def test_batches_never_exceed_max_rows_and_big_requests_go_alone() -> None:
    model = Recorder(delay=0.005)

    async def main() -> None:
        batcher = MicroBatcher(model, max_batch_size=4, max_latency_ms=10)
        await submit_all(batcher, [rows(1, 2, 3), rows(4, 5), rows(6), rows(*range(9))])

    asyncio.run(main())
    assert 9 in model.calls
    assert all(n <= 4 for n in model.calls if n != 9)
    assert sum(model.calls) == 15


def test_lone_request_is_not_held_for_the_window() -> None:
    """Adaptive: with no other traffic, a request does not wait max_latency_ms."""
    model = Recorder()

    async def main() -> float:
        batcher = MicroBatcher(model, max_batch_size=32, max_latency_ms=300)
        started = time.perf_counter()
        for i in range(5):  # a sequential client: never two requests in flight
            await batcher.submit(rows(i))
        return time.perf_counter() - started

    assert asyncio.run(main()) < 0.2


def test_batch_sizes_are_reported_and_wrong_output_length_is_an_error() -> None:
    seen: list[int] = []

    async def main() -> None:
        batcher = MicroBatcher(lambda b: b[:, 0], max_batch_size=8, on_batch=seen.append)
        await submit_all(batcher, [rows(1), rows(2, 3)])
        short = MicroBatcher(lambda b: b[:1, 0], max_batch_size=8, max_latency_ms=20)
        results = await submit_all(short, [rows(1, 2), rows(3, 4)])
        assert all(isinstance(r, ServingError) for r in results)

    asyncio.run(main())
    assert sum(seen) == 3


def test_close_fails_queued_requests_and_refuses_new_ones() -> None:
    async def main() -> None:
        batcher = MicroBatcher(Recorder(delay=0.05), max_batch_size=8, max_latency_ms=50)
        pending = [asyncio.ensure_future(batcher.submit(rows(i))) for i in range(3)]
        await asyncio.sleep(0.01)
        await batcher.close()
        results = await asyncio.gather(*pending, return_exceptions=True)
        assert all(isinstance(r, ServingError | np.ndarray) for r in results)
        with pytest.raises(ServingError, match="shutting down"):
            await batcher.submit(rows(1))

    asyncio.run(main())


def test_invalid_settings() -> None:
    with pytest.raises(ValueError, match="max_batch_size"):
        MicroBatcher(Recorder(), max_batch_size=0)
    with pytest.raises(ValueError, match="max_latency_ms"):
        MicroBatcher(Recorder(), max_latency_ms=-1)


def test_model_threads_run_calls_off_the_loop_and_carry_errors() -> None:
    from dockyard.runtime.batching import ModelThreads

    threads = ModelThreads(2)
    model = Recorder(poison=7.0)

    async def main() -> list[object]:
        batcher = MicroBatcher(model, max_batch_size=1, executor=threads)
        return await submit_all(batcher, [rows(1), rows(7), rows(3)])

    try:
        results = asyncio.run(main())
    finally:
        threads.shutdown()
    assert results[0].tolist() == [2] and results[2].tolist() == [6]  # type: ignore[union-attr]
    assert isinstance(results[1], ValueError)
    assert threading.get_ident() not in model.threads


def test_natural_batching_never_waits_for_a_lone_request() -> None:
    """With no window (the default), a request arriving alone is called at once: the
    batcher must not cost a sequential client anything."""
    model = Recorder()

    async def main() -> float:
        batcher = MicroBatcher(model, max_batch_size=8)
        started = time.perf_counter()
        for i in range(20):
            await batcher.submit(rows(i))
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    assert model.calls == [1] * 20
    assert elapsed < 1.0  # no 2 ms window per call, nor anything like it


def test_natural_batching_merges_what_queued_while_the_model_was_busy() -> None:
    """Requests that arrive during a call form the next call, without any window."""
    model = Recorder(delay=0.02)

    async def main() -> list[object]:
        batcher = MicroBatcher(model, max_batch_size=8)
        first = asyncio.ensure_future(batcher.submit(rows(0)))
        await asyncio.sleep(0.005)  # the first call is running now
        rest = [batcher.submit(rows(i)) for i in range(1, 6)]
        return [await first, *(await asyncio.gather(*rest))]

    results = asyncio.run(main())
    assert [int(r[0]) for r in results] == [0, 2, 4, 6, 8, 10]  # type: ignore[index]
    assert model.calls == [1, 5]


def test_inline_calls_run_on_the_event_loop_and_still_batch() -> None:
    """Inline mode (for calls measured to be short) skips the thread hop; requests read
    while one call runs still share the next call, and a bad one fails alone."""
    model = Recorder(poison=3.0)

    async def main() -> tuple[int, list[object]]:
        batcher = MicroBatcher(model, max_batch_size=8, inline=True)
        results = await submit_all(batcher, [rows(i) for i in range(6)])
        return threading.get_ident(), results

    loop_thread, results = asyncio.run(main())
    assert model.threads == {loop_thread}
    assert isinstance(results[3], ValueError)
    assert [int(r[0]) for i, r in enumerate(results) if i != 3] == [0, 2, 4, 8, 10]  # type: ignore[index]


def test_inline_requests_ready_together_share_one_call() -> None:
    """Inline calls hold the loop, so requests read in the same loop turn must wait for
    the worker rather than each calling the model at once (or nothing would merge)."""
    model = Recorder()

    async def main() -> None:
        batcher = MicroBatcher(model, max_batch_size=8, inline=True)
        await submit_all(batcher, [rows(i) for i in range(8)])

    asyncio.run(main())
    assert model.calls == [8]
