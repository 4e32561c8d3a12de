"""UMAP on the GPU: the kNN, then cuML's graph and layout.

The kNN, by size and metric:

* up to EXACT_KNN_MAX_ROWS rows, euclidean or cosine: cuML's own brute force inside
  ``fit`` (``build_algo="brute_force_knn"``). It is one step with no checkpoint of its
  own (0.3 s at 100k x 512 on an H200), and it is twice as fast as querying
  ``NearestNeighbors`` in batches (the whole job at 100k x 512: 0.6 s against 1.3 s), so
  the kNN and graph stages are reported together when it ends;
* other metrics (and cosine with all-zero rows, where cuML's cosine gives NaN): our
  exact kNN in query batches (:mod:`._gpu_knn`), each batch a checkpoint, handed to
  cuML as ``precomputed_knn``;
* above EXACT_KNN_MAX_ROWS, euclidean or cosine: cuML's NN-descent, one step.

Stages match the CPU backend: ``knn`` (``chunk_size`` query rows per step),
``graph`` (1 step), ``layout`` (one step per epoch).

Epoch checkpoints come from cuML's ``GraphBasedDimRedCallback``. Two facts shape
:class:`EpochReporter`:

* cuML calls the callback from C++ and does not check for a Python error: an
  exception raised there kills the process (SIGSEGV, measured). So every callback
  body catches everything; a cancel (``JobCancelled`` from ``cp.advance``) or any
  other error is remembered, the rest of the layout runs without checkpoints, and
  the error is raised once ``fit`` has returned ("finish and discard"). Pause blocks
  inside the callback, which holds the GPU idle.
* cuML enqueues the epochs' kernels asynchronously; the callback fires when an epoch
  is *enqueued*. To report epochs that are done (and to pause a GPU that is actually
  idle), the reporter synchronises the device, but only every few epochs: the stride
  adapts so that a synchronisation happens about every SYNC_SECONDS of GPU time
  (every epoch on a 1M-row layout, every ~25 epochs at 10k rows), and always at an
  epoch whose live layout a subscriber wants.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import JobCancelled, JobError, StreamingUMAPError
from ..pipeline.checkpoint import Checkpoint, NullCheckpoint
from ..pipeline.eta import default_epochs
from ..pipeline.gpu_memory import EXACT_KNN_MAX_ROWS, clamp_neighbors, nnd_clusters, uses_exact_knn
from ..pipeline.knn import chunk_count
from ..pipeline.umap_cpu import adjusted_neighbors, tiny_layout
from ..schemas import UMAPParams
from ._gpu_errors import classify
from .base import RunOptions, UMAPOutput

log = logging.getLogger(__name__)

SYNC_SECONDS = 0.02
MAX_STRIDE = 25


def _synchronize() -> None:
    import cupy

    cupy.cuda.runtime.deviceSynchronize()


class EpochReporter:
    """Turns cuML's callback calls into checkpoints; never lets an exception escape."""

    def __init__(
        self,
        cp: Checkpoint,
        rows: int,
        n_epochs: int,
        knn_total: int | None,
        synchronize: Callable[[], None] = _synchronize,
    ) -> None:
        self.cp = cp
        self.synchronize = synchronize
        self.rows = rows
        self.n_epochs = n_epochs
        self.knn_total = knn_total  # set when cuML computes the kNN itself (NN-descent)
        self.epoch = 0
        self.error: BaseException | None = None
        self.cancelled = False
        self.next_sync = 1
        self.synced_at = time.perf_counter()
        self.synced_epoch = 0

    @property
    def stopped(self) -> bool:
        return self.cancelled or self.error is not None

    def _guard(self, step: Any, *args: Any) -> None:
        if self.stopped:
            return
        try:
            step(*args)
        except JobCancelled:
            self.cancelled = True
        except BaseException as exc:  # noqa: BLE001 - must not reach cuML's C++ caller
            self.error = exc

    def preprocess_end(self, embeddings: Any) -> None:
        self._guard(self._preprocess_end)

    def epoch_end(self, embeddings: Any) -> None:
        self.epoch += 1
        self._guard(self._epoch_end, embeddings)

    def _preprocess_end(self) -> None:
        self.synchronize()
        cp, rows = self.cp, self.rows
        if self.knn_total is not None:
            total = self.knn_total
            cp.advance(total, processed_points=rows, current_chunk=total, total_chunks=total)
            cp.stage("graph", 1)
        cp.advance(1, processed_points=rows)
        cp.stage("layout", self.n_epochs)
        self.synced_at, self.synced_epoch = time.perf_counter(), 0

    def _epoch_end(self, embeddings: Any) -> None:
        epoch, cp = self.epoch, self.cp
        live = cp.wants_layout(epoch)
        if not (live or epoch >= self.next_sync or epoch >= self.n_epochs):
            return
        self.synchronize()
        now = time.perf_counter()
        per_epoch = (now - self.synced_at) / max(1, epoch - self.synced_epoch)
        stride = int(SYNC_SECONDS / max(per_epoch, 1e-6))
        self.next_sync = epoch + max(1, min(MAX_STRIDE, stride))
        if live:
            cp.layout(epoch, np.asarray(embeddings.copy_to_host(), dtype=np.float32))
        cp.advance(epoch, epoch=epoch, total_epochs=self.n_epochs, processed_points=self.rows)
        self.synced_at, self.synced_epoch = time.perf_counter(), epoch  # after any pause

    def raise_if_stopped(self) -> None:
        if self.error is not None:
            raise self.error
        if self.cancelled:
            raise JobCancelled("job cancelled during the layout (the layout ran to its end and was discarded)")


