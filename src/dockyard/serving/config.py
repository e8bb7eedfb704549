"""How the model service runs: :class:`ServeConfig` (light: no web framework imported,
so a process that only hands the config to workers stays small)."""

from __future__ import annotations

import dataclasses

from dockyard.errors import ServingError

__all__ = ["ServeConfig"]


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    """How the service runs.

    Attributes:
        max_batch_size: most rows merged into one model call.
        max_latency_ms: longest a request may wait for others to join its model call;
            0 (the default) never waits, merging only what queued while the model was busy.
        batching: False calls the model once per request.
        inline_below_ms: a model whose call on ``max_batch_size`` rows is measured (at
            start-up) under this runs on the event loop instead of a model thread: the
            hop would cost more than it buys (see :mod:`dockyard.runtime.batching`).
            0 always uses the thread.
        max_body_bytes: larger request bodies get 413.
        offload_body_bytes: larger bodies are decoded and validated in a child process,
            off the event loop (:mod:`dockyard.serving.decoder`), except binary tensors
            of numbers (views of the body, checked by numpy); smaller ones inline, where
            the work (~4 us per KiB here) costs less than the hop (~0.3 ms). 0 never.
        failure_tracebacks_per_minute: tracebacks logged per model version per minute
            for failed model calls; the failures past it are counted in one line
            (:mod:`dockyard.serving.failures`). 0 logs only the counts.
        token: when set, inference and model routes need ``Authorization: Bearer <token>``
            (health, server metadata, metrics and docs stay open).
        predict_proba: every runtime answers class probabilities instead of labels.
        model_threads: threads running model calls (the event loop never does).
        drain_seconds: on shutdown, how long readiness reports false before the server
            stops accepting connections (give the load balancer time to notice).
        graceful_timeout: most seconds to wait for in-flight requests on shutdown.
    """

    max_batch_size: int = 32
    max_latency_ms: float = 0.0
    batching: bool = True
    inline_below_ms: float = 1.0
    max_body_bytes: int = 8 * 1024 * 1024
    offload_body_bytes: int = 256 * 1024
    failure_tracebacks_per_minute: int = 5
    token: str | None = None
    predict_proba: bool = False
    model_threads: int = 1
    drain_seconds: float = 0.0
    graceful_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ServingError(f"max_batch_size must be at least 1, got {self.max_batch_size}")
        if self.max_latency_ms < 0:
            raise ServingError(f"max_latency_ms must be >= 0, got {self.max_latency_ms}")
        if self.max_body_bytes < 1:
            raise ServingError(f"max_body_bytes must be positive, got {self.max_body_bytes}")
        if self.model_threads < 1:
            raise ServingError(f"model_threads must be at least 1, got {self.model_threads}")
        if self.offload_body_bytes < 0:
            raise ServingError(
                f"offload_body_bytes must be >= 0 (0 never offloads), got {self.offload_body_bytes}"
            )
        if self.failure_tracebacks_per_minute < 0:
            raise ServingError(
                "failure_tracebacks_per_minute must be >= 0, got "
                f"{self.failure_tracebacks_per_minute}"
            )
        if self.inline_below_ms < 0:
            raise ServingError(f"inline_below_ms must be >= 0, got {self.inline_below_ms}")
