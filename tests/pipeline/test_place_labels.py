"""Cluster labels of placed points from a clustering attached to a kept model: the
nearest centre, the nearest clustered point within the fitted distance, noise past it."""

from __future__ import annotations

import numpy as np

from streaming_umap.pipeline.place_labels import (
    Clustering,
    cluster_radii,
    fitted_radius,
    label_points,
)

# two tight clusters on a line and one noise point between them
POINTS = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [10.0, 0.0], [10.5, 0.0], [6.0, 5.0]],
                  dtype=np.float32)
LABELS = np.array([0, 0, 0, 1, 1, -1], dtype=np.int32)


def test_hdbscan_radii_are_the_largest_core_distance_among_fellow_members() -> None:
    assert cluster_radii(POINTS, LABELS) == [1.0, 0.5]
    # the 2nd nearest other member: (0, 0) and (2, 0) are 2.0 from theirs; a cluster of two
    # has only one other member
    assert cluster_radii(POINTS, LABELS, neighbour=2) == [2.0, 0.5]
    assert fitted_radius("hdbscan", {"metric": "euclidean", "min_samples": 2}, POINTS, LABELS) == [1.0, 0.5]
    assert fitted_radius("hdbscan", {"metric": "euclidean", "min_samples": 3}, POINTS, LABELS) == [2.0, 0.5]
    assert fitted_radius("hdbscan", {"metric": "euclidean"}, POINTS, LABELS) == [2.0, 0.5]  # default 5
    assert fitted_radius("hdbscan", {"metric": "euclidean", "min_samples": 1}, POINTS, LABELS) == [1.0, 0.5]
    assert fitted_radius("dbscan", {"eps": 0.7}, POINTS, LABELS) == 0.7
    assert fitted_radius("kmeans", {}, POINTS, LABELS) is None


def test_hdbscan_labels_the_nearest_clustered_point_and_noise_past_its_clusters_radius() -> None:
    clustering = Clustering("hdbscan", "layout", LABELS, POINTS, radius=cluster_radii(POINTS, LABELS))
    placed = np.array([
        [2.9, 0.0],    # 0.9 from (2, 0): within cluster 0's radius 1.0
        [3.2, 0.0],    # 1.2 from (2, 0): past it
        [10.9, 0.0],   # 0.4 from (10.5, 0): within cluster 1's 0.5
        [9.3, 0.0],    # 0.7 from (10, 0): past cluster 1's 0.5, though within cluster 0's 1.0
        [6.0, 5.1],    # next to the noise point, which labels nothing: nearest member is far
        [np.nan, 0.0],  # a row the model could not place
    ], dtype=np.float32)
    np.testing.assert_array_equal(label_points(clustering, placed), [0, -1, 1, -1, -1, -1])


def test_dbscan_uses_eps_and_kmeans_the_nearest_centre_however_far() -> None:
    dbscan = Clustering("dbscan", "rows", LABELS, POINTS, radius=0.8)
    near_far = np.array([[2.7, 0.0], [2.9, 0.0], [10.0, 0.7]], dtype=np.float32)
    np.testing.assert_array_equal(label_points(dbscan, near_far), [0, -1, 1])

    centers = np.array([[1.0, 0.0], [10.25, 0.0]], dtype=np.float32)
    kmeans = Clustering("kmeans", "layout", np.array([0, 0, 0, 1, 1, 1], dtype=np.int32), POINTS,
                        centers=centers)
    assert kmeans.n_clusters == 2
    far = np.array([[-100.0, 3.0], [5.0, 0.0], [5.7, 0.0], [1e6, 1e6]], dtype=np.float32)
    np.testing.assert_array_equal(label_points(kmeans, far), [0, 0, 1, 1])


def test_a_clustering_of_only_noise_labels_everything_noise() -> None:
    clustering = Clustering("dbscan", "layout", np.full(6, -1, dtype=np.int32), POINTS, radius=0.5)
    assert clustering.n_clusters == 0
    np.testing.assert_array_equal(label_points(clustering, POINTS[:3]), [-1, -1, -1])
