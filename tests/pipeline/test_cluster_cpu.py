"""The CPU k-means against scikit-learn's, and its per-label sums against the plain loop."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from streaming_umap.backends.base import RunOptions
from streaming_umap.backends.cpu import CPUBackend
from streaming_umap.datasets import labelled_mixture
from streaming_umap.pipeline.checkpoint import NullCheckpoint
from streaming_umap.pipeline.cluster_cpu import _sum_by_label
from streaming_umap.schemas import ClusterParams


def test_sums_by_label_equal_the_unbuffered_loop() -> None:
    rng = np.random.default_rng(0)
    block = rng.normal(size=(1000, 17)).astype(np.float32)
    labels = rng.integers(0, 9, 1000).astype(np.int32)
    labels[labels == 4] = 5  # a label with no rows sums to zero
    expected = np.zeros((9, 17))
    np.add.at(expected, labels, block)
    got = _sum_by_label(block, labels, 9)
    assert got.dtype == np.float64 and got.shape == (9, 17)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9)
    assert not got[4].any()


def test_kmeans_finds_what_scikit_learn_finds_with_many_clusters() -> None:
    data, truth = labelled_mixture(6000, 64, 24, seed=3)
    ours = CPUBackend().cluster(data, ClusterParams(algorithm="kmeans", n_clusters=24, random_state=0),
                                NullCheckpoint(), RunOptions(chunk_size=1000, exact_knn_max_rows=0))
    theirs = KMeans(n_clusters=24, n_init=1, random_state=0).fit(data).labels_
    assert adjusted_rand_score(theirs, ours.labels) > 0.9
    assert adjusted_rand_score(truth, ours.labels) >= adjusted_rand_score(truth, theirs) - 0.05
