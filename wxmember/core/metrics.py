"""Prometheus metrics, one registry per application (no global state, so tests can build many)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    """The service's counters and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "wxmember_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "wxmember_http_request_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.wechat_calls = Counter(
            "wxmember_wechat_api_calls",
            "Calls to the WeChat API by endpoint and errcode (-2: network failure)",
            ["endpoint", "errcode"],
            registry=self.registry,
        )

        # the children of each label set, found once: `labels()` checks and locks on every call
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count a request and time it: one entry per label set, as the counter keeps a series."""
        children = self._request_children.get((method, route, status))
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(route),
            )
            self._request_children[(method, route, status)] = children
        counter, histogram = children
        counter.inc()
        histogram.observe(seconds)

    def count_wechat_call(self, endpoint: str, errcode: int) -> None:
        self.wechat_calls.labels(endpoint, str(errcode)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
