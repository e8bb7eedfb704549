"""Prometheus metrics of a stream consumer (``dockyard consume --metrics-port PORT``).

The consumer's own counters (:class:`~dockyard.events.consumer.ConsumerStats`) are turned
into metric families when scraped, as the serving metrics are: nothing is done per event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dockyard.errors import ConsumerConfigError

if TYPE_CHECKING:
    from dockyard.events.consumer import StreamConsumer

__all__ = ["serve_metrics"]


class _ConsumerCollector:
    def __init__(self, consumer: StreamConsumer) -> None:
        self.consumer = consumer

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        c, stats = self.consumer.config, self.consumer.stats
        labels = ["group", "consumer", "model"]
        values = [c.group, c.name, self.consumer.runtime.label]
        for name, help_text, value in (
            ("dockyard_consumer_events_scored", "Events scored and published.", stats.scored),
            (
                "dockyard_consumer_events_dead_lettered",
                "Events sent to the dead-letter topic.",
                stats.dead_lettered,
            ),
            ("dockyard_consumer_batches", "Batches handled.", stats.batches),
            ("dockyard_consumer_model_calls", "Model calls made.", stats.model_calls),
        ):
            family = CounterMetricFamily(name, help_text, labels=labels)
            family.add_metric(values, value)
            yield family
        p99 = stats.p99_ms()
        gauge = GaugeMetricFamily(
            "dockyard_consumer_latency_p99_seconds",
            "p99 of receive-to-ack latency over the last 10,000 events.",
            labels=labels,
        )
        gauge.add_metric(values, (p99 or 0.0) / 1000)
        yield gauge
        drift = self.consumer.drift_reports[-1] if self.consumer.drift_reports else None
        if drift is not None and drift.prediction_js is not None:
            js = GaugeMetricFamily(
                "dockyard_consumer_prediction_drift_js",
                "JS distance of the last window's predictions from the training profile.",
                labels=labels,
            )
            js.add_metric(values, drift.prediction_js)
            yield js


def serve_metrics(consumer: StreamConsumer, port: int, host: str = "127.0.0.1") -> Any:
    """Serve ``/metrics`` for ``consumer`` on ``host:port`` from a daemon thread; the
    server (``.shutdown()`` stops it).

    Raises:
        ConsumerConfigError: prometheus-client is not installed, or the port is taken.
    """
    try:
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError as exc:  # pragma: no cover - the serving extra is missing
        raise ConsumerConfigError(
            "--metrics-port needs prometheus-client: pip install 'dockyard[serving]'."
        ) from exc
    registry = CollectorRegistry()
    registry.register(_ConsumerCollector(consumer))
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ConsumerConfigError(
            f"--metrics-port {port}: cannot listen on {host}:{port} ({exc.strerror or exc}); "
            "pick a free port."
        ) from None
    return server
