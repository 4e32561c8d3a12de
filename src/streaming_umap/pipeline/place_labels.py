"""Cluster labels for rows placed into a kept model, from a clustering of its layout or
of its training rows.

A :class:`Clustering` is what labelling needs of a completed cluster job: the label of
every training row, the KMeans centres, and the "fitted distance" past which a point
belongs to no cluster. It is measured in the space the clustering ran in: the layout
(``space="layout"``: placed points are labelled by their positions) or the training rows
(``space="rows"``: by the new rows themselves).

- KMeans: the nearest centre (euclidean), for every point.
- DBSCAN, HDBSCAN: the label of the nearest training point that is not noise; -1 when it
  is farther than the fitted distance (DBSCAN: ``eps``; HDBSCAN: that cluster's radius,
  the largest core distance of its members, measured among them: the distance to the
  ``min_samples - 1``-th nearest other member, see :func:`cluster_radii`).

A point with a non-finite coordinate (a row the model could not place) is -1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Space = Literal["layout", "rows"]
NOISE = -1


@dataclass(frozen=True)
class Clustering:
    """A cluster job's result attached to a kept model."""

    algorithm: str  # kmeans, dbscan or hdbscan
    space: Space
    labels: np.ndarray  # int32, one per training row; -1 = noise
    points: np.ndarray  # the training rows in that space: the layout, or the rows themselves
    metric: str = "euclidean"
    centers: np.ndarray | None = None  # float32, n_clusters x dims of the space (kmeans)
    radius: float | list[float] | None = None  # dbscan: eps; hdbscan: per cluster; kmeans: None

    @property
    def n_clusters(self) -> int:
        if self.centers is not None:
            return int(self.centers.shape[0])
        return int(np.unique(self.labels[self.labels >= 0]).size)


def cluster_radii(points: np.ndarray, labels: np.ndarray, metric: str = "euclidean",
                  neighbour: int = 1) -> list[float]:
    """Per cluster ``0..max(labels)``, the largest distance from a member to its
    ``neighbour``-th nearest other member of the same cluster (the nearest other member in
    a cluster with fewer; 0.0 for a cluster of one, or of none)."""
    from sklearn.neighbors import NearestNeighbors

    count = int(labels.max()) + 1 if labels.size else 0
    radii = [0.0] * count
    for cluster in range(count):
        members = np.asarray(points[labels == cluster], dtype=np.float32)
        if members.shape[0] < 2:
            continue
        k = min(max(1, neighbour), members.shape[0] - 1)
        dist, _ = NearestNeighbors(n_neighbors=k + 1, metric=metric).fit(members).kneighbors(members)
        radii[cluster] = float(dist[:, k].max())
    return radii


def fitted_radius(algorithm: str, params: dict[str, Any], points: np.ndarray,
                  labels: np.ndarray) -> float | list[float] | None:
    """The distance past which :func:`label_points` says noise: DBSCAN's ``eps``, HDBSCAN's
    radius per cluster (measured on ``points``, the space it clustered), KMeans: none."""
    if algorithm == "dbscan":
        return float(params.get("eps", 0.5))
    if algorithm == "hdbscan":
        # HDBSCAN's own core distance (min_samples counts the point itself), largest in
        # each cluster. The nearest other member alone (min_samples 2) is too tight for
        # placed rows: a transform places them a little looser than the fit packed its
        # own (on 2,400 rows of a 20-class mixture, 8-11 % of 1,200 placed rows fell past
        # it; past the core distance of min_samples 5, 1 %).
        min_samples = int(params.get("min_samples", 5))
        return cluster_radii(points, labels, str(params.get("metric", "euclidean")),
                             neighbour=min_samples - 1)
    return None


def label_points(clustering: Clustering, points: np.ndarray) -> np.ndarray:
    """int32 labels of ``points`` (rows in the clustering's space); -1 = noise."""
    points = np.asarray(points, dtype=np.float32)
    out = np.full(points.shape[0], NOISE, dtype=np.int32)
    finite = np.isfinite(points).all(axis=1)
    if not finite.any():
        return out
    if clustering.algorithm == "kmeans":
        assert clustering.centers is not None, "a kmeans clustering keeps its centres"
        out[finite] = _nearest_centre(points[finite], clustering.centers)
        return out
    out[finite] = _nearest_member(clustering, points[finite])
    return out


def _nearest_centre(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    from sklearn.metrics import pairwise_distances_argmin

    nearest: np.ndarray = pairwise_distances_argmin(points, np.asarray(centers, dtype=np.float32))
    return nearest.astype(np.int32)


def _nearest_member(clustering: Clustering, points: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    members = np.flatnonzero(clustering.labels >= 0)
    if members.size == 0:  # a clustering that found only noise
        return np.full(points.shape[0], NOISE, dtype=np.int32)
    train = np.asarray(clustering.points[members], dtype=np.float32)
    index = NearestNeighbors(n_neighbors=1, metric=clustering.metric).fit(train)
    dist, nearest = index.kneighbors(points)
    found: np.ndarray = clustering.labels[members[nearest[:, 0]]].astype(np.int32)
    found[dist[:, 0] > _limits(clustering, found)] = NOISE
    return found


def _limits(clustering: Clustering, found: np.ndarray) -> np.ndarray:
    radius = clustering.radius
    if radius is None:
        return np.full(found.shape[0], np.inf)
    if isinstance(radius, list):
        per_cluster: np.ndarray = np.asarray(radius, dtype=np.float64)[found]
        return per_cluster
    return np.full(found.shape[0], float(radius))
