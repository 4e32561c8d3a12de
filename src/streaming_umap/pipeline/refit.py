"""A stable refit: a new layout of a larger set that starts from a kept model's layout.

The data's first rows must be the model's training rows, in the same order: they start
at their fitted positions, the other rows where the model places them (stage
``place``), and the whole layout is then optimised as a normal fit would. UMAP
rescales its starting layout and moves every point, so the result is mapped back onto
the model's coordinates by the similarity transform (scale, rotation or reflection,
shift) that best fits the old rows to where they were: what a user saw stays where it
was drawn, up to how far the refit really moved it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInput
from .checkpoint import Checkpoint

COMPARE_ROWS = 65_536  # training rows compared per block (bounded memory on large models)


def check_prefix(model: Any, data: np.ndarray) -> None:
    rows, dims = model.train.shape
    if data.shape[1] != dims:
        raise InvalidInput(f"init_from: the model was fitted on rows of {dims} columns; these have "
                           f"{data.shape[1]}", field="init_from")
    if data.shape[0] < rows:
        raise InvalidInput(f"init_from: the model has {rows} training rows; the data must start with "
                           f"them and has only {data.shape[0]} rows", field="init_from")
    for start in range(0, rows, COMPARE_ROWS):
        stop = min(rows, start + COMPARE_ROWS)
        same = np.asarray(model.train[start:stop]) == data[start:stop]
        if not same.all():
            row = start + int(np.flatnonzero(~same.all(axis=1))[0])
            raise InvalidInput(
                f"init_from: row {row} differs from the model's training row {row}; the data "
                f"must start with the model's {rows} training rows in the same order", field="init_from",
                row=row)


def starting_layout(model: Any, data: np.ndarray, params: Any, cp: Checkpoint, backend: Any,
                    options: Any) -> tuple[np.ndarray, str]:
    """The refit's initial positions (float32 rows x n_components), and a note for the
    job's warning."""
    check_prefix(model, data)
    n_components = model.embedding.shape[1]
    if params.n_components != n_components:
        raise InvalidInput(f"init_from: the model's layout has {n_components} components; this "
                           f"refit asks for {params.n_components}", field="n_components")
    rows = model.train.shape[0]
    init = np.empty((data.shape[0], n_components), dtype=np.float32)
    init[:rows] = model.embedding
    if data.shape[0] > rows:
        placed = backend.transform(model, np.ascontiguousarray(data[rows:]), cp, options, stage="place")
        init[rows:] = placed.embedding
    if not np.isfinite(init).all():  # a row with no neighbour in the model: start near the centre
        bad = ~np.isfinite(init).all(axis=1)
        init[bad] = model.embedding.mean(axis=0)
    note = (f"refitted from model {model_id_of(options)}: its {rows} training rows started at their "
            f"old positions, the {data.shape[0] - rows} new rows where the model placed them")
    return init, note


def model_id_of(options: Any) -> str:
    from pathlib import Path

    return Path(options.model_dir).name if options.model_dir else "?"


def similarity(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale ``s``, orthogonal ``R`` and shift ``t`` minimising ``|s * source @ R + t - target|``
    (Umeyama's least-squares similarity transform, reflections allowed)."""
    src = source.astype(np.float64)
    dst = target.astype(np.float64)
    mu_s, mu_t = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_t
    u, sigma, vt = np.linalg.svd(a.T @ b)
    rotation = u @ vt
    norm = float((a * a).sum())
    scale = float(sigma.sum() / norm) if norm > 0 else 1.0
    shift = mu_t - scale * mu_s @ rotation
    return scale, rotation, shift


def align_to(embedding: np.ndarray, old: np.ndarray) -> np.ndarray:
    """``embedding`` moved by the similarity transform that puts its first ``len(old)``
    rows closest to ``old``."""
    rows = old.shape[0]
    scale, rotation, shift = similarity(embedding[:rows], old)
    return np.ascontiguousarray(scale * embedding.astype(np.float64) @ rotation + shift, dtype=np.float32)


def disparity(a: np.ndarray, b: np.ndarray) -> float:
    """Procrustes disparity of two layouts of the same rows (scipy's definition: 0 is the
    same shape up to a similarity transform, 1 unrelated)."""
    from scipy.spatial import procrustes

    return float(procrustes(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))[2])
