"""Warnings about a clustering that hold on every backend: a parameter the chosen
algorithm does not use, and a density clustering that found no cluster at all."""

from __future__ import annotations

from ..schemas import ClusterParams
from .base import ClusterOutput

# ClusterParams' default: a density method given exactly this cannot be told from one given
# nothing, so only other values are reported as ignored.
DEFAULT_N_CLUSTERS = ClusterParams().n_clusters


def _all_noise_advice(params: ClusterParams) -> str:
    if params.algorithm == "dbscan":
        return (f"raise eps (now {params.eps:g}) or lower min_samples (now {params.min_samples}), "
                "or scale the data")
    return (f"lower min_cluster_size (now {params.min_cluster_size}) or min_samples "
            f"(now {params.min_samples})")


def cluster_warnings(params: ClusterParams, out: ClusterOutput) -> list[str]:
    """What the caller should know about this result, as ``warning`` texts."""
    notes: list[str] = []
    if params.algorithm != "kmeans" and params.n_clusters != DEFAULT_N_CLUSTERS:
        notes.append(
            f"n_clusters={params.n_clusters} is ignored by {params.algorithm}, which finds the "
            f"number of clusters itself (found {out.n_clusters}); only kmeans takes n_clusters")
    rows = len(out.labels)
    if rows > 0 and out.noise_points == rows:
        notes.append(f"{params.algorithm} labelled all {rows} rows noise (-1) and found no cluster: "
                     f"{_all_noise_advice(params)}")
    return notes
