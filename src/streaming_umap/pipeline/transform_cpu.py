"""Placing new rows into a fitted layout, on the CPU, from plain arrays we own.

A :class:`LayoutModel` is what a fitted UMAP layout is made of, without any library
object: the training rows, their embedding, the curve parameters ``a`` and ``b``, the
metric and the neighbour count. To place rows, their neighbours among the training
rows are found by an index built here (brute force for small training sets, an
NN-descent index above that), their fuzzy memberships computed, each starts at the
membership-weighted mean of its neighbours' positions, and a short optimisation moves
only the new points against the fixed layout: umap-learn's ``transform``, step for step
and through its own functions (``smooth_knn_dist``, ``compute_membership_strengths``,
``init_graph_transform``, ``optimize_layout_euclidean``), so placements agree with the
library's (checked by quality metrics in the tests, not bitwise).
"""

from __future__ import annotations

import logging
import math
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import Checkpoint
from .knn import numba_threads

log = logging.getLogger(__name__)

EXACT_TRAIN_ROWS = 4096  # brute force below this many training rows, as umap-learn's "small data"
TRANSFORM_SEED = 42  # umap-learn's transform_seed
DISCONNECTION = {"cosine": 2.0, "correlation": 2.0}  # umap-learn's DISCONNECTION_DISTANCES


@dataclass(frozen=True)
class LayoutModel:
    """A fitted layout as plain arrays and parameters."""

    train: np.ndarray  # float32, n x dims: the rows the layout was fitted on
    embedding: np.ndarray  # float32, n x n_components
    a: float
    b: float
    metric: str
    n_neighbors: int
    n_epochs: int | None = None  # of the fit (the transform runs a third of them)
    random_state: int | None = None

    @property
    def dims(self) -> int:
        return int(self.train.shape[1])


def _umap() -> Any:
    """umap-learn's module of fitting functions (its package warns at import that
    TensorFlow, which we do not use, is missing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from umap import layouts, umap_

    return umap_, layouts


def curve_parameters(min_dist: float, spread: float = 1.0) -> tuple[float, float]:
    """``a`` and ``b`` of the layout's low-dimensional similarity curve."""
    umap_, _ = _umap()
    a, b = umap_.find_ab_params(spread, min_dist)
    return float(a), float(b)


