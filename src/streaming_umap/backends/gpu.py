"""GPU backend: RAPIDS cuML + CuPy + RMM, in worker processes only.

Importing this module imports none of cuML, CuPy or RMM; :func:`gpu_available` and
:class:`GPUBackend` do, in the worker that uses them.

UMAP, by size (``pipeline/gpu_memory.py`` holds the thresholds and the memory model):

* up to EXACT_KNN_MAX_ROWS = 150,000 rows, euclidean or cosine: cuML's own brute-force
  kNN inside ``fit`` (``build_algo="brute_force_knn"``), one step. On an H200 it does the
  whole 100k x 512 UMAP in 0.6 s, where querying ``NearestNeighbors`` in batches took
  0.9 s for the kNN alone (``benchmarks/results/gpu-2026-11-26-h200-session2``).
* up to that size for cosine rows that include all-zero rows, and at any size for
  metrics cuML's NN-descent lacks (manhattan, chebyshev, correlation): our exact kNN in
  query batches (``_gpu_knn.py``), one checkpoint per batch, passed to
  ``cuml.UMAP(precomputed_knn=...)``.
* above that (euclidean, cosine): cuML's own NN-descent (``build_algo="nn_descent"``,
  host input); the ``knn`` stage is one step, as the CPU backend's NN-descent is.
* when NN-descent's build does not fit the memory a job may use (the RMM pool, or
  90 % of the free device memory), cuML's batched build
  (``build_kwds={"knn_n_clusters": c, "knn_overlap_factor": 2}``, c = 4, 8, 16, ...
  the smallest that fits, :func:`~streaming_umap.pipeline.gpu_memory.nnd_clusters`).
  By the memory model that starts at about 41M x 512 rows on an 80 GB H100 (72M on a
  141 GB H200), only a little below the size whose layout graph no longer fits at all
  (43M / 75M: refused with a 413).

Progress, pause and cancel: the batches of our own kNN are checkpoints (cancel stops
at the next one); cuML's one-step kNN ends at its first callback, where a pause or
cancel asked for during it takes effect. The ``layout`` reports epochs from cuML's callback
(``_gpu_umap.EpochReporter``): pause blocks in the callback; cancel cannot stop cuML
mid-layout (raising there kills the process), so the layout runs to its end without
checkpoints and the result is discarded; the supervisor kills the worker if that
takes longer than STREAMING_UMAP_CANCEL_GRACE. Which of the two frees the GPU sooner
is measured by ``benchmarks/bench_gpu.py`` (``cancel`` in its results).

Errors: device out-of-memory -> DeviceOutOfMemory (the job fails, device memory is
released, the worker takes the next job); any other CUDA error -> DeviceFault (the
worker is retired and replaced). See ``_gpu_errors.py``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

from ..errors import DeviceFault, DeviceOutOfMemory, JobCancelled, RequestError, StreamingUMAPError
from ..pipeline.checkpoint import Checkpoint, NullCheckpoint
from ..pipeline.gpu_memory import estimate_job_bytes
from ..schemas import ClusterParams, UMAPParams, params_to_dict
from ._gpu_errors import classify, summary
from .base import ClusterOutput, RunOptions, UMAPOutput

log = logging.getLogger(__name__)

GiB = 1 << 30
T = TypeVar("T")


def gpu_available() -> bool:
    """Whether cuML imports and CUDA sees at least one device (``CUDA_VISIBLE_DEVICES``
    is applied by CUDA itself). False, quickly, on a CPU-only install."""
    if any(importlib.util.find_spec(name) is None for name in ("cupy", "rmm", "cuml")):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import cupy

            if int(cupy.cuda.runtime.getDeviceCount()) < 1:
                return False
            import cuml  # noqa: F401
    except Exception as exc:  # no driver, no device, or a broken install
        log.info("no usable GPU: %s: %s", type(exc).__name__, exc)
        return False
    return True


class GPUBackend:
    name = "gpu"

    def __init__(self, pool_bytes: int | None = None) -> None:
        from ._gpu_runtime import DeviceRuntime, quiet_import_cuml

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.runtime = DeviceRuntime.start(pool_bytes)
        quiet_import_cuml()
        self.jobs = 0
        self.failures = 0

    def describe(self) -> dict[str, Any]:
        info = self.runtime.info()
        return {"device": info["name"], "gpu": info}

    def warm_up(self, light: bool = False,
                progress: Callable[[str], None] | None = None) -> dict[str, float]:
        """Load cuML's kernels (both kNN paths unless ``light``, and the clusterers),
        then time a 20k-row layout for the ETA model. ``progress`` hears each step."""
        from ..datasets import labelled_mixture
        from ..pipeline.eta import timed_stages

        say = progress or (lambda step: None)
        say("cuML kernels: UMAP and the clusterers")
        small, _ = labelled_mixture(1200, 32, clusters=6, seed=0)
        options = RunOptions(chunk_size=500)
        for metric in ("euclidean", "cosine"):
            self.umap(small, UMAPParams(metric=metric, n_epochs=50), NullCheckpoint(), options)
        for algorithm in ("kmeans", "dbscan", "hdbscan"):
            self.cluster(small, ClusterParams(algorithm=algorithm, n_clusters=6, eps=5.0),
                         NullCheckpoint(), options)
        if not light:
            say("cuML NN-descent")
            self._warm_nn_descent(small)
        say("timing a 20k-row layout for the ETA model")
        data, _ = labelled_mixture(20_000, 64, clusters=10, seed=1)
        params = UMAPParams(n_neighbors=15, metric="euclidean", n_epochs=200)
        timing = RunOptions(chunk_size=2000)
        return timed_stages(lambda cp: self.umap(data, params, cast(Checkpoint, cp), timing),
                            data, params, timing)

    def _warm_nn_descent(self, data: np.ndarray) -> None:
        from cuml.manifold import UMAP

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            UMAP(n_neighbors=15, n_epochs=20, build_algo="nn_descent").fit_transform(data)

    def umap(self, data: np.ndarray, params: UMAPParams, cp: Checkpoint, options: RunOptions) -> UMAPOutput:
        from ..pipeline.sample_fit import fit_sample_then_place, wants_sample

        if options.init is not None:  # a refit from a kept model: umap-learn takes a starting layout
            from ..pipeline.umap_cpu import run_umap

            out = run_umap(data, params, cp, options)
            out.warnings.append("a refit (init_from) runs umap-learn on this GPU worker's CPU cores")
            return out
        if wants_sample(data.shape[0], options):  # cuML fits the sample; the CPU places the rest
            return fit_sample_then_place(data, params, cp, options, self._umap_full)
        return self._umap_full(data, params, cp, options)

    def _umap_full(self, data: np.ndarray, params: UMAPParams, cp: Checkpoint,
                   options: RunOptions) -> UMAPOutput:
        from ._gpu_umap import run_umap_gpu

        budget = self.runtime.job_budget()
        return self._run("umap", data, params_to_dict(params),
                         lambda: run_umap_gpu(data, params, cp, options, budget_bytes=budget))

    def transform(self, model: Any, data: np.ndarray, cp: Checkpoint, options: RunOptions,
                  stage: str = "transform") -> UMAPOutput:
        """Placement runs on this worker's CPU cores, from the same stored arrays as on a
        CPU server (a GPU neighbour index for it is not built yet)."""
        from ..backends.cpu import CPUBackend

        return CPUBackend().transform(model, data, cp, options, stage=stage)

    def cluster(self, data: np.ndarray, params: ClusterParams, cp: Checkpoint, options: RunOptions) -> ClusterOutput:
        from ._gpu_cluster import run_cluster_gpu
        from .cluster_notes import cluster_warnings

        out = self._run("cluster", data, params_to_dict(params),
                        lambda: run_cluster_gpu(data, params, cp, options))
        out.warnings.extend(cluster_warnings(params, out))
        return out

    def memory_estimate(self, rows: int, dims: int, kind: str, params: dict[str, Any]) -> int | None:
        return estimate_job_bytes(kind, rows, dims, params, budget_bytes=self.runtime.job_budget())

    def _run(self, kind: str, data: np.ndarray, params: dict[str, Any], compute: Callable[[], T]) -> T:
        """Run ``compute`` with the job's memory statistics, turning CUDA errors into
        DeviceOutOfMemory / DeviceFault *after* the failed frames (and the device
        arrays they hold) are gone, so that the memory is free for the next job."""
        rows, dims = data.shape
        self.runtime.begin_job()
        started = time.perf_counter()
        outcome = "failed"
        failure: StreamingUMAPError | None = None
        try:
            with warnings.catch_warnings():  # cuML/numba chatter; pytest makes warnings errors
                warnings.simplefilter("ignore")
                result = compute()
            outcome = "done"
            return result
        except JobCancelled:
            outcome = "cancelled"
            raise
        except RequestError:
            raise
        except BaseException as exc:
            kind_of_error = classify(exc)
            if kind_of_error is None:
                raise
            message = summary(exc)
            failure = DeviceOutOfMemory(message) if kind_of_error == "oom" else DeviceFault(message)
        finally:
            peak = self.runtime.end_job()
            self.jobs += 1
            log.info("%s %d x %d %s in %.2f s; peak %.2f GiB of GPU memory (model %.2f GiB)",
                     kind, rows, dims, outcome, time.perf_counter() - started, peak / GiB,
                     estimate_job_bytes(kind, rows, dims, params) / GiB)
        # Outside the except clause: the original exception, its traceback and the
        # frames holding device arrays are unreachable now.
        assert failure is not None
        self.failures += 1
        self.runtime.release()
        if isinstance(failure, DeviceOutOfMemory):
            free, total = self.runtime.memory()
            failure = DeviceOutOfMemory(
                f"{failure} (job of {rows} x {dims}; {free / GiB:.2f} of {total / GiB:.2f} GiB "
                f"free after releasing it)")
        raise failure

    def __repr__(self) -> str:
        return f"GPUBackend(pid={os.getpid()}, {self.runtime!r}, jobs={self.jobs}, failures={self.failures})"
