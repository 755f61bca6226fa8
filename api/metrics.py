"""Prometheus metrics: requests, query latencies by kind, what the library holds, and how queries are batched."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.batching import BatchStats

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LibraryCollector(Collector):
    """Read at scrape time, so the numbers follow an indexer or watcher writing the library."""

    def __init__(self, counts: Callable[[], dict[str, int] | None]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        counts = self.counts()
        ready = GaugeMetricFamily("xmodal_ready", "1 when the library is open and searchable.")
        ready.add_metric([], 0 if counts is None else 1)
        yield ready
        if counts is None:
            return
        items = GaugeMetricFamily("xmodal_library_items", "Items in the library.", labels=["kind"])
        for kind in ("media", "failed", "texts"):
            items.add_metric([kind], counts.get(kind, 0))
        yield items


class BatchingCollector(Collector):
    """Query-encode calls and the queries they encoded (texts, images): items / batches is the mean batch, so
    a load test can tell whether concurrent queries were encoded together. Nothing when batching is off."""

    def __init__(self, stats: Callable[[], dict[str, BatchStats] | None]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self.stats()
        if stats is None:
            return
        batches = CounterMetricFamily("xmodal_query_encode_batches", "Query-encode calls.", labels=["kind"])
        items = CounterMetricFamily("xmodal_query_encode_items", "Queries encoded by those calls.", labels=["kind"])
        for kind, counted in stats.items():
            batches.add_metric([kind], counted.batches)
            items.add_metric([kind], counted.items)
        yield batches
        yield items


class Metrics:
    """One registry per app, so several apps (tests, workers) never collide."""

    def __init__(
        self,
        counts: Callable[[], dict[str, int] | None],
        batching: Callable[[], dict[str, BatchStats] | None] = lambda: None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "xmodal_http_requests",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.queries = Counter("xmodal_queries", "Searches answered, by kind.", ["kind"], registry=self.registry)
        self.query_seconds = Histogram(
            "xmodal_query_seconds",
            "Time to answer a search, encode included.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(LibraryCollector(counts))
        self.registry.register(BatchingCollector(batching))

    def observe_query(self, kind: str, seconds: float) -> None:
        self.queries.labels(kind).inc()
        self.query_seconds.labels(kind).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestCounter:
    """Counts each HTTP answer by method, route template (not the raw path: ids would explode the labels) and
    status; a request that raised counts as 500."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")  # the router fills it in, in this same scope
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
