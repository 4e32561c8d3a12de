"""Labelled data sets for demos, tests and benchmarks (no downloads)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

STEP = 50_000  # rows per draw of coefficients (kept: the same seed gives the same rows)
BLOCK = 2048  # rows computed at a time: at most a few float64 blocks of BLOCK x dims in memory


def _mixture_frame(rows: int, dims: int, clusters: int, seed: int, spread: float
                   ) -> tuple[np.random.Generator, np.ndarray, np.ndarray, np.ndarray]:
    """The generator after the draws every row depends on: centres, bases, labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=spread, size=(clusters, dims))
    rank = min(8, dims)
    bases = rng.normal(size=(clusters, rank, dims)) / np.sqrt(dims) * 2.0
    labels = rng.integers(0, clusters, rows).astype(np.int32)
    return rng, centres, bases, labels


def mixture_blocks(rows: int, dims: int = 512, clusters: int = 20, seed: int = 0,
                   spread: float = 3.0, block: int = BLOCK) -> Iterator[np.ndarray]:
    """:func:`labelled_mixture`'s rows as float32 blocks of up to ``block`` rows, in
    order, holding only a few blocks' worth of memory at any time (no rows x rank x dims
    intermediate): what a server streams or writes to disk."""
    rng, centres, bases, labels = _mixture_frame(rows, dims, clusters, seed, spread)
    rank = bases.shape[1]
    for start in range(0, rows, STEP):
        lab = labels[start:start + STEP]
        coeff = rng.normal(size=(lab.size, rank))
        for sub in range(0, lab.size, block):
            sub_lab, sub_coeff = lab[sub:sub + block], coeff[sub:sub + block]
            out = centres[sub_lab]
            for c in np.unique(sub_lab):
                members = sub_lab == c
                out[members] += sub_coeff[members] @ bases[c]
            out += rng.normal(scale=0.5, size=out.shape)  # the same stream as one big draw
            yield out.astype(np.float32)


def mixture_labels(rows: int, dims: int = 512, clusters: int = 20, seed: int = 0,
                   spread: float = 3.0) -> np.ndarray:
    """The labels of :func:`labelled_mixture` alone (int32), without making its rows."""
    return _mixture_frame(rows, dims, clusters, seed, spread)[3]


def labelled_mixture(
    rows: int, dims: int = 512, clusters: int = 20, seed: int = 0, spread: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Rows drawn around ``clusters`` centres, each cluster spread along its own few
    directions plus isotropic noise: the shape of image-embedding clusters.

    Returns ``(data float32 rows x dims, labels int32)``; made block by block
    (:func:`mixture_blocks`), so the only large allocation is the result itself.
    """
    data = np.empty((rows, dims), dtype=np.float32)
    start = 0
    for part in mixture_blocks(rows, dims, clusters, seed, spread):
        data[start:start + part.shape[0]] = part
        start += part.shape[0]
    return data, mixture_labels(rows, dims, clusters, seed, spread)


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 handwritten digits (1,797 real images, shipped with it)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data.astype(np.float32), bunch.target.astype(np.int32)
