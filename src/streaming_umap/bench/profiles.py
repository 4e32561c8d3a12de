"""Benchmark profiles: which figures run, on how much data, within what time budget.

* ``smoke``: tiny sizes, for the suite's own tests (checks the plumbing, not speed).
* ``quick``: the CPU profile; finishes within 10 minutes on 2 cores. The larger
  scaling sizes and concurrency levels are run only while the budget allows, and the
  results say which were skipped and why.
* ``full``: every size up to 1M rows; meant for GPU machines.
* ``service``: issue 2's side-by-side benchmark (``benchmarks/bench_service.py``):
  service vs warm library at 10k and 100k, first frame, frames, ``/health`` under
  3 running jobs, peak RSS, JSON vs ``.npy`` upload.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

FIGURES = ("service", "scaling", "chunks", "ingest", "concurrency", "quality", "progress")


@dataclass(frozen=True)
class Profile:
    name: str
    figures: tuple[str, ...]
    budget_s: float
    dims: int
    metric: str
    service_rows: tuple[int, ...]
    scaling_rows: tuple[int, ...]
    chunk_rows: int
    chunk_sizes: tuple[int, ...]
    ingest_rows: tuple[int, ...]
    concurrency_rows: int
    concurrency_levels: tuple[int, ...]
    quality_rows: int  # rows of the labelled mixture ("blobs"); digits are always 1,797
    quality_dims: int
    workers: int  # the server's job workers (GPU_UMAP_MAX_CONCURRENT_JOBS)
    random_state: int = 42
    n_neighbors: int = 15
    min_dist: float = 0.1
    n_epochs: int | None = None  # None: the libraries' default (500 up to 10k rows, else 200)

    def umap_params(self, metric: str | None = None) -> dict[str, object]:
        """The same parameters for the service and the bare library."""
        params: dict[str, object] = {
            "n_neighbors": self.n_neighbors, "min_dist": self.min_dist,
            "metric": metric or self.metric, "random_state": self.random_state,
            "n_components": 2}
        if self.n_epochs is not None:
            params["n_epochs"] = self.n_epochs
        return params

    def with_figures(self, figures: tuple[str, ...]) -> Profile:
        return replace(self, figures=figures)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", figures=FIGURES, budget_s=600.0, dims=16, metric="cosine",
        service_rows=(1200,), scaling_rows=(1100, 1200), chunk_rows=1200,
        chunk_sizes=(300,), ingest_rows=(1200,), concurrency_rows=1100,
        concurrency_levels=(1, 2), quality_rows=1200, quality_dims=16, workers=2,
        n_epochs=50,
    ),
    "quick": Profile(
        name="quick", figures=FIGURES, budget_s=540.0, dims=512, metric="cosine",
        service_rows=(10_000, 100_000),
        scaling_rows=(1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000),
        chunk_rows=4_000, chunk_sizes=(250, 500, 1000, 2000, 4000),
        ingest_rows=(10_000, 100_000), concurrency_rows=10_000,
        concurrency_levels=(1, 2, 4, 8), quality_rows=5_000, quality_dims=512, workers=3,
    ),
    "full": Profile(
        name="full", figures=FIGURES, budget_s=6 * 3600.0, dims=512, metric="cosine",
        service_rows=(10_000, 100_000),
        scaling_rows=(1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000),
        chunk_rows=100_000, chunk_sizes=(1_000, 5_000, 10_000, 25_000, 50_000, 100_000),
        ingest_rows=(10_000, 100_000), concurrency_rows=10_000,
        concurrency_levels=(1, 2, 4, 8), quality_rows=20_000, quality_dims=512, workers=3,
    ),
    "service": Profile(
        name="service", figures=("service", "ingest", "concurrency", "progress"),
        budget_s=1200.0, dims=512, metric="cosine", service_rows=(10_000, 100_000),
        scaling_rows=(), chunk_rows=0, chunk_sizes=(), ingest_rows=(10_000, 100_000),
        concurrency_rows=10_000, concurrency_levels=(3,), quality_rows=0, quality_dims=0,
        workers=3,
    ),
}
