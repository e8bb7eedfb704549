"""The model service's Prometheus metrics, kept in plain counters and exposed on scrape.

prometheus_client's ``Counter`` and ``Histogram`` take a lock and walk the buckets on
every call: ~9 us of every request here (``benchmarks/README.md``, Serving). Every
observation of this service happens on its one event loop thread, so plain integers are
enough; a collector turns them into metric families when ``/metrics`` is scraped (on the
same loop). The exposed names and labels are the usual ones::

    dockyard_requests_total{model, version, route, code}
    dockyard_request_errors_total{model, version, route, kind}
    dockyard_request_duration_seconds{model, version, route}   (histogram)
    dockyard_batch_size{model, version}                        (histogram, rows per call)
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

__all__ = ["ServiceMetrics"]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class _Histogram:
    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def family_buckets(self) -> list[tuple[str, int]]:
        out, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else _le(bound), running))
        return out


def _le(bound: float) -> str:
    return repr(float(bound))


class ServiceMetrics:
    """Requests, errors, latency and batch sizes per model version (one event loop only).

    ``registry`` is this service's own registry (never the global one: tests and several
    apps coexist in one process).
    """

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str, str], int] = defaultdict(int)
        self.errors: dict[tuple[str, str, str, str], int] = defaultdict(int)
        self.latency: dict[tuple[str, str, str], _Histogram] = {}
        self.batches: dict[tuple[str, str], _Histogram] = {}
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def observe(
        self, model: str, version: str, route: str, code: int, seconds: float, kind: str
    ) -> None:
        """One answered request."""
        self.requests[model, version, route, str(code)] += 1
        key = (model, version, route)
        histogram = self.latency.get(key)
        if histogram is None:
            histogram = self.latency[key] = _Histogram(LATENCY_BUCKETS)
        histogram.observe(seconds)
        if code >= 400:
            self.errors[model, version, route, kind] += 1

    def batch_observer(self, model: str, version: str) -> Any:
        """A callback recording the rows of each model call of one version."""
        histogram = self.batches.setdefault((model, version), _Histogram(BATCH_BUCKETS))
        return histogram.observe

    def collect(self) -> Iterator[Any]:
        """The metric families (called by the registry on scrape)."""
        requests = CounterMetricFamily(
            "dockyard_requests",
            "Requests answered, by model version, route and status code.",
            labels=["model", "version", "route", "code"],
        )
        for request_key, count in list(self.requests.items()):
            requests.add_metric(list(request_key), count)
        yield requests
        errors = CounterMetricFamily(
            "dockyard_request_errors",
            "Requests that failed, by kind: client, auth, not_found, too_large, model.",
            labels=["model", "version", "route", "kind"],
        )
        for error_key, count in list(self.errors.items()):
            errors.add_metric(list(error_key), count)
        yield errors
        latency = HistogramMetricFamily(
            "dockyard_request_duration_seconds",
            "Time from the request's arrival to its answer.",
            labels=["model", "version", "route"],
        )
        for route_key, histogram in list(self.latency.items()):
            latency.add_metric(list(route_key), histogram.family_buckets(), histogram.total)
        yield latency
        batches = HistogramMetricFamily(
            "dockyard_batch_size",
            "Rows per model call (after micro-batching).",
            labels=["model", "version"],
        )
        for version_key, rows in list(self.batches.items()):
            batches.add_metric(list(version_key), rows.family_buckets(), rows.total)
        yield batches
