"""The narrow interface every compute backend implements.

A backend works on numpy arrays and plain parameter objects. It never imports web
code, and the server process never imports a backend: backends live in workers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..pipeline.checkpoint import Checkpoint
from ..pipeline.eta import default_epochs as default_epochs  # re-exported for backends
from ..schemas import ClusterParams, UMAPParams


@dataclass
class UMAPOutput:
    embedding: np.ndarray  # float32, rows x n_components
    warnings: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class PlacedOutput(UMAPOutput):
    """Rows placed into a kept model; labelled when the model has a clustering attached."""

    labels: np.ndarray | None = None  # int32, rows; -1 = noise
    n_clusters: int | None = None


@dataclass
class ClusterOutput:
    labels: np.ndarray  # int32, rows; -1 = noise
    n_clusters: int
    noise_points: int | None
    centers: np.ndarray | None = None  # float32, n_clusters x dims (kmeans)
    warnings: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RunOptions:
    """Per-job knobs that are not UMAP/clustering parameters."""

    chunk_size: int = 1000
    exact_knn_max_rows: int = 4096
    fit_sample_rows: int = 0  # above this many rows, fit on a sample of it and place the rest
    # places rows into a fitted layout (pipeline.sample_fit.Placer); None: chunk after chunk
    # here. The Dask executor's spreads the chunks over the cluster.
    placer: Any = None
    model_dir: str | None = None  # the kept model a transform or a refit uses
    init: Any = None  # float32 rows x n_components: the starting layout (a refit), else spectral


class Backend(Protocol):
    name: str  # "cpu" or "gpu"

    def describe(self) -> dict[str, Any]:
        """Device name and, for GPUs, memory figures (shown by /health)."""

    def warm_up(self, light: bool = False,
                progress: Callable[[str], None] | None = None) -> dict[str, float]:
        """Import and compile everything a first job needs (``light``: only what
        immediate requests need); return seconds per cost unit of the stages of a
        small timed run, from which the ETA model takes this machine's speed.
        ``progress`` is told each step (a few words) as it begins."""

    def umap(
        self, data: np.ndarray, params: UMAPParams, cp: Checkpoint, options: RunOptions
    ) -> UMAPOutput: ...

    def cluster(
        self, data: np.ndarray, params: ClusterParams, cp: Checkpoint, options: RunOptions
    ) -> ClusterOutput: ...

    def transform(
        self, model: Any, data: np.ndarray, cp: Checkpoint, options: RunOptions, stage: str = "transform"
    ) -> UMAPOutput:
        """Place ``data`` into a kept model's layout (a
        :class:`~streaming_umap.pipeline.transform_cpu.LayoutModel`), one checkpoint per
        chunk of ``options.chunk_size`` rows in stage ``stage``."""

    def memory_estimate(self, rows: int, dims: int, kind: str, params: dict[str, Any]) -> int | None:
        """Bytes of device memory a job would need, or None where that does not apply."""