class NeighbourIndex:
    """The training rows, searchable: ``query(rows, k)`` -> (indices, distances)."""

    def __init__(self, train: np.ndarray, metric: str, n_neighbors: int,
                 random_state: int | None = None) -> None:
        self.train, self.metric = np.ascontiguousarray(train, dtype=np.float32), metric
        self.random_state = random_state
        self.exact = train.shape[0] <= EXACT_TRAIN_ROWS
        self._nnd: Any = None
        if not self.exact:
            from pynndescent import NNDescent

            from .nnd_cached import install

            install()

            rows = train.shape[0]
            self._nnd = NNDescent(self.train, n_neighbors=max(n_neighbors, 15), metric=metric,
                                  random_state=random_state,
                                  n_trees=min(64, 5 + round(rows**0.5 / 20.0)),
                                  n_iters=max(5, round(math.log2(rows))), max_candidates=60,
                                  low_memory=True, compressed=False, verbose=False,
                                  parallel_batch_queries=True)  # we query thousands of rows at once
            self._nnd.prepare()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled as a cache beside a kept model, whose train.npy holds the rows: they are
        left out (the loader sets ``train`` again); the NN-descent index keeps its own
        reordered copy."""
        state = dict(self.__dict__)
        state["train"] = None
        return state

    def query(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if self.exact:
            from sklearn.metrics import pairwise_distances

            k = min(k, self.train.shape[0])
            dist = pairwise_distances(rows, self.train, metric=self.metric).astype(np.float32)
            part = np.argpartition(dist, k - 1, axis=1)[:, :k]
            picked = np.take_along_axis(dist, part, axis=1)
            order = np.argsort(picked, axis=1, kind="stable")
            return np.take_along_axis(part, order, axis=1), np.take_along_axis(picked, order, axis=1)
        epsilon = 0.24 if self._nnd._angular_trees else 0.12
        # pynndescent's batch query shares one random stream among its threads (its tree
        # search draws from it on ties), so a seeded model's placement could change from
        # one call to the next (seen: 2 of 2,000 coordinates); with a seed it queries on
        # one thread, as umap-learn's own transform does, and answers the same each time
        with numba_threads(1) if self.random_state is not None else nullcontext():
            indices, distances = self._nnd.query(rows, k, epsilon=epsilon)
        return indices, distances.astype(np.float32)


def transform_epochs(model: LayoutModel, placed_rows: int) -> int:
    """umap-learn's: a third of the fit's epochs, else 100 for up to 10,000 rows placed in
    one call and 30 above. Chunks of a larger placement use the epochs of the whole: new
    rows move only against the fixed layout, so splitting them changes nothing else."""
    if model.n_epochs is not None:
        return max(1, model.n_epochs // 3)
    return 100 if placed_rows <= 10_000 else 30


def initial_positions(graph: Any, embedding: np.ndarray) -> np.ndarray:
    """umap-learn's ``init_graph_transform`` without its Python loop over rows: the
    membership-weighted mean of the neighbours' positions, or the position of the first
    neighbour (in stored order) whose membership is exactly 1; NaN for a row with none."""
    sums = np.asarray(graph.sum(axis=1)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (graph @ embedding) / sums[:, None]
    rows_of = np.repeat(np.arange(graph.shape[0]), np.diff(graph.indptr))
    ones = np.flatnonzero(graph.data == 1.0)
    if ones.size:
        first_rows, first = np.unique(rows_of[ones], return_index=True)
        out[first_rows] = embedding[graph.indices[ones[first]]]
    out[np.diff(graph.indptr) == 0] = np.nan
    return np.asarray(out, dtype=np.float32)


def place_block(model: LayoutModel, index: NeighbourIndex, rows: np.ndarray,
                epochs: int | None = None) -> np.ndarray:
    """Positions of ``rows`` in the model's layout (umap-learn's transform); ``epochs``
    (see :func:`transform_epochs`) defaults to what a call with just these rows gets."""
    import scipy.sparse

    umap_, layouts = _umap()

    k = min(model.n_neighbors, model.train.shape[0])
    indices, dists = index.query(rows, k)
    indices = indices.astype(np.int64, copy=True)
    indices[dists >= DISCONNECTION.get(model.metric, np.inf)] = -1
    sigmas, rhos = umap_.smooth_knn_dist(dists, float(k), local_connectivity=0.0)
    head, tail, vals, _ = umap_.compute_membership_strengths(indices, dists, sigmas, rhos, bipartite=True)
    graph = scipy.sparse.coo_matrix((vals, (head, tail)), shape=(rows.shape[0], model.train.shape[0]))
    csr = graph.tocsr()
    csr.eliminate_zeros()
    embedding = initial_positions(csr, model.embedding)
    n_epochs = epochs or transform_epochs(model, rows.shape[0])
    if graph.data.size:
        graph.data[graph.data < graph.data.max() / float(n_epochs)] = 0.0
        graph.eliminate_zeros()
    rng_state = np.random.RandomState(TRANSFORM_SEED).randint(-2**31 + 1, 2**31 - 1, 3).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = layouts.optimize_layout_euclidean(
            embedding, model.embedding.astype(np.float32, copy=True), graph.row, graph.col, n_epochs,
            graph.shape[1], umap_.make_epochs_per_sample(graph.data, n_epochs), model.a, model.b, rng_state,
            1.0, 1.0 / 4.0, 5, model.random_state is None, tqdm_kwds={"disable": True})
    return np.ascontiguousarray(out, dtype=np.float32)


def spans(rows: int, chunk: int) -> list[tuple[int, int]]:
    return [(start, min(rows, start + chunk)) for start in range(0, rows, chunk)]


def place_rows(model: LayoutModel, rows: np.ndarray, cp: Checkpoint, chunk: int,
               index: NeighbourIndex | None = None, stage: str = "transform") -> np.ndarray:
    """Place every row, ``chunk`` rows at a time: one progress step and one pause/cancel
    checkpoint per chunk (stage ``transform``, or ``place`` in a refit)."""
    parts = spans(rows.shape[0], chunk)
    cp.stage(stage, len(parts))
    index = index or NeighbourIndex(model.train, model.metric, model.n_neighbors, model.random_state)
    out = np.empty((rows.shape[0], model.embedding.shape[1]), dtype=np.float32)
    epochs = transform_epochs(model, rows.shape[0])
    for i, (start, stop) in enumerate(parts, start=1):
        out[start:stop] = place_block(model, index, rows[start:stop], epochs)
        cp.advance(i, processed_points=stop, current_chunk=i, total_chunks=len(parts))
    return out




# ---------------------------------------------------------------- kept models' indexes

_CACHE_SIZE = 2  # models whose index a worker keeps in memory
_indexes: dict[str, NeighbourIndex] = {}


def _index_file(folder: Path) -> Path:
    from importlib.metadata import version

    return folder / f"index-cpu-pynndescent{version('pynndescent')}-numba{version('numba')}.pkl"


def model_index(model: LayoutModel, folder: Path, cp: Checkpoint) -> NeighbourIndex:
    """The neighbour index of the kept model in ``folder`` (stage ``index``): from this
    worker's memory, else from the cache file beside the model (written by the first
    worker that built it, named by the library versions it needs), else built now.
    The cache is only a cache: a file that cannot be read is rebuilt and replaced."""
    import pickle

    cp.stage("index", 1)
    key = str(folder)
    index = _indexes.pop(key, None)
    if index is None and model.train.shape[0] > EXACT_TRAIN_ROWS:
        path = _index_file(folder)
        try:
            with open(path, "rb") as fh:
                index = pickle.load(fh)
            # the model's, not the pickle's: caches written before the index kept its seed
            index.train, index.random_state = model.train, model.random_state
        except FileNotFoundError:
            index = None
        except Exception:  # written by another version, or cut off: build it again
            log.warning("index cache %s unusable; rebuilding it", path, exc_info=True)
            index = None
        if index is None:
            index = NeighbourIndex(model.train, model.metric, model.n_neighbors, model.random_state)
            _save_index(index, path)
    elif index is None:
        index = NeighbourIndex(model.train, model.metric, model.n_neighbors, model.random_state)
    _indexes[key] = index
    while len(_indexes) > _CACHE_SIZE:
        _indexes.pop(next(iter(_indexes)))
    cp.advance(1)
    return index


def _save_index(index: NeighbourIndex, path: Path) -> None:
    import os
    import pickle

    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            pickle.dump(index, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except Exception:  # a cache that cannot be written (full disk, read-only): go on without
        log.warning("could not write the index cache %s", path, exc_info=True)
        tmp.unlink(missing_ok=True)


STAGED_PREFIX = "model-"  # a kept model's files in its job's folder, before the supervisor adopts them


def prebuild_index(model: LayoutModel, folder: Path, cp: Checkpoint) -> bool:
    """Build a new model's neighbour index as its fit ends (stage ``index``) and stage the
    cache file beside the model's other staged files, so that the first transform into it
    does not wait for the build (umap-learn builds its index inside its fit, too).
    Nothing to do at brute-force size; False if no file was written."""
    if model.train.shape[0] <= EXACT_TRAIN_ROWS:
        return False
    cp.stage("index", 1)
    index = NeighbourIndex(model.train, model.metric, model.n_neighbors, model.random_state)
    path = folder / (STAGED_PREFIX + _index_file(folder).name)
    _save_index(index, path)
    cp.advance(1)
    return path.exists()


def forget_index(folder: Path) -> None:
    _indexes.pop(str(folder), None)


def transform_model(model: LayoutModel, rows: np.ndarray, cp: Checkpoint, chunk: int,
                    folder: Path | None, stage: str = "transform") -> np.ndarray:
    """Place ``rows`` into a kept model (``folder``: where it is stored, for its cached
    index) or a model in memory (``folder`` None)."""
    index = model_index(model, folder, cp) if folder is not None else None
    return place_rows(model, rows, cp, chunk, index=index, stage=stage)
