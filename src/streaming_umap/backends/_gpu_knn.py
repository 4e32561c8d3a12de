"""Exact kNN on the GPU, one query batch at a time, each batch a checkpoint.

cuML's ``NearestNeighbors(algorithm="brute")`` (cuVS brute force, tiled inside) is
fitted once on all rows on the device and queried ``batch`` rows at a time
(:func:`~streaming_umap.pipeline.gpu_memory.knn_batch_rows`: about ten calls of at
least 10k rows, since each call has a fixed cost). Progress counts ``chunk_size``
chunks, as the CPU backend and ``total_chunks`` do: one call advances several.

Cosine is computed as squared euclidean distance between unit rows, halved
(``|a-b|^2 = 2 - 2 cos`` for unit vectors): the same value as cuML's cosine, without
its NaN for all-zero rows, which get the CPU backend's unit-row treatment.

The result is what ``cuml.UMAP(precomputed_knn=(indices, distances))`` demands: each
row's first neighbour is the row itself at distance 0 (brute force with ties or
rounding does not guarantee it; see :func:`self_first`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..pipeline.checkpoint import Checkpoint
from ..pipeline.gpu_memory import knn_batch_rows


def unit_rows(x: Any) -> Any:
    """Scale the device rows of ``x`` to unit length in place (zero rows stay zero)."""
    import cupy

    norms = cupy.sqrt(cupy.einsum("ij,ij->i", x, x))
    norms[norms == 0] = 1.0
    x /= norms[:, None]
    return x


def self_first(indices: Any, distances: Any, first_row: int) -> tuple[Any, Any]:
    """Put each query row itself in column 0 at distance 0.

    Rows where brute force returned the row elsewhere (a tie with a duplicate) get it
    moved to the front; rows where it was crowded out by duplicates get it inserted,
    dropping the farthest neighbour.
    """
    import cupy

    n, k = indices.shape
    ids = cupy.arange(first_row, first_row + n, dtype=indices.dtype)[:, None]
    if bool((indices[:, 0] == ids[:, 0]).all()):
        distances[:, 0] = 0.0
        return indices, distances
    is_self = indices == ids
    key = cupy.where(is_self, -1, cupy.arange(k, dtype=cupy.int64)[None, :])
    order = cupy.argsort(key, axis=1)
    indices = cupy.take_along_axis(indices, order, axis=1)
    distances = cupy.take_along_axis(distances, order, axis=1)
    missing = ~is_self.any(axis=1)
    if bool(missing.any()):
        shifted_i = cupy.concatenate([ids, indices[:, : k - 1]], axis=1)
        zeros = cupy.zeros((n, 1), dtype=distances.dtype)
        shifted_d = cupy.concatenate([zeros, distances[:, : k - 1]], axis=1)
        indices = cupy.where(missing[:, None], shifted_i, indices)
        distances = cupy.where(missing[:, None], shifted_d, distances)
    distances[:, 0] = 0.0
    return cupy.ascontiguousarray(indices), cupy.ascontiguousarray(distances)


def exact_knn_gpu(
    data: np.ndarray, k: int, metric: str, chunk_size: int, cp: Checkpoint,
    batch: int | None = None,
) -> tuple[Any, Any, Any]:
    """Exact kNN of ``data`` against itself on the device.

    Returns ``(rows on the device, indices int64, distances float32)``, all CuPy; the
    rows are unit-scaled for cosine. Checkpoint after every batch (JobCancelled
    propagates from ``cp.advance``: nothing of cuML's is on the stack then).
    ``batch``: query rows per call (default :func:`knn_batch_rows`; the benchmark
    varies it).
    """
    import cupy
    from cuml.neighbors import NearestNeighbors

    rows = data.shape[0]
    x = cupy.asarray(np.ascontiguousarray(data, dtype=np.float32))
    knn_metric = metric
    if metric == "cosine":
        x = unit_rows(x)
        knn_metric = "sqeuclidean"
    index = NearestNeighbors(n_neighbors=k, algorithm="brute", metric=knn_metric,
                             output_type="cupy").fit(x)
    indices = cupy.empty((rows, k), dtype=cupy.int64)
    distances = cupy.empty((rows, k), dtype=cupy.float32)
    total = max(1, math.ceil(rows / chunk_size))
    batch = batch or knn_batch_rows(rows, chunk_size, data.shape[1])
    for start in range(0, rows, batch):
        stop = min(rows, start + batch)
        dist, idx = index.kneighbors(x[start:stop], n_neighbors=k)
        idx, dist = self_first(cupy.asarray(idx, dtype=cupy.int64),
                               cupy.asarray(dist, dtype=cupy.float32), start)
        indices[start:stop] = idx
        distances[start:stop] = dist
        done = total if stop == rows else stop // chunk_size
        cp.advance(done, processed_points=stop, current_chunk=done, total_chunks=total)
    if metric == "cosine":
        distances *= 0.5
        cupy.maximum(distances, 0.0, out=distances)
    del index
    return x, indices, distances


def _squared_distances(x: Any, start: int, indices: Any, block: int = 8192) -> Any:
    """Squared euclidean distances from rows ``start:start+len(indices)`` of ``x`` to
    their neighbours ``indices``, computed directly (not taken from the index)."""
    import cupy

    out = cupy.empty(indices.shape, dtype=cupy.float32)
    for lo in range(0, indices.shape[0], block):
        hi = min(indices.shape[0], lo + block)
        diff = x[indices[lo:hi]] - x[start + lo:start + hi, None, :]
        out[lo:hi] = cupy.einsum("qkd,qkd->qk", diff, diff)
    return out


def ivf_knn_gpu(
    data: np.ndarray, k: int, metric: str, chunk_size: int, cp: Checkpoint,
    n_lists: int | None = None, n_probes: int | None = None, batch: int | None = None,
) -> tuple[Any, Any, Any]:
    """Approximate kNN by an IVF-Flat index (cuVS, through cuML's
    ``NearestNeighbors(algorithm="ivfflat")``), queried in batches like
    :func:`exact_knn_gpu`, so each batch is a checkpoint. Euclidean and cosine only.

    Not on the job path yet: the GPU benchmark measures its speed and recall against
    cuML's NN-descent, which the backend uses above EXACT_KNN_MAX_ROWS and which reports
    no progress. Distances are recomputed from the rows (the index's own distances
    follow cuVS's conventions per metric); rows come back sorted, the row itself first.
    """
    import cupy
    from cuml.neighbors import NearestNeighbors

    if metric not in ("euclidean", "cosine"):
        raise ValueError(f"IVF-Flat kNN supports euclidean and cosine, not {metric!r}")
    rows, dims = data.shape
    x = cupy.asarray(np.ascontiguousarray(data, dtype=np.float32))
    if metric == "cosine":
        x = unit_rows(x)
    n_lists = n_lists or max(1, min(rows // 256, int(4 * math.sqrt(rows))))
    n_probes = min(n_lists, n_probes or max(1, n_lists // 32))
    with warnings.catch_warnings():  # cuML warns that its ANN "might be unstable" (an old FAISS note)
        warnings.simplefilter("ignore")
        index = NearestNeighbors(n_neighbors=k, algorithm="ivfflat", metric="euclidean",
                                 algo_params={"nlist": n_lists, "nprobe": n_probes},
                                 output_type="cupy").fit(x)
    indices = cupy.empty((rows, k), dtype=cupy.int64)
    distances = cupy.empty((rows, k), dtype=cupy.float32)
    total = max(1, math.ceil(rows / chunk_size))
    batch = batch or knn_batch_rows(rows, chunk_size, dims, brute=False)
    for start in range(0, rows, batch):
        stop = min(rows, start + batch)
        _, idx = index.kneighbors(x[start:stop], n_neighbors=k)
        idx = cupy.asarray(idx, dtype=cupy.int64)
        idx = cupy.where(idx < 0, cupy.arange(start, stop, dtype=cupy.int64)[:, None], idx)  # unfilled slots
        dist = _squared_distances(x, start, idx)
        order = cupy.argsort(dist, axis=1)
        idx, dist = self_first(cupy.take_along_axis(idx, order, axis=1),
                               cupy.take_along_axis(dist, order, axis=1), start)
        indices[start:stop] = idx
        distances[start:stop] = dist
        done = total if stop == rows else stop // chunk_size
        cp.advance(done, processed_points=stop, current_chunk=done, total_chunks=total)
    cupy.maximum(distances, 0.0, out=distances)
    if metric == "cosine":
        distances *= 0.5  # |a-b|^2 = 2 - 2 cos for unit rows
    else:
        cupy.sqrt(distances, out=distances)
    del index
    return x, indices, distances
