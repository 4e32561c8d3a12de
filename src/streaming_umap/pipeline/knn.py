"""k-nearest-neighbour graphs on the CPU.

Two paths, chosen by row count (``exact_knn_max_rows``, default 4096):

* exact, chunked brute force: ``chunk_size`` query rows at a time against all rows,
  one checkpoint per chunk. Cost grows as rows^2 x dims (measured on 2 cores:
  0.35 s at 4k x 512, 2.1 s at 10k, 7.7 s at 20k).
* approximate, NN-descent (pynndescent, the same settings umap-learn uses): one
  pass over all rows (measured: 0.3 s at 10k x 512, 5.1 s at 100k with 99.7 %
  recall). NN-descent has no row chunks: it refines every row's list at once. We
  measured the chunked alternatives (a lighter index queried 1000 rows at a time:
  2x slower at 96 % recall; faiss IVF: 2.6x slower at 92 %), so this path reports
  the stage as one step and the ETA model carries progress through it.

Both return ``(indices, distances)`` of shape rows x k, each row's first neighbour
being the row itself at distance 0, as umap-learn's ``precomputed_knn`` expects.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import numpy as np

from .checkpoint import Checkpoint

_FAST_METRICS = ("euclidean", "cosine")


def chunk_count(rows: int, chunk_size: int) -> int:
    return max(1, math.ceil(rows / chunk_size))


def _unit_rows(data: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: np.ndarray = (data / norms).astype(np.float32, copy=False)
    return unit


def _chunk_distances(
    block: np.ndarray, data: np.ndarray, metric: str, sq_norms: np.ndarray | None
) -> np.ndarray:
    """Distances from each row of ``block`` to every row of ``data``."""
    dist: np.ndarray
    if metric == "cosine":  # data are unit rows here
        dist = 1.0 - block @ data.T
        np.maximum(dist, 0.0, out=dist)
        return dist
    if metric == "euclidean":
        assert sq_norms is not None
        dist = np.einsum("ij,ij->i", block, block)[:, None] - 2.0 * (block @ data.T)
        dist += sq_norms[None, :]
        np.maximum(dist, 0.0, out=dist)
        np.sqrt(dist, out=dist)
        return dist
    from sklearn.metrics import pairwise_distances

    dist = pairwise_distances(block, data, metric=metric).astype(np.float32, copy=False)
    return dist


def exact_knn(
    data: np.ndarray, k: int, metric: str, chunk_size: int, cp: Checkpoint
) -> tuple[np.ndarray, np.ndarray]:
    """Exact kNN by brute force, ``chunk_size`` query rows at a time.

    Peak extra memory: one chunk_size x rows float32 distance block.
    """
    rows = data.shape[0]
    k = min(k, rows)
    base = _unit_rows(data) if metric == "cosine" else np.ascontiguousarray(data, np.float32)
    sq_norms = np.einsum("ij,ij->i", base, base) if metric == "euclidean" else None
    indices = np.empty((rows, k), dtype=np.int64)
    distances = np.empty((rows, k), dtype=np.float32)
    total = chunk_count(rows, chunk_size)
    for chunk, start in enumerate(range(0, rows, chunk_size), start=1):
        stop = min(rows, start + chunk_size)
        dist = _chunk_distances(base[start:stop], base, metric, sq_norms)
        local = np.arange(stop - start)
        dist[local, local + start] = -1.0  # each row is its own first neighbour
        if k < rows:
            part = np.argpartition(dist, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(rows), (stop - start, rows)).copy()
        picked = np.take_along_axis(dist, part, axis=1)
        order = np.argsort(picked, axis=1, kind="stable")
        indices[start:stop] = np.take_along_axis(part, order, axis=1)
        distances[start:stop] = np.take_along_axis(picked, order, axis=1)
        distances[start:stop, 0] = 0.0
        cp.advance(chunk, processed_points=stop, current_chunk=chunk, total_chunks=total)
    return indices, distances


@contextmanager
def numba_threads(threads: int) -> Iterator[None]:
    """numba's parallel code runs on ``threads`` threads inside, as many as before after."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _threads_for_seed(random_state: int | None) -> AbstractContextManager[None]:
    """With a seed, NN-descent runs on every thread numba has, whatever share of them the
    job was given: pynndescent splits its candidate lists by thread, so its graph for a
    seed depends on the thread count (measured: 11 % of a 20k x 32 graph's entries differ
    between 1 and 2 threads), and the share changes with the jobs running beside it."""
    if random_state is None:
        return nullcontext()
    import numba

    return numba_threads(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


def approximate_knn(
    data: np.ndarray, k: int, metric: str, random_state: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """NN-descent with umap-learn's own settings for its internal kNN."""
    from pynndescent import NNDescent

    from .nnd_cached import install

    install()  # compiled once per machine (the disk cache), not once per process

    rows = data.shape[0]
    with _threads_for_seed(random_state):
        index = NNDescent(
            data,
            n_neighbors=k,
            metric=metric,
            random_state=random_state,
            n_trees=min(64, 5 + round(rows**0.5 / 20.0)),
            n_iters=max(5, round(np.log2(rows))),
            max_candidates=60,
            low_memory=True,
            compressed=False,
            verbose=False,
        )
        indices, distances = index.neighbor_graph
    return indices.astype(np.int64, copy=False), distances.astype(np.float32, copy=False)


NND_LARGE_ROWS = 16_384  # pynndescent takes other (lazily compiled) code paths above this
_NND_RUN: set[tuple[str, bool]] = set()  # NN-descent (metric, above NND_LARGE_ROWS) run here


def knn_graph(
    data: np.ndarray,
    k: int,
    metric: str,
    *,
    chunk_size: int,
    exact_max_rows: int,
    random_state: int | None,
    cp: Checkpoint,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """The kNN graph by the cheaper path for this size; the bool says exact or not."""
    rows = data.shape[0]
    total = chunk_count(rows, chunk_size)
    variant = (metric, rows > NND_LARGE_ROWS)
    # first_run: NN-descent compiles per metric and size class in each process (forked
    # workers inherit what the warm template ran), so the ETA adds that cost
    cp.stage("knn", total, exact=int(rows <= exact_max_rows),
             first_run=int(rows > exact_max_rows and variant not in _NND_RUN))
    if rows <= exact_max_rows:
        indices, distances = exact_knn(data, k, metric, chunk_size, cp)
        return indices, distances, True
    indices, distances = approximate_knn(data, k, metric, random_state)
    _NND_RUN.add(variant)
    cp.advance(total, processed_points=rows, current_chunk=total, total_chunks=total)
    return indices, distances, False
