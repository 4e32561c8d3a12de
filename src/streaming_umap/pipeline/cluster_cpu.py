"""Clustering on the CPU with progress at each algorithm's natural steps.

* kmeans: k-means++ seeding (scikit-learn), then Lloyd iterations whose assignment
  step runs ``chunk_size`` rows at a time; a checkpoint after every chunk.
* dbscan: the eps-neighbourhood graph is built ``chunk_size`` query rows at a time
  (a checkpoint per chunk), then scikit-learn's DBSCAN runs on that sparse graph.
* hdbscan: scikit-learn's HDBSCAN in one step (it has no resumable inner steps).
"""

from __future__ import annotations

import numpy as np

from ..backends.base import ClusterOutput, RunOptions
from ..errors import InvalidInput
from ..schemas import ClusterParams
from .checkpoint import Checkpoint
from .knn import chunk_count

KMEANS_MAX_ITER = 300
KMEANS_TOL = 1e-4


def _sum_by_label(block: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Row sums of ``block`` per label (k x dims, float64): a k x rows one-hot sparse
    matrix times the block. ``np.add.at`` did the same 20x slower (0.29 s against 0.014 s
    for 5,000 x 512 rows and 32 labels), which made k-means on 20k x 512 with 32 clusters
    take 41 s."""
    import scipy.sparse as sp

    rows = block.shape[0]
    onehot = sp.csr_matrix((np.ones(rows), (labels, np.arange(rows))), shape=(k, rows))
    return np.asarray(onehot @ block, dtype=np.float64)


def _kmeans(
    data: np.ndarray, params: ClusterParams, cp: Checkpoint, chunk_size: int
) -> ClusterOutput:
    from sklearn.cluster import kmeans_plusplus

    rows = data.shape[0]
    if params.n_clusters > rows:
        raise InvalidInput(
            f"n_clusters is {params.n_clusters} but only {rows} rows were given",
            field="n_clusters",
        )
    x = np.ascontiguousarray(data, dtype=np.float32)
    rng = np.random.RandomState(params.random_state)
    centers, _ = kmeans_plusplus(x, params.n_clusters, random_state=rng)
    centers = centers.astype(np.float64)
    sq = np.einsum("ij,ij->i", x, x)
    scale = float(np.mean(np.var(x, axis=0))) or 1.0
    chunks = chunk_count(rows, chunk_size)
    labels = np.zeros(rows, dtype=np.int32)
    cp.stage("cluster", KMEANS_MAX_ITER * chunks)
    step = 0
    for iteration in range(1, KMEANS_MAX_ITER + 1):
        sums = np.zeros_like(centers)
        counts = np.zeros(params.n_clusters, dtype=np.int64)
        c32 = centers.astype(np.float32)
        c_sq = np.einsum("ij,ij->i", c32, c32)
        for chunk, start in enumerate(range(0, rows, chunk_size), start=1):
            block = x[start : start + chunk_size]
            dist = sq[start : start + chunk_size, None] - 2.0 * (block @ c32.T) + c_sq[None, :]
            assign = np.argmin(dist, axis=1).astype(np.int32)
            labels[start : start + chunk_size] = assign
            sums += _sum_by_label(block, assign, params.n_clusters)
            counts += np.bincount(assign, minlength=params.n_clusters)
            step += 1
            cp.advance(step, current_chunk=chunk, total_chunks=chunks,
                       processed_points=min(rows, start + chunk_size))
        empty = counts == 0
        new_centers = np.where(empty[:, None], centers, sums / np.maximum(counts, 1)[:, None])
        shift = float(np.sum((new_centers - centers) ** 2))
        centers = new_centers
        if shift <= KMEANS_TOL * scale:
            break
    cp.advance(KMEANS_MAX_ITER * chunks)
    return ClusterOutput(
        labels=labels,
        n_clusters=len(np.unique(labels)),
        noise_points=None,
        centers=centers.astype(np.float32),
    )


def _dbscan(
    data: np.ndarray, params: ClusterParams, cp: Checkpoint, chunk_size: int
) -> ClusterOutput:
    import scipy.sparse as sp
    from sklearn.cluster import DBSCAN
    from sklearn.neighbors import NearestNeighbors

    rows = data.shape[0]
    chunks = chunk_count(rows, chunk_size)
    index = NearestNeighbors(radius=params.eps, metric=params.metric).fit(data)
    cp.stage("cluster", chunks + 1)
    blocks = []
    for chunk, start in enumerate(range(0, rows, chunk_size), start=1):
        blocks.append(
            index.radius_neighbors_graph(data[start : start + chunk_size], mode="distance")
        )
        cp.advance(chunk, current_chunk=chunk, total_chunks=chunks,
                   processed_points=min(rows, start + chunk_size))
    graph = sp.vstack(blocks).tocsr()
    labels = DBSCAN(eps=params.eps, min_samples=params.min_samples, metric="precomputed").fit(
        graph
    ).labels_
    cp.advance(chunks + 1)
    return _density_output(labels)


def _hdbscan(data: np.ndarray, params: ClusterParams, cp: Checkpoint) -> ClusterOutput:
    from sklearn.cluster import HDBSCAN

    cp.stage("cluster", 1)
    min_cluster_size = min(params.min_cluster_size, max(2, data.shape[0]))
    labels = HDBSCAN(
        min_cluster_size=min_cluster_size,
        min_samples=min(params.min_samples, data.shape[0]),
        metric=params.metric,
        copy=True,
    ).fit(data).labels_
    cp.advance(1, processed_points=data.shape[0])
    out = _density_output(labels)
    if min_cluster_size != params.min_cluster_size:
        out.warnings.append(
            f"min_cluster_size clamped from {params.min_cluster_size} to {min_cluster_size}"
        )
    return out


def _density_output(labels: np.ndarray) -> ClusterOutput:
    labels = labels.astype(np.int32)
    found = set(np.unique(labels).tolist()) - {-1}
    return ClusterOutput(
        labels=labels, n_clusters=len(found), noise_points=int(np.sum(labels == -1))
    )


def run_cluster(
    data: np.ndarray, params: ClusterParams, cp: Checkpoint, options: RunOptions
) -> ClusterOutput:
    if params.algorithm == "kmeans":
        if params.metric != "euclidean":
            raise InvalidInput(
                f"kmeans supports metric 'euclidean' only, found {params.metric!r}",
                field="metric",
            )
        return _kmeans(data, params, cp, options.chunk_size)
    if params.algorithm == "dbscan":
        return _dbscan(data, params, cp, options.chunk_size)
    return _hdbscan(data, params, cp)