def _callback(reporter: EpochReporter) -> Any:
    from cuml.internals import GraphBasedDimRedCallback

    class Callback(GraphBasedDimRedCallback):  # type: ignore[misc]
        def on_preprocess_end(self, embeddings: Any) -> None:
            reporter.preprocess_end(embeddings)

        def on_epoch_end(self, embeddings: Any) -> None:
            reporter.epoch_end(embeddings)

        def on_train_end(self, embeddings: Any) -> None:
            pass

    return Callback()


def _tracked(cp: Checkpoint) -> bool:
    """A plain NullCheckpoint (immediate requests) has nothing to observe per epoch;
    skipping cuML's callback saves ~50 us per epoch (500 epochs below 10k rows)."""
    return not (type(cp) is NullCheckpoint and cp.cancel_after is None)


def _to_host(array: Any) -> np.ndarray:
    if hasattr(array, "get"):
        array = array.get()
    elif hasattr(array, "to_numpy"):
        array = array.to_numpy()
    return np.ascontiguousarray(array, dtype=np.float32)


def _fit(model_args: dict[str, Any], x: Any, knn: tuple[Any, Any] | None) -> np.ndarray:
    from cuml.manifold import UMAP

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = UMAP(precomputed_knn=knn, output_type="cupy", **model_args)
        return _to_host(model.fit_transform(x))


def _fit_with_fallback(model_args: dict[str, Any], x: Any, knn: tuple[Any, Any] | None,
                       rows: int, notes: list[str]) -> np.ndarray:
    """Fit; a tiny input whose spectral initialisation fails gets a random one, as
    umap-learn does (device errors are never retried)."""
    try:
        return _fit(model_args, x, knn)
    except (StreamingUMAPError, MemoryError):
        raise
    except Exception as exc:
        if model_args.get("init") != "spectral" or rows > 1000 or classify(exc) is not None:
            raise
        log.warning("spectral initialisation failed on %d rows (%s); retrying with a random one",
                    rows, exc)
        notes.append("spectral initialisation failed on this small input; used a random one")
        return _fit({**model_args, "init": "random"}, x, knn)


CPU_RESCUE_MAX_ROWS = 20_000


def _cpu_rescue(data: np.ndarray, params: UMAPParams, options: RunOptions, notes: list[str]) -> np.ndarray:
    """cuML can return NaN layouts for degenerate inputs (measured on an H200: 24 rows made
    of 4 distinct points repeated). Small inputs are recomputed with umap-learn; larger
    ones fail with a message that says what to do."""
    rows = data.shape[0]
    if rows > CPU_RESCUE_MAX_ROWS:
        raise JobError(
            f"cuML returned a layout with non-finite values for {rows} rows (this happens "
            "with many duplicate rows); remove duplicates or run it on the CPU backend"
        )
    from ..pipeline.checkpoint import NullCheckpoint
    from ..pipeline.umap_cpu import run_umap

    log.warning("cuML returned non-finite values for %d rows; recomputing with umap-learn", rows)
    notes.append("the GPU layout had non-finite values (many duplicate rows?); this small "
                 "input was recomputed with umap-learn on the CPU")
    return run_umap(data, params, NullCheckpoint(), options).embedding


