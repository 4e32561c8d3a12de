"""UMAP on the CPU: our chunked kNN, then umap-learn for the graph and the layout.

With ``random_state`` set, the layout is ours (:mod:`.layout_parallel`): reproducible and
on every thread the job has, where umap-learn's seeded layout runs on one.
``STREAMING_UMAP_SEEDED_LAYOUT=umap-learn`` keeps umap-learn's seeded layout instead.
Without a seed, umap-learn's parallel layout runs: measured on 2 cores, quiet or with a
core taken by another process, it is quicker than the blocks at every size from 10k to
100k rows (see :func:`unseeded_by_blocks`). ``STREAMING_UMAP_UNSEEDED_LAYOUT=blocks`` lays
such a job out by blocks on two threads or more. A refit from a kept model (``init_from``)
always keeps umap-learn's seeded layout.
"""

from __future__ import annotations

import os
import time
import warnings
from contextlib import nullcontext

import numba
import numpy as np

from ..backends.base import RunOptions, UMAPOutput, default_epochs
from ..schemas import UMAPParams
from .checkpoint import Checkpoint
from .knn import knn_graph
from .layout_hook import epoch_checkpoints
from .layout_parallel import layout_by_blocks

MIN_ROWS_FOR_UMAP = 4


def adjusted_neighbors(rows: int, params: UMAPParams) -> tuple[int, list[str]]:
    """n_neighbors as used for this many rows, and a warning if it had to change."""
    k = params.n_neighbors
    if k <= rows - 1:
        return k, []
    clamped = max(1, rows - 1)
    return clamped, [
        f"n_neighbors clamped from {k} to {clamped} (rows - 1): only {rows} rows were given"
    ]


def pca_layout(data: np.ndarray, n_components: int) -> np.ndarray:
    """A deterministic layout for inputs too small for UMAP: centred PCA coordinates,
    zero-padded when there are fewer directions than components."""
    centred = data.astype(np.float64) - data.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    coords = centred @ vt.T
    out = np.zeros((data.shape[0], n_components), dtype=np.float32)
    width = min(n_components, coords.shape[1])
    out[:, :width] = coords[:, :width]
    return out


def tiny_layout(
    data: np.ndarray, params: UMAPParams, cp: Checkpoint, notes: list[str]
) -> UMAPOutput | None:
    """The layout of an input too small for UMAP (both backends), or None."""
    rows = data.shape[0]
    if rows >= MIN_ROWS_FOR_UMAP:
        return None
    notes.append(
        f"UMAP needs at least {MIN_ROWS_FOR_UMAP} rows, {rows} given: "
        "returned the rows' PCA coordinates instead"
    )
    cp.stage("layout", 1)
    embedding = pca_layout(data, params.n_components)
    cp.advance(1, processed_points=rows)
    return UMAPOutput(embedding, notes)


def unseeded_by_blocks() -> bool:
    """Whether a fit without a seed lays out by blocks on 2+ threads instead of umap-learn's
    parallel layout: only with ``STREAMING_UMAP_UNSEEDED_LAYOUT=blocks``.

    Measured side by side in one process on 2 cores (2026-12-04, the layout alone on the
    same graph, best of 3): the blocks took 1.06-1.21x umap-learn's parallel layout's time
    from 10k to 100k rows, and 1.19-1.24x with one core taken by another process; the
    whole 10k x 512 fit 4.68 s against 4.48 s; the service at 100k rows was 1.24x
    umap-learn with the blocks. Without a seed neither is reproducible, so the quicker one
    is the default. (An earlier day's run on a slower machine had the blocks ahead at 10k
    rows, 11.96 s against 14.14 s for 500 epochs; today's did not repeat it.)"""
    return os.environ.get("STREAMING_UMAP_UNSEEDED_LAYOUT", "umap-learn").strip().lower() == "blocks"


def run_umap(
    data: np.ndarray, params: UMAPParams, cp: Checkpoint, options: RunOptions
) -> UMAPOutput:
    import umap

    rows = data.shape[0]
    k, notes = adjusted_neighbors(rows, params)
    tiny = tiny_layout(data, params, cp, notes)
    if tiny is not None:
        return tiny

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    indices, distances, _ = knn_graph(
        data,
        k,
        params.metric,
        chunk_size=options.chunk_size,
        exact_max_rows=options.exact_knn_max_rows,
        random_state=params.random_state,
        cp=cp,
    )
    seconds["knn"] = time.perf_counter() - started
    n_epochs = params.n_epochs or default_epochs(rows)
    cp.stage("graph", 1)
    model = umap.UMAP(
        n_neighbors=k,
        n_components=params.n_components,
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=params.random_state,
        n_epochs=n_epochs,
        precomputed_knn=(indices, distances, None),
        init=(options.init if options.init is not None
              else "spectral" if rows > params.n_components + 1 else "random"),
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a refit (a starting layout given) keeps umap-learn's seeded layout: ours (before
        # its tails moved too) moved a kept model's old points further (Procrustes
        # disparity 0.11 for 2,000 of 3,000 rows in tests/test_models.py, over its 0.1
        # limit, which umap-learn's layout keeps; an independent fit: 0.90)
        seeded = (params.random_state is not None and options.init is None
                  and os.environ.get("STREAMING_UMAP_SEEDED_LAYOUT", "blocks") != "umap-learn")
        unseeded = (params.random_state is None and options.init is None
                    and numba.get_num_threads() >= 2 and unseeded_by_blocks())
        blocks = layout_by_blocks(unseeded) if seeded or unseeded else nullcontext()
        with epoch_checkpoints(cp, rows), blocks:
            embedding = model.fit_transform(data)
    seconds["graph+layout"] = time.perf_counter() - started
    return UMAPOutput(np.ascontiguousarray(embedding, dtype=np.float32), notes, seconds)
