"""Stream scoring: read events from a topic, predict, publish predictions, at least once.

:class:`StreamConsumer` is the thin I/O loop around :mod:`dockyard.events.decisions`:

1. fetch a batch: up to ``max_batch`` messages, waiting ``max_latency_ms`` after the
   first for more (messages that arrived together are scored together);
2. dead-letter what was delivered too often, what does not parse, what the signature
   refuses (the runtime's :class:`~dockyard.runtime.validation.Validator`);
3. predict in one model call per batch, on a thread (``ModelRuntime.predict_batch``);
   when the call raises, each input is retried alone so only the bad ones dead-letter;
4. publish the predictions and wait for the broker's confirmation, dead-letter the
   refused messages, and only then acknowledge the inputs.

A crash anywhere before 4 leaves the batch unacknowledged: it is delivered again (to this
consumer after a restart, or to another of its group) and its predictions published again
under the same deduplication keys. While a batch is in flight for longer than a third of
the bus's ``ack_wait``, its messages are touched so the broker does not hand them to
another consumer. A stop (SIGTERM, SIGINT) finishes the batch in flight, acknowledges it
and returns: nothing is left pending.

Models are loaded only through the shared runtime (:func:`dockyard.runtime.load_runtime`).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import ConsumerConfigError, ServingError
from dockyard.events.base import EventBus, Message
from dockyard.events.decisions import (
    ConsumerConfig,
    Input,
    iso_time,
    parse,
    prediction_message,
    split_valid,
    triage,
)

if TYPE_CHECKING:
    from dockyard.runtime.drift import DriftMonitor, DriftReport
    from dockyard.runtime.model import ModelRuntime
    from dockyard.stacks.stack import Stack

__all__ = ["ConsumerStats", "StreamConsumer", "consume"]


@dataclass
class ConsumerStats:
    """What a consumer did: counts and end-to-end latencies (receive to ack)."""

    scored: int = 0
    dead_lettered: int = 0
    #: The last dead letters, ``"KEY: reason"`` (status, dashboard).
    recent_dead: deque[str] = field(default_factory=lambda: deque(maxlen=5))
    batches: int = 0
    model_calls: int = 0
    started_at: float = field(default_factory=time.monotonic)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    @property
    def handled(self) -> int:
        return self.scored + self.dead_lettered

    def p99_ms(self) -> float | None:
        """The 99th percentile latency of the last 10,000 messages, in ms."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    def rate(self) -> float:
        """Messages handled per second since the start."""
        return self.handled / max(time.monotonic() - self.started_at, 1e-9)


