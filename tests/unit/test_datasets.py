"""The demo mixture is made block by block: the same rows, in bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np

from streaming_umap.datasets import labelled_mixture, mixture_blocks, mixture_labels


def test_blocks_are_the_rows_of_the_whole_mixture() -> None:
    data, labels = labelled_mixture(5000, 24, clusters=7, seed=3)
    blocks = list(mixture_blocks(5000, 24, clusters=7, seed=3, block=700))
    assert all(b.dtype == np.float32 and b.shape[0] <= 700 for b in blocks)
    assert np.array_equal(np.concatenate(blocks), data)
    assert np.array_equal(mixture_labels(5000, 24, clusters=7, seed=3), labels)


def test_a_wide_mixture_never_holds_more_than_a_few_blocks() -> None:
    """100k x 1024 once peaked at 5.2 GB (a rows x rank x dims intermediate); a stream of
    30,000 x 1024 float32 (123 MB) now holds a few 2,048-row blocks at a time."""
    tracemalloc.start()
    try:
        total = sum(b.nbytes for b in mixture_blocks(30_000, 1024, seed=0))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 30_000 * 1024 * 4
    assert peak < 64 << 20, f"peak {peak >> 20} MiB"