CUML_BRUTE_FORCE_METRICS = ("euclidean", "cosine")


def _rows_for_cuml_brute_force(data: np.ndarray, metric: str) -> Any:
    """The rows on the device when cuML's own brute-force kNN should be used (see the
    module docstring), else None."""
    if data.shape[0] > EXACT_KNN_MAX_ROWS or metric not in CUML_BRUTE_FORCE_METRICS:
        return None
    import cupy

    x = cupy.asarray(np.ascontiguousarray(data, dtype=np.float32))
    if metric == "cosine" and not bool(cupy.any(x, axis=1).all()):
        return None  # all-zero rows: cuML's cosine makes them NaN; our kNN treats them as the CPU does
    return x


def run_umap_gpu(
    data: np.ndarray,
    params: UMAPParams,
    cp: Checkpoint,
    options: RunOptions,
    budget_bytes: int | None = None,
) -> UMAPOutput:
    rows, dims = data.shape
    k, notes = adjusted_neighbors(rows, params)
    tiny = tiny_layout(data, params, cp, notes)
    if tiny is not None:
        return tiny

    n_epochs = params.n_epochs or default_epochs(rows)
    exact = uses_exact_knn(rows, params.metric)
    device_rows = _rows_for_cuml_brute_force(data, params.metric) if exact else None
    chunked = exact and device_rows is None  # our kNN in query batches, as precomputed_knn
    total_chunks = chunk_count(rows, options.chunk_size)
    tracked = _tracked(cp)
    reporter = EpochReporter(cp, rows, n_epochs, None if chunked else total_chunks)
    model_args: dict[str, Any] = {
        "n_neighbors": k, "n_components": params.n_components, "min_dist": params.min_dist,
        "metric": params.metric, "random_state": params.random_state, "n_epochs": n_epochs,
        "init": "spectral" if rows > params.n_components + 1 else "random",
        "callback": _callback(reporter) if tracked else None,
    }
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    cp.stage("knn", total_chunks, exact=int(exact))
    if device_rows is not None:
        model_args["build_algo"] = "brute_force_knn"  # cuML's own, inside fit
        knn: tuple[Any, Any] | None = None
        fit_input: Any = device_rows
    elif exact:
        from ._gpu_knn import exact_knn_gpu

        x, indices, distances = exact_knn_gpu(data, k, params.metric, options.chunk_size, cp)
        seconds["knn"] = time.perf_counter() - started
        cp.stage("graph", 1)
        model_args["build_algo"] = "brute_force_knn"
        knn = (indices, distances)
        fit_input = x
    else:
        clusters = nnd_clusters(rows, dims, clamp_neighbors(rows, k), params.n_components, budget_bytes)
        model_args["build_algo"] = "nn_descent"
        if clusters > 1:
            model_args["build_kwds"] = {"knn_n_clusters": clusters, "knn_overlap_factor": 2}
            log.info("NN-descent in %d batches (%d x %d does not fit at once)", clusters, rows, dims)
        if params.random_state is not None:
            notes.append(f"with {rows} rows (more than {EXACT_KNN_MAX_ROWS}) the GPU builds the kNN "
                         "graph with NN-descent, which is not bit-for-bit reproducible even with "
                         "random_state")
        knn, fit_input = None, np.ascontiguousarray(data, dtype=np.float32)
    started = time.perf_counter()
    embedding = _fit_with_fallback(model_args, fit_input, knn, rows, notes)
    seconds["graph+layout" if chunked else "knn+graph+layout"] = time.perf_counter() - started
    reporter.raise_if_stopped()
    if not np.isfinite(embedding).all():
        embedding = _cpu_rescue(data, params, options, notes)
    if not tracked:
        if not chunked:
            cp.advance(total_chunks, processed_points=rows, current_chunk=total_chunks,
                       total_chunks=total_chunks)
            cp.stage("graph", 1)
        cp.advance(1, processed_points=rows)
        cp.stage("layout", n_epochs)
        cp.advance(n_epochs, epoch=n_epochs, total_epochs=n_epochs, processed_points=rows)
    return UMAPOutput(embedding, notes, seconds)