class StreamConsumer:
    """One consumer of a group: the loop of the module docstring.

    Args:
        config: topics, group, name and batching options.
        runtime: the model version (from :func:`dockyard.runtime.load_runtime`).
        bus: a connected event bus.
        on_batch: called with the stats after each batch (progress, tests).
        inline_below_ms: a model whose call on ``max_batch`` rows is measured (at start)
            under this runs on the event loop instead of a thread, as in serving
            (:mod:`dockyard.runtime.batching`): a scikit-learn ``predict`` on a few dozen
            rows is a fraction of a millisecond of Python under the GIL, and the thread
            hop costs more than that; 0 always uses a thread.
    """

    def __init__(
        self,
        config: ConsumerConfig,
        runtime: ModelRuntime,
        bus: EventBus,
        *,
        on_batch: Callable[[ConsumerStats], None] | None = None,
        inline_below_ms: float = 1.0,
        drift: DriftMonitor | None = None,
        on_drift: Callable[[DriftReport], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.runtime = runtime
        self.bus = bus
        self.on_batch = on_batch
        self.drift = drift
        self.on_drift = on_drift
        #: Every drift window's report, the newest last (at most 100 kept).
        self.drift_reports: deque[DriftReport] = deque(maxlen=100)
        self.stats = ConsumerStats()
        self.inline_below_ms = inline_below_ms
        self.inline = False

    async def run(
        self,
        stop: asyncio.Event,
        *,
        max_messages: int | None = None,
        idle_exit_s: float | None = None,
    ) -> ConsumerStats:
        """Consume until ``stop`` is set (or ``max_messages`` were handled, or no message
        came for ``idle_exit_s`` seconds); the batch in flight is always finished."""
        c = self.config
        await self.bus.create_group(c.input, c.group)
        if self.inline_below_ms > 0:
            took = self.runtime.time_call(c.max_batch)
            self.inline = took is not None and took * 1000 < self.inline_below_ms
        last_seen = time.monotonic()
        while not stop.is_set():
            if max_messages is not None and self.stats.handled >= max_messages:
                break
            messages = await self._fetch(stop)
            if not messages:
                if idle_exit_s is not None and time.monotonic() - last_seen > idle_exit_s:
                    break
                continue
            last_seen = time.monotonic()
            await self._with_touch(self.handle(messages), messages)
            if self.on_batch is not None:
                self.on_batch(self.stats)
        return self.stats

    async def _fetch(self, stop: asyncio.Event) -> list[Message]:
        """Up to ``max_batch`` messages: the first within ``poll_s``, then whatever else
        arrives within ``max_latency_ms`` of it. A fetch is never cancelled (messages it
        got would be left unacknowledged): a stop waits for it, ``poll_s`` at most."""
        c = self.config
        got = await self.bus.consume(
            c.input, c.group, c.name, max_messages=c.max_batch, timeout=c.poll_s
        )
        if not got or c.max_latency_ms <= 0:
            return got
        deadline = time.monotonic() + c.max_latency_ms / 1000
        for _ in range(c.max_batch):  # bounded: each turn adds a message or ends
            left = deadline - time.monotonic()
            if len(got) >= c.max_batch or left <= 0 or stop.is_set():
                break
            more = await self.bus.consume(
                c.input, c.group, c.name, max_messages=c.max_batch - len(got), timeout=left
            )
            if not more:
                break
            seen = {m.id for m in got}  # a tiny ack_wait can hand one back twice
            got += [m for m in more if m.id not in seen]
        return got

    async def _with_touch(self, work: Any, messages: Sequence[Message]) -> None:
        """Run ``work``; while it lasts longer than a third of ``ack_wait``, touch the
        messages so the broker keeps them with this consumer."""
        task = asyncio.ensure_future(work)
        every = max(self.bus.ack_wait / 3, 0.05)
        for _ in range(1_000_000):  # bounded by the work itself
            done, _ = await asyncio.wait({task}, timeout=every)
            if done:
                break
            with contextlib.suppress(Exception):  # a failed touch only risks a repeat
                await self.bus.touch(messages)
        task.result()

    async def handle(self, messages: Sequence[Message]) -> None:
        """Score one batch and settle every message in it (publish, dead-letter, ack)."""
        c = self.config
        received = time.time()
        started = time.monotonic()
        fresh, dead = triage(messages, c.max_deliveries)
        inputs: list[Input] = []
        for m in fresh:
            parsed = parse(m, c.id_field, received)
            if isinstance(parsed, str):
                dead.append((m, parsed))
            else:
                inputs.append(parsed)
        batches, refused = split_valid(inputs, self._to_batch)
        dead += [(i.message, reason) for i, reason in refused]
        outgoing = []
        scored: list[Message] = []
        received_at = iso_time(received)
        who = f"{c.group}/{c.name}"
        for items, batch in batches:
            predictions, failed = await self._predict(items, batch)
            dead += [(i.message, reason) for i, reason in failed]
            if self.drift is not None and predictions and not failed:
                await self._watch_drift(batch, [p for _, p in predictions])
            scored_at = iso_time(time.time())
            for item, prediction in predictions:
                outgoing.append(
                    prediction_message(
                        item,
                        prediction,
                        model=self.runtime.name,
                        version=self.runtime.version,
                        scored_at=scored_at,
                        received_at=received_at,
                        consumer=who,
                    )
                )
                scored.append(item.message)
        # Predictions are confirmed by the broker before any input is acknowledged.
        if outgoing:
            await self.bus.publish_many(c.output, outgoing)
        if dead:
            await self.bus.dead_letter(dead, c.dead_letter)
        if scored:
            await self.bus.ack(scored)
        elapsed = time.monotonic() - started
        self.stats.scored += len(scored)
        self.stats.dead_lettered += len(dead)
        self.stats.recent_dead.extend(f"{m.key}: {reason}" for m, reason in dead)
        self.stats.batches += 1
        self.stats.latencies.extend([elapsed] * len(messages))

    async def _watch_drift(self, batch: Any, predictions: list[Any]) -> None:
        """Count a scored batch into the drift window; report a window that drifted."""
        assert self.drift is not None
        if isinstance(batch, dict):
            columns = batch
        else:
            names = self.runtime.signature.column_names if self.runtime.signature else ()
            width = batch.shape[1] if getattr(batch, "ndim", 0) == 2 else 0
            columns = {(names[i] if i < len(names) else str(i)): batch[:, i] for i in range(width)}
        report = self.drift.add(columns, predictions)
        if report is None:
            return
        self.drift_reports.append(report)
        if report.drifted and self.on_drift is not None:
            await self.on_drift(report)

    async def _call(self, batch: Any) -> Any:
        if self.inline:
            return self.runtime.predict_batch(batch)
        return await asyncio.to_thread(self.runtime.predict_batch, batch)

    def _to_batch(self, features: list[Any]) -> Any:
        if features and isinstance(features[0], dict):
            return self.runtime.records_to_batch(features)
        return self.runtime.rows_to_batch(features)

    async def _predict(
        self, items: list[Input], batch: Any
    ) -> tuple[list[tuple[Input, Any]], list[tuple[Input, str]]]:
        """Predictions for ``items``; when the model raises on the batch, each input is
        scored alone and only those that fail alone are returned as failed."""
        self.stats.model_calls += 1
        try:
            result = await self._call(batch)
            return list(zip(items, result, strict=True)), []
        except ServingError as exc:
            if len(items) == 1:
                return [], [(items[0], f"model error: {exc}")]
        ok: list[tuple[Input, Any]] = []
        failed: list[tuple[Input, str]] = []
        for item in items:
            self.stats.model_calls += 1
            try:
                one = self._to_batch([item.features])
                (prediction,) = await self._call(one)
                ok.append((item, prediction))
            except ServingError as exc:
                failed.append((item, f"model error: {exc}"))
        return ok, failed


def consume(
    model: str,
    *,
    bus: str | None = None,
    input: str,
    output: str,
    group: str = "scorers",
    name: str | None = None,
    max_batch: int = 64,
    max_latency_ms: float = 10.0,
    dead_letter: str | None = None,
    id_field: str = "id",
    max_deliveries: int = 5,
    stack: Stack | str | None = None,
    trust_pickle: bool = False,
    predict_proba: bool = False,
    max_messages: int | None = None,
    idle_exit_s: float | None = None,
    on_start: Callable[[ConsumerConfig, ModelRuntime], None] | None = None,
    on_batch: Callable[[ConsumerStats], None] | None = None,
    bus_options: dict[str, Any] | None = None,
    drift_window: int | None = None,
    max_drift_js: float = 0.2,
    max_drift_psi: float = 0.25,
    metrics_port: int | None = None,
) -> ConsumerStats:
    """Score the events of topic ``input`` with ``model`` and publish the predictions to
    ``output`` until SIGTERM or SIGINT (blocking; the batch in flight is finished).

    Args:
        model: ``churn``, ``churn:3`` or ``churn@production`` (loaded through the
            shared runtime).
        bus: the bus URL (``redis://...``, ``nats://...``, ``amqp://...``, ``kafka://...``,
            ``memory://``); default: the stack's ``event_bus`` (its ``url``).
        input, output, group, name, max_batch, max_latency_ms, dead_letter, id_field,
            max_deliveries: see :class:`~dockyard.events.decisions.ConsumerConfig`.
        stack: the stack holding the registry and artifacts (default: the active one).
        trust_pickle, predict_proba: as for :func:`dockyard.runtime.load_runtime`.
        max_messages, idle_exit_s: also stop after that many messages, or that long
            without any (tests, draining a backlog).
        on_start, on_batch: progress callbacks.
        bus_options: keyword options for the bus adapter (``ack_wait``, ...).
        drift_window: compare every this many scored inputs with the version's training
            profile (:class:`~dockyard.runtime.drift.DriftMonitor`); a window over
            ``max_drift_js`` (predictions) or ``max_drift_psi`` (an input) records the
            event ``dockyard.model.drift_detected`` (a trigger can start retraining).
        metrics_port: serve Prometheus ``/metrics`` (counts, p99, drift) on
            127.0.0.1:PORT while consuming.

    Raises:
        ConsumerConfigError, TopicNameError: bad options (before anything is loaded).
        UnknownBusError, BusUnavailableError: the bus URL.
        ModelNotFoundError: no such model version.
    """
    from dockyard.events.bus import bus_class, stack_bus_url

    config = ConsumerConfig(
        input=input,
        output=output,
        group=group,
        name=name or "",
        max_batch=max_batch,
        max_latency_ms=max_latency_ms,
        dead_letter=dead_letter or "",
        id_field=id_field,
        max_deliveries=max_deliveries,
    )
    if drift_window is not None and drift_window < 1:
        raise ConsumerConfigError(
            f"--drift-window must be at least 1 scored input, got {drift_window}."
        )
    if bus is None:
        bus = stack_bus_url(stack)
    bus_class(bus)  # an unknown scheme is said before anything is loaded
    _check_group_model(stack, bus, config, model)
    return asyncio.run(
        _main(
            config,
            bus,
            dict(bus_options or {}),
            lambda: _load(model, stack, trust_pickle, predict_proba),
            max_messages,
            idle_exit_s,
            on_start,
            on_batch,
            (drift_window, max_drift_js, max_drift_psi),
            metrics_port,
        )
    )


def _load(
    model: str, stack: Stack | str | None, trust_pickle: bool, predict_proba: bool
) -> tuple[ModelRuntime, Stack]:
    """The model's runtime, and its stack (its ``.dockyard`` folder holds the status file,
    its database the outbox)."""
    from dockyard.runtime.spec import load_runtime
    from dockyard.stacks.stack import Stack, load_stack

    s = stack if isinstance(stack, Stack) else load_stack(stack)
    runtime = load_runtime(model, s, trust_pickle=trust_pickle, predict_proba=predict_proba)
    return runtime, s


async def _report(
    folder: Path,
    config: ConsumerConfig,
    consumer: StreamConsumer,
    url: str,
    done: asyncio.Event,
) -> None:
    """Write this consumer's status file every ``EVERY_S`` until ``done``, then once more
    as stopped. Failures to write or to ask the broker never stop the consumer."""
    import os
    import socket

    from dockyard._urls import mask_password
    from dockyard.events.status import EVERY_S, ConsumerStatus, write_status

    started = time.time()
    last_handled, last_t = 0, time.monotonic()
    for _ in range(10_000_000):  # bounded by ``done``
        finished = done.is_set()
        pending = -1
        with contextlib.suppress(Exception):
            pending = await asyncio.wait_for(
                consumer.bus.pending(config.input, config.group), timeout=EVERY_S
            )
        stats = consumer.stats
        now = time.monotonic()
        rate = (stats.handled - last_handled) / max(now - last_t, 1e-9)
        last_handled, last_t = stats.handled, now
        record = ConsumerStatus(
            group=config.group,
            name=config.name,
            model=consumer.runtime.label,
            bus=mask_password(url),
            input=config.input,
            output=config.output,
            dead_letter=config.dead_letter,
            pid=os.getpid(),
            host=socket.gethostname(),
            started_at=started,
            updated_at=time.time(),
            running=not finished,
            scored=stats.scored,
            dead_lettered=stats.dead_lettered,
            dead_letter_reasons=list(stats.recent_dead),
            events_per_s=round(rate, 1),
            p99_ms=stats.p99_ms(),
            pending=pending,
        )
        with contextlib.suppress(OSError):
            write_status(folder, record)
        if finished:
            return
        with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=EVERY_S)


def _check_group_model(
    stack: Stack | str | None, bus: str, config: ConsumerConfig, model: str
) -> None:
    """Refuse a group that already scores another model on this topic: its position in
    the stream and its pending messages belong to that model's consumers (a new version of
    the same model may take over; that is a rollout)."""
    from dockyard._urls import mask_password
    from dockyard.events.status import consumer_status, status_dir
    from dockyard.registry.refs import ModelRef
    from dockyard.stacks.stack import Stack, load_stack

    s = stack if isinstance(stack, Stack) else load_stack(stack)
    wanted = ModelRef.parse(model).name
    where = mask_password(bus)
    for other in consumer_status(s.config_dir):
        if (other.bus, other.input, other.group) != (where, config.input, config.group):
            continue
        if ModelRef.parse(other.model).name != wanted:
            path = status_dir(s.config_dir) / f"{other.group}.{other.name}.json"
            raise ConsumerConfigError(
                f"Consumer group {config.group!r} on {config.input!r} ({where}) scores model "
                f"{other.model} (consumer {other.name}, {other.state}); a group scores one "
                f"model. Use another --group for {model}, or delete {path} if that group is "
                "retired."
            )


def _drift_monitor(
    runtime: ModelRuntime, window: int | None, max_js: float, max_psi: float
) -> DriftMonitor | None:
    """A drift monitor over the version's training profile, when a window is asked for."""
    if window is None:
        return None
    from dockyard.runtime.drift import DriftMonitor

    profile = runtime.signature.profile if runtime.signature is not None else None
    if not profile:
        raise ConsumerConfigError(
            f"{runtime.label} has no training profile to measure drift against: register "
            "it with a sample (register_model(..., sample=train_df)) to use --drift-window."
        )
    return DriftMonitor(profile, window=window, max_js=max_js, max_psi=max_psi)


def _drift_recorder(
    stack: Stack, runtime: ModelRuntime, config: ConsumerConfig, bus: EventBus
) -> Callable[[DriftReport], Awaitable[None]]:
    """Record ``dockyard.model.drift_detected`` in the stack's outbox (a trigger reads it
    there) and, when this bus is the stack's, send it at once."""
    from dockyard.db.outbox import record_event
    from dockyard.events.publishing import OutboxRelay, shared_bus_url

    windows = [0]

    async def recorded(report: DriftReport) -> None:
        windows[0] += 1
        database = stack.database
        with database.transaction() as conn:
            record_event(
                database,
                conn,
                "dockyard.model.drift_detected",
                source=f"/models/{runtime.name}",
                subject=str(runtime.version),
                data={
                    "name": runtime.name,
                    "version": runtime.version,
                    "consumer": f"{config.group}/{config.name}",
                    "input": config.input,
                    **report.to_dict(),
                },
                key=(runtime.version, config.group, config.name, time.time(), windows[0]),
            )
        if shared_bus_url(stack) == bus.url:
            with contextlib.suppress(Exception):  # the relay or the next command sends it
                await OutboxRelay(database, bus).flush()

    return recorded


async def _main(
    config: ConsumerConfig,
    url: str,
    bus_options: dict[str, Any],
    load: Callable[[], tuple[ModelRuntime, Stack]],
    max_messages: int | None,
    idle_exit_s: float | None,
    on_start: Callable[[ConsumerConfig, ModelRuntime], None] | None,
    on_batch: Callable[[ConsumerStats], None] | None,
    drift: tuple[int | None, float, float] = (None, 0.2, 0.25),
    metrics_port: int | None = None,
) -> ConsumerStats:
    from dockyard.events.bus import open_bus

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        # The broker first: an unreachable one is said before a model is loaded. Loading
        # blocks the loop, which has nothing else to do yet.
        async with await open_bus(url, **bus_options) as bus:
            runtime, stack = load()
            monitor = _drift_monitor(runtime, *drift)
            if on_start is not None:
                on_start(config, runtime)
            consumer = StreamConsumer(
                config,
                runtime,
                bus,
                on_batch=on_batch,
                drift=monitor,
                on_drift=None if monitor is None else _drift_recorder(stack, runtime, config, bus),
            )
            from dockyard.events.status import status_dir

            metrics = None
            if metrics_port is not None:
                from dockyard.events.metrics import serve_metrics

                metrics = serve_metrics(consumer, metrics_port)
            done = asyncio.Event()
            reporter = asyncio.ensure_future(
                _report(status_dir(stack.config_dir), config, consumer, url, done)
            )
            try:
                return await consumer.run(stop, max_messages=max_messages, idle_exit_s=idle_exit_s)
            finally:
                done.set()
                if metrics is not None:
                    metrics.shutdown()
                    metrics.server_close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(reporter, timeout=10)
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
