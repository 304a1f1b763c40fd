"""Prometheus metrics. Each app has its own registry (tests build many apps); with several worker
processes, `PROMETHEUS_MULTIPROC_DIR` switches to prometheus-client's multiprocess mode."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess


class Metrics:
    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # In multiprocess mode the metric objects must live in the default registry's process
        # files; a fresh registry is only assembled at scrape time.
        self.registry = CollectorRegistry(auto_describe=True)
        register_in = None if self.multiprocess else self.registry
        self.requests = Counter(
            "rmtc_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=register_in,
        )
        self.latency = Histogram(
            "rmtc_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=register_in,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
