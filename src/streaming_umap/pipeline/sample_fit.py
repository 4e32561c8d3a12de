"""Layouts of more rows than a full fit should take: fit on a random sample, place the
rest into that layout.

Above ``fit_sample_rows`` rows (``STREAMING_UMAP_FIT_SAMPLE_ROWS``, or the request's
``fit_sample_rows``; 0 fits every row), UMAP is fitted on that many rows drawn at random
(with ``random_state``, the same draw every time), and the other rows are placed with the
fitted layout chunk by chunk (:mod:`.transform_cpu`): stage ``transform``, one progress
step and one pause/cancel checkpoint per chunk, at any size. The kNN, graph and layout
stages then cost what the sample costs, and memory is the sample's plus one chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from ..backends.base import RunOptions, UMAPOutput
from ..schemas import UMAPParams
from .checkpoint import Checkpoint
from .transform_cpu import LayoutModel, curve_parameters, place_rows

TRANSFORM_CHUNK_ROWS = 10_000  # rows placed per step (umap-learn's transform runs 100 epochs up to here)

Fit = Callable[[np.ndarray, UMAPParams, Checkpoint, RunOptions], UMAPOutput]


class Placer(Protocol):
    """Places ``rows[which]`` into ``model``'s layout, one checkpoint step per chunk
    (stage ``transform``); returns their positions and a note for the job's warning."""

    def __call__(self, model: LayoutModel, rows: np.ndarray, which: np.ndarray, cp: Checkpoint,
                 chunk: int) -> tuple[np.ndarray, str | None]: ...


def place_here(model: LayoutModel, rows: np.ndarray, which: np.ndarray, cp: Checkpoint,
               chunk: int) -> tuple[np.ndarray, str | None]:
    return place_rows(model, rows[which], cp, chunk), None


def wants_sample(rows: int, options: RunOptions) -> bool:
    return 0 < options.fit_sample_rows < rows


def draw_sample(rows: int, size: int, random_state: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices of the fitted rows and of the rows placed afterwards."""
    chosen = np.sort(np.random.default_rng(random_state).choice(rows, size=size, replace=False))
    placed = np.ones(rows, dtype=bool)
    placed[chosen] = False
    return chosen, np.flatnonzero(placed)


def fit_sample_then_place(data: np.ndarray, params: UMAPParams, cp: Checkpoint,
                          options: RunOptions, fit: Fit) -> UMAPOutput:
    rows, size = data.shape[0], options.fit_sample_rows
    chosen, rest = draw_sample(rows, size, params.random_state)
    fitted = fit(np.ascontiguousarray(data[chosen]), params, cp, options)
    a, b = curve_parameters(params.min_dist)
    model = LayoutModel(np.ascontiguousarray(data[chosen]), fitted.embedding, a, b, params.metric,
                        min(params.n_neighbors, size - 1), params.n_epochs, params.random_state)
    placer: Placer = options.placer or place_here
    placed, where = placer(model, data, rest, cp, TRANSFORM_CHUNK_ROWS)
    embedding = np.empty((rows, fitted.embedding.shape[1]), dtype=np.float32)
    embedding[chosen], embedding[rest] = fitted.embedding, placed
    note = (f"fitted on a random sample of {size} of the {rows} rows; the other {rows - size} "
            f"were placed into that layout{f' ({where})' if where else ''} "
            "(fit_sample_rows=0 fits every row)")
    return UMAPOutput(embedding, [*fitted.warnings, note], fitted.stage_seconds)
