"""The statistics of a `ClusterWatch` in Prometheus' text format (``/metrics``).

Needs the optional ``prometheus_client`` package (``pip install
'greenpylm[metrics]'``); its names and units are listed in
docs/statistics.md.
"""
from __future__ import annotations

from typing import Any, Iterator

#: counters of every server: metric name, statistics field, help
COUNTERS = [
    ("greenpylm_messages_in", "messages_in", "Messages a server took in (calls and requests)."),
    ("greenpylm_messages_out", "messages_out", "Messages a server sent on (results, replies)."),
    ("greenpylm_errors", "errors", "Messages a server answered with an error."),
]
#: gauges of some servers: metric name, statistics field, help
GAUGES = [
    ("greenpylm_in_flight", "in_flight", "Messages a master's workers hold."),
    ("greenpylm_waiting", "waiting", "Messages waiting at a master for a worker with room."),
    ("greenpylm_clients", "clients", "Clients connected to a server's client link."),
    ("greenpylm_uptime_seconds", "uptime_s", "Seconds since the server started."),
]
#: histograms: metric name, statistics field, help
HISTOGRAMS = [
    ("greenpylm_step_seconds", "step", "How long a server's steps (user code) take."),
    ("greenpylm_worker_round_trip_seconds", "worker_round_trip",
     "From a master handing a message out to the worker's answer (one in 64 sampled)."),
]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsUnavailable(RuntimeError):
    """prometheus_client is not installed."""


def families(snapshot: dict) -> Iterator[Any]:
    """The metric families of `snapshot` (`ClusterWatch.snapshot`)."""
    from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                        HistogramMetricFamily)
    servers = snapshot["servers"]
    up = GaugeMetricFamily("greenpylm_up", "1 if the server answered its last reading.",
                           labels=["server"])
    for figures in servers:
        up.add_metric([figures["name"]], 1.0 if figures["up"] else 0.0)
    yield up
    live = [f for f in servers if f["up"]]
    for name, field, text in COUNTERS:
        family = CounterMetricFamily(name, text, labels=["server"])
        for figures in live:
            family.add_metric([figures["name"]], figures.get(field, 0))
        yield family
    for name, field, text in GAUGES:
        family = GaugeMetricFamily(name, text, labels=["server"])
        for figures in live:
            if field in figures:
                family.add_metric([figures["name"]], figures[field])
        yield family
    done = CounterMetricFamily("greenpylm_worker_done", "Messages a worker answered.",
                               labels=["server", "worker"])
    holding = GaugeMetricFamily("greenpylm_worker_holding", "Messages a worker holds.",
                                labels=["server", "worker"])
    capacity = GaugeMetricFamily("greenpylm_worker_capacity", "Messages a worker may hold.",
                                 labels=["server", "worker"])
    for figures in live:
        for worker in figures.get("workers", ()):
            labels = [figures["name"], worker["name"]]
            done.add_metric(labels, worker["done"])
            holding.add_metric(labels, worker["holding"])
            capacity.add_metric(labels, worker["capacity"])
    yield from (done, holding, capacity)
    for name, field, text in HISTOGRAMS:
        family = HistogramMetricFamily(name, text, labels=["server"])
        for figures in live:
            buckets = figures.get("histograms", {}).get(f"{field}_seconds")
            summary = figures.get(field)
            if buckets is None or summary is None:
                continue
            points = [(repr(bound), count) for bound, count in buckets]
            points.append(("+Inf", summary["count"]))
            total = summary.get("mean_ms", 0.0) * summary["count"] / 1e3
            family.add_metric([figures["name"]], points, sum_value=total)
        yield family


def exposition(snapshot: dict) -> bytes:
    """`snapshot` in Prometheus' text format."""
    try:
        from prometheus_client import CollectorRegistry, generate_latest
    except ImportError:
        raise MetricsUnavailable("/metrics needs prometheus_client: "
                                 "pip install 'greenpylm[metrics]'") from None

    class Snapshot:
        def collect(self) -> Iterator[Any]:
            return families(snapshot)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Snapshot())
    return generate_latest(registry)
