"""Prometheus metrics of one server (``GET /metrics``), in a registry of its own.

Counted as things happen: finished jobs by kind, backend and outcome; job and stage
durations (histograms); bytes ingested by body format. Read at scrape time from the
supervisor: queue depth, active jobs, workers by state, GPU memory where a worker
reported it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..auth import LOCAL

if TYPE_CHECKING:
    from .models import Job
    from .supervisor import Supervisor

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
JOB_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800)


class _Live(Collector):
    """Gauges read off the supervisor when scraped."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def collect(self) -> Iterator[GaugeMetricFamily]:
        health = self.supervisor.health(LOCAL)  # the whole server: metrics name no job
        queue = GaugeMetricFamily("streaming_umap_queue_depth", "Jobs waiting in the queue")
        queue.add_metric([], health["queue_depth"])
        active = GaugeMetricFamily("streaming_umap_active_jobs", "Jobs not yet finished")
        active.add_metric([], health["active_jobs"])
        workers = GaugeMetricFamily("streaming_umap_workers", "Job workers by state",
                                    labels=["executor", "state"])
        for state in ("alive", "warming", "busy", "idle"):
            workers.add_metric([health["executor"], state], health["workers"][state])
        yield from (queue, active, workers)
        gpu: dict[str, Any] | None = health.get("gpu")
        if gpu:
            memory = GaugeMetricFamily("streaming_umap_gpu_memory_bytes",
                                       "GPU memory a worker reported", labels=["kind"])
            for key in ("total_memory", "free_memory", "rmm_pool_size", "rmm_pool_used"):
                if isinstance(gpu.get(key), (int, float)):
                    memory.add_metric([key.removesuffix("_memory")], gpu[key])
            yield memory


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Counter("streaming_umap_jobs", "Jobs finished, by outcome",
                            ["kind", "backend", "status"], registry=self.registry)
        self.job_seconds = Histogram("streaming_umap_job_duration_seconds",
                                     "Compute time of completed jobs", ["kind", "backend"],
                                     buckets=JOB_BUCKETS, registry=self.registry)
        self.stage_seconds = Histogram("streaming_umap_stage_duration_seconds",
                                       "Time per stage of completed jobs", ["kind", "stage", "backend"],
                                       buckets=STAGE_BUCKETS, registry=self.registry)
        self.ingested = Counter("streaming_umap_ingested_bytes", "Request body bytes of submissions",
                                ["format"], registry=self.registry)

    def watch(self, supervisor: Supervisor) -> None:
        self.registry.register(_Live(supervisor))

    def job_finished(self, job: Job, backend: str, stages: list[tuple[str, float]]) -> None:
        self.jobs.labels(job.kind, backend, job.status.value).inc()
        if job.status.value == "completed":
            self.job_seconds.labels(job.kind, backend).observe(job.processing_time())
            for stage, seconds in stages:
                self.stage_seconds.labels(job.kind, stage, backend).observe(max(0.0, seconds))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def __repr__(self) -> str:
        return f"Metrics(collectors={len(list(self.registry.collect()))})"
