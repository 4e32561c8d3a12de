from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from streaming_umap.errors import JobCancelled
from streaming_umap.pipeline.checkpoint import NullCheckpoint
from streaming_umap.pipeline.knn import chunk_count, exact_knn


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan", "correlation", "chebyshev"])
def test_exact_chunked_knn_matches_brute_force(metric: str) -> None:
    data = np.random.default_rng(0).normal(size=(530, 12)).astype(np.float32)
    cp = NullCheckpoint()
    indices, distances = exact_knn(data, 7, metric, chunk_size=100, cp=cp)
    ref_dist, ref_idx = NearestNeighbors(n_neighbors=7, metric=metric, algorithm="brute").fit(data).kneighbors(data)
    assert (indices[:, 0] == np.arange(530)).all() and (distances[:, 0] == 0).all()
    assert np.allclose(distances, ref_dist, atol=2e-4)
    agree = np.mean([len(set(a) & set(b)) / 7 for a, b in zip(indices, ref_idx)])
    assert agree > 0.995
    assert cp.steps == chunk_count(530, 100) == 6


def test_knn_with_k_equal_to_rows() -> None:
    data = np.arange(8, dtype=np.float32).reshape(4, 2)
    indices, distances = exact_knn(data, 4, "euclidean", chunk_size=100, cp=NullCheckpoint())
    assert sorted(indices[1].tolist()) == [0, 1, 2, 3] and indices[1, 0] == 1
    assert np.all(np.diff(distances, axis=1) >= 0)


def test_cancel_stops_between_chunks() -> None:
    data = np.random.default_rng(1).normal(size=(1000, 4)).astype(np.float32)
    with pytest.raises(JobCancelled):
        exact_knn(data, 5, "euclidean", chunk_size=100, cp=NullCheckpoint(cancel_after=3))
