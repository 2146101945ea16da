"""Prometheus metrics of one service process, on a registry owned by the app (not global).

With several uvicorn workers each process exposes its own counters; scrape each worker or
put them behind a per-worker port (documented in the README).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

M = TypeVar("M", Counter, Histogram)

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)


@dataclass
class Metrics:
    """Every metric the service exports."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    _children: dict[tuple[int, tuple[str, ...]], Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "recsvc_requests_total", "HTTP requests", ["endpoint", "status"], registry=r
        )
        self.latency = Histogram(
            "recsvc_request_seconds",
            "Request latency",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.slots = Counter(
            "recsvc_slots_total",
            "Recommended slots by strategy",
            ["endpoint", "strategy"],
            registry=r,
        )
        self.fallbacks = Counter(
            "recsvc_fallbacks_total", "Requests answered by a fallback only", ["reason"], registry=r
        )
        self.reloads = Counter(
            "recsvc_reloads_total", "Bundle reload attempts", ["outcome"], registry=r
        )
        self.bundle_info = Gauge(
            "recsvc_bundle_info", "Loaded bundle (value 1)", ["version"], registry=r
        )
        self.bundle_created = Gauge(
            "recsvc_bundle_created_timestamp_seconds", "created_at of the loaded bundle", registry=r
        )
        self.answer_cache = Counter(
            "recsvc_answer_cache_total",
            "Answer cache lookups by outcome (hit, miss, off)",
            ["endpoint", "outcome"],
            registry=r,
        )
        self.events = Counter(
            "recsvc_events_total", "Storefront events", ["type", "outcome"], registry=r
        )
        self.gc_pauses = Histogram(
            "recsvc_gc_pause_seconds",
            "Pauses of the cyclic garbage collector (every thread waits)",
            ["generation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def child(self, metric: M, *labels: str) -> M:
        """`metric.labels(*labels)`, remembered: the request path asks for the same few
        children all the time, and `labels()` takes a lock and builds a tuple each call.
        Only for counters and histograms, whose children are never removed."""
        key = (id(metric), labels)
        found: M | None = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def render(self) -> bytes:
        return generate_latest(self.registry)
