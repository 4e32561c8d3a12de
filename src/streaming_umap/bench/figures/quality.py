"""Figure 6: layout quality of the service vs the bare library on the same data.

* trustworthiness (``sklearn.manifold.trustworthiness``, k = 5, in the input's
  metric) of the service's layout and of the library's, same parameters and seed;
* ARI against the true labels of HDBSCAN on each layout: the service's own
  clustering endpoint on its layout, scikit-learn's HDBSCAN with the same
  parameters on the library's layout.

Data: scikit-learn's digits (real, 1,797 x 64, euclidean) and the labelled mixture
("blobs", the profile's size, in the profile's metric). Ratios are ours / theirs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..context import Context, Dataset

TRUST_K = 5
MIN_SAMPLES = 5


def _min_cluster_size(labels: np.ndarray) -> int:
    """A quarter of the mean class size: small enough for every class to form."""
    classes = max(1, len(np.unique(labels)))
    return max(10, int(labels.size / classes / 4))


def _one(ctx: Context, dataset: Dataset, metric: str) -> dict[str, Any]:
    from sklearn.cluster import HDBSCAN
    from sklearn.manifold import trustworthiness
    from sklearn.metrics import adjusted_rand_score

    params = ctx.profile.umap_params(metric)
    figures, run, reference = ctx.side_by_side(dataset, params)
    ours = run.result
    assert ours is not None
    trust_ours = float(trustworthiness(dataset.data, ours, n_neighbors=TRUST_K, metric=metric))
    trust_ref = float(trustworthiness(dataset.data, reference, n_neighbors=TRUST_K, metric=metric))
    size = _min_cluster_size(dataset.labels)
    cluster_params = {"algorithm": "hdbscan", "min_cluster_size": size,
                      "min_samples": MIN_SAMPLES}
    clustered = ctx.client.run("cluster", ours, cluster_params)
    if clustered.status != "completed" or clustered.result is None:
        raise RuntimeError(f"HDBSCAN job ended {clustered.status}: {clustered.error}")
    ref_labels = HDBSCAN(min_cluster_size=size, min_samples=MIN_SAMPLES,
                         copy=True).fit(reference).labels_
    ari_ours = float(adjusted_rand_score(dataset.labels, clustered.result))
    ari_ref = float(adjusted_rand_score(dataset.labels, ref_labels))
    return {
        "data": dataset.name, "rows": int(dataset.data.shape[0]),
        "dims": int(dataset.data.shape[1]), "metric": metric,
        "trust_service": round(trust_ours, 4), "trust_library": round(trust_ref, 4),
        "trust_ratio": round(trust_ours / trust_ref, 4),
        "ari_service": round(ari_ours, 4), "ari_library": round(ari_ref, 4),
        "ari_ratio": None if ari_ref <= 0 else round(ari_ours / ari_ref, 4),
        "hdbscan": {"min_cluster_size": size, "min_samples": MIN_SAMPLES},
        "service_s": figures["service_s"], "library_s": figures["library_s"],
    }


def run(ctx: Context) -> dict[str, Any]:
    profile = ctx.profile
    data_sets = [
        _one(ctx, ctx.digits(), "euclidean"),
        _one(ctx, ctx.mixture(profile.quality_rows, profile.quality_dims), profile.metric),
    ]
    return {"trust_k": TRUST_K, "baseline": f"{ctx.library} on the same data, same seed",
            "data_sets": data_sets}
