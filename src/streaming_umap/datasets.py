"""Labelled data sets for demos, tests and benchmarks (no downloads)."""

from __future__ import annotations

import numpy as np


def labelled_mixture(
    rows: int, dims: int = 512, clusters: int = 20, seed: int = 0, spread: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Rows drawn around ``clusters`` centres, each cluster spread along its own few
    directions plus isotropic noise: the shape of image-embedding clusters.

    Returns ``(data float32 rows x dims, labels int32)``.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=spread, size=(clusters, dims))
    rank = min(8, dims)
    bases = rng.normal(size=(clusters, rank, dims)) / np.sqrt(dims) * 2.0
    labels = rng.integers(0, clusters, rows).astype(np.int32)
    data = np.empty((rows, dims), dtype=np.float32)
    step = 50_000
    for start in range(0, rows, step):
        lab = labels[start : start + step]
        coeff = rng.normal(size=(lab.size, rank))
        block = centres[lab] + np.einsum("nr,nrd->nd", coeff, bases[lab])
        block += rng.normal(scale=0.5, size=block.shape)
        data[start : start + step] = block
    return data, labels


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 handwritten digits (1,797 real images, shipped with it)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data.astype(np.float32), bunch.target.astype(np.int32)
