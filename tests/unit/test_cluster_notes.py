"""The warnings every backend adds to a clustering (backends/cluster_notes.py)."""

from __future__ import annotations

import numpy as np

from streaming_umap.backends.base import ClusterOutput
from streaming_umap.backends.cluster_notes import DEFAULT_N_CLUSTERS, cluster_warnings
from streaming_umap.schemas import ClusterParams


def _density(labels: list[int]) -> ClusterOutput:
    array = np.asarray(labels, dtype=np.int32)
    return ClusterOutput(labels=array, n_clusters=len(set(labels) - {-1}),
                         noise_points=int(np.sum(array == -1)))


def test_all_noise_says_which_parameters_to_move() -> None:
    dbscan = cluster_warnings(ClusterParams(algorithm="dbscan", eps=0.25, min_samples=7), _density([-1] * 4))
    assert dbscan == ["dbscan labelled all 4 rows noise (-1) and found no cluster: raise eps (now 0.25) "
                      "or lower min_samples (now 7), or scale the data"]
    hdbscan = cluster_warnings(ClusterParams(algorithm="hdbscan", min_cluster_size=50), _density([-1] * 3))
    assert "lower min_cluster_size (now 50)" in hdbscan[0]


def test_some_noise_or_kmeans_is_no_warning() -> None:
    assert cluster_warnings(ClusterParams(algorithm="dbscan"), _density([-1, 0, 0])) == []
    kmeans = ClusterOutput(labels=np.zeros(3, dtype=np.int32), n_clusters=1, noise_points=None)
    assert cluster_warnings(ClusterParams(algorithm="kmeans", n_clusters=1), kmeans) == []


def test_n_clusters_is_named_ignored_by_density_methods() -> None:
    for algorithm in ("dbscan", "hdbscan"):
        notes = cluster_warnings(ClusterParams(algorithm=algorithm, n_clusters=12), _density([0, 1, 1]))
        assert notes == [f"n_clusters=12 is ignored by {algorithm}, which finds the number of clusters "
                         "itself (found 2); only kmeans takes n_clusters"]
    # the default cannot be told from a value sent on purpose: no warning for it
    assert cluster_warnings(ClusterParams(algorithm="dbscan", n_clusters=DEFAULT_N_CLUSTERS), _density([0])) == []
