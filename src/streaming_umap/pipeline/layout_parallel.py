"""A seeded UMAP layout that uses every core and gives the same result on any number.

With ``random_state`` set, umap-learn runs its layout on one thread (lmcinnes/umap#1080:
its parallel layout updates rows from several threads at once, so the result depends on
timing), and that layout is most of a seeded job's time. This module is the layout we run
instead for seeded fits, on all the threads the job is given. Fits without a seed keep
umap-learn's parallel layout, which needs no snapshot and no delivery of moves across
blocks and was quicker on 2 cores at every size measured (``umap_cpu.unseeded_by_blocks``,
which also names the setting that lays them out here instead).

The scheme (block-Jacobi across blocks, Gauss-Seidel inside each):

* umap-learn's graph is symmetric and its edges come sorted by head row. The edges are cut
  into a fixed number of blocks of consecutive head rows (the count depends on the edge
  count only, never on the threads), so each row belongs to exactly one block.
* Each epoch, every block runs umap-learn's own update rule over its edges, in order, and
  writes only to its own rows. Rows of other blocks are read from a snapshot of the layout
  taken when the epoch began; its own rows it reads as they are now. Blocks run in
  parallel and touch nothing another block writes.
* Both ends of a sampled edge move, as in umap-learn (``move_other``): the head at once,
  the tail at once too if its row is the block's own. Otherwise the tail's move is kept
  in the slot of the reverse edge, and when the epoch ends the block that owns the tail
  row applies it (the graph holds every edge in both directions, so that block finds it
  at its own edge, in its own edges' order). An earlier version moved only the head, by
  twice the step: it broke 1-D structures into pieces (the migration guide's looped
  blobs: 6-7 HDBSCAN clusters against umap-learn's 3) and lost 0.03 of HDBSCAN's ARI on
  digits; run on one block, the same rule lost 0.13, so the head-only move was the cause,
  not the reads an epoch old.
* Negative samples come from umap-learn's per-row random streams (seeded as umap-learn
  seeds them), used only by the block that owns the row.

So the result for a seed depends on the data and the seed, not on the thread count or the
timing. On one block it is umap-learn's sequential result bit for bit (a test holds it);
on more it is not (reads across blocks are one epoch old, and so are tail moves across
blocks), and tests hold trustworthiness and cluster agreement to umap-learn's, and
thread-count independence exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numba
import numpy as np

from .knn import numba_threads

MAX_BLOCKS = 256  # enough to balance 64+ threads; a function of the edges only
MIN_EDGES_PER_BLOCK = 512


def block_count(n_edges: int) -> int:
    return int(max(1, min(MAX_BLOCKS, n_edges // MIN_EDGES_PER_BLOCK)))


def head_blocks(head: np.ndarray, n_vertices: int, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Edge offsets (blocks + 1) and first rows (blocks + 1) of ``blocks`` blocks of
    consecutive head rows with about as many edges each. ``head`` must be sorted."""
    n_edges = head.shape[0]
    targets = (np.arange(1, blocks) * n_edges) // blocks
    # cut at row boundaries: a block's edges are those whose head is in [lo, hi)
    cut_rows = head[targets] if n_edges else np.zeros(0, dtype=head.dtype)
    rows = np.unique(np.concatenate([[0], cut_rows.astype(np.int64), [n_vertices]]))
    edges = np.searchsorted(head, rows, side="left").astype(np.int64)
    return edges, rows.astype(np.int64)


@numba.njit(fastmath=True, cache=True)
def _clip(val: float) -> float:
    if val > 4.0:
        return 4.0
    if val < -4.0:
        return -4.0
    return val


# umap.layouts.rdist and umap.utils.tau_rand_int with their signatures: a float32 sum and
# an int32 draw (the draw's sign changes which row ``% n_vertices`` picks). With them, one
# block is umap-learn's sequential layout bit for bit; without, the negative samples were
# other rows (an int64 draw) and the layout was umap-learn's only in distribution.
@numba.njit("f4(f4[::1],f4[::1])", fastmath=True, cache=True,
            locals={"result": numba.types.float32, "diff": numba.types.float32})
def _rdist(x: np.ndarray, y: np.ndarray) -> float:
    result = 0.0
    for d in range(x.shape[0]):
        diff = x[d] - y[d]
        result += diff * diff
    return result


@numba.njit("i4(i8[:])", cache=True)
def _tau_rand_int(state: np.ndarray) -> Any:
    state[0] = (((state[0] & 4294967294) << 12) & 0xFFFFFFFF) ^ (
        (((state[0] << 13) & 0xFFFFFFFF) ^ state[0]) >> 19
    )
    state[1] = (((state[1] & 4294967288) << 4) & 0xFFFFFFFF) ^ (
        (((state[1] << 2) & 0xFFFFFFFF) ^ state[1]) >> 25
    )
    state[2] = (((state[2] & 4294967280) << 17) & 0xFFFFFFFF) ^ (
        (((state[2] << 3) & 0xFFFFFFFF) ^ state[2]) >> 11
    )
    return state[0] ^ state[1] ^ state[2]


# One edge's moves, as umap-learn's epoch makes them. Each takes the other row as an array
# of its own: choosing it inside the kernel (``embedding[k] if own else snapshot[k]``) cost
# about 30 % of the epoch (7.8-8.2 s against 5.8-7.2 s for 20 epochs at 2.17M edges, one
# thread, same results bit for bit), and made this kernel slower than umap-learn's.
@numba.njit(fastmath=True, inline="always", cache=True)
def _attraction(current: np.ndarray, other: np.ndarray, a: float, b: float) -> float:
    """The attraction's gradient coefficient along an edge (0 for rows in one place)."""
    dist_squared = _rdist(current, other)
    if dist_squared > 0.0:
        grad_coeff = -2.0 * a * b * pow(dist_squared, b - 1.0)
        grad_coeff /= a * pow(dist_squared, b) + 1.0
        return grad_coeff
    return 0.0


@numba.njit(fastmath=True, inline="always", cache=True)
def _pull(current: np.ndarray, other: np.ndarray, a: float, b: float, alpha: float) -> None:
    """An edge's attraction; its tail is the block's own row and moves too."""
    grad_coeff = _attraction(current, other, a, b)
    for d in range(current.shape[0]):
        grad_d = _clip(grad_coeff * (current[d] - other[d])) * alpha
        current[d] += grad_d
        other[d] -= grad_d


@numba.njit(fastmath=True, inline="always", cache=True)
def _pull_across(current: np.ndarray, other: np.ndarray, pending: np.ndarray, r: int,
                 a: float, b: float, alpha: float) -> None:
    """An edge's attraction to another block's row (read from the snapshot): that row's move
    waits in the reverse edge's slot ``r``; without a reverse edge the head takes both."""
    grad_coeff = _attraction(current, other, a, b)
    for d in range(current.shape[0]):
        grad_d = _clip(grad_coeff * (current[d] - other[d])) * alpha
        current[d] += grad_d
        if r >= 0:
            pending[r, d] = -grad_d
        else:
            current[d] += grad_d


@numba.njit(fastmath=True, inline="always", cache=True)
def _push(current: np.ndarray, other: np.ndarray, a: float, b: float, gamma: float,
          alpha: float) -> None:
    """A negative sample's repulsion; only the head moves."""
    dist_squared = _rdist(current, other)
    if dist_squared > 0.0:
        grad_coeff = 2.0 * gamma * b
        grad_coeff /= (0.001 + dist_squared) * (a * pow(dist_squared, b) + 1)
        for d in range(current.shape[0]):
            current[d] += _clip(grad_coeff * (current[d] - other[d])) * alpha


@numba.njit(fastmath=True, parallel=True, cache=True)
def _epoch(
    embedding: np.ndarray,
    snapshot: np.ndarray,
    head: np.ndarray,
    tail: np.ndarray,
    rev: np.ndarray,
    pending: np.ndarray,
    block_edges: np.ndarray,
    block_rows: np.ndarray,
    n_vertices: int,
    epochs_per_sample: np.ndarray,
    a: float,
    b: float,
    rng_state_per_sample: np.ndarray,
    gamma: float,
    alpha: float,
    epochs_per_negative_sample: np.ndarray,
    epoch_of_next_negative_sample: np.ndarray,
    epoch_of_next_sample: np.ndarray,
    n: int,
) -> None:
    blocks = block_edges.shape[0] - 1
    for blk in numba.prange(blocks):
        lo = block_rows[blk]
        hi = block_rows[blk + 1]
        for i in range(block_edges[blk], block_edges[blk + 1]):
            if epoch_of_next_sample[i] > n:
                continue
            j = head[i]
            k = tail[i]
            current = embedding[j]
            if lo <= k < hi:  # the tail is this block's too: it moves now, as in umap-learn
                _pull(current, embedding[k], a, b, alpha)
            else:  # its block moves it when the epoch ends
                _pull_across(current, snapshot[k], pending, rev[i], a, b, alpha)
            epoch_of_next_sample[i] += epochs_per_sample[i]

            n_neg_samples = int(
                (n - epoch_of_next_negative_sample[i]) / epochs_per_negative_sample[i]
            )
            state = rng_state_per_sample[j]
            for _ in range(n_neg_samples):
                k = _tau_rand_int(state) % n_vertices
                if lo <= k < hi:  # k == j included: a zero distance, which moves nothing
                    _push(current, embedding[k], a, b, gamma, alpha)
                else:
                    _push(current, snapshot[k], a, b, gamma, alpha)
            epoch_of_next_negative_sample[i] += n_neg_samples * epochs_per_negative_sample[i]


@numba.njit(fastmath=True, parallel=True, cache=True)
def _deliver(embedding: np.ndarray, pending: np.ndarray, head: np.ndarray, rev: np.ndarray,
             block_edges: np.ndarray) -> None:
    """Each block moves its own rows by what other blocks' edges left for them this epoch:
    the head j of edge i takes the tail move of its reverse edge (k, j), in edge order.

    That move was written to slot i (the reverse edge's ``rev``), so this pass reads
    ``pending`` in order; reading it at ``rev[i]`` instead made the pass a random walk over
    the whole array, 0.62 s against 0.13 s per 20 epochs at 2.17M edges. Slots no edge
    wrote hold 0, and slots of edges without a reverse are never written."""
    dim = embedding.shape[1]
    for blk in numba.prange(block_edges.shape[0] - 1):
        for i in range(block_edges[blk], block_edges[blk + 1]):
            row = embedding[head[i]]
            for d in range(dim):
                row[d] += pending[i, d]
                pending[i, d] = 0.0


@numba.njit(cache=True)
def _reverse_in_rows(head: np.ndarray, tail: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """For edges sorted by (head, tail), each edge's reverse: (k, j) is searched among row
    k's own edges (``starts[k]:starts[k + 1]``), the first match, or -1."""
    rev = np.full(head.shape[0], -1, dtype=np.int64)
    for i in range(head.shape[0]):
        j = head[i]
        lo = starts[tail[i]]
        end = starts[tail[i] + 1]
        hi = end
        while lo < hi:
            mid = (lo + hi) // 2
            if tail[mid] < j:
                lo = mid + 1
            else:
                hi = mid
        if lo < end and tail[lo] == j:
            rev[i] = lo
    return rev


def reverse_edges(head: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """For each edge (j, k), the index of (k, j), or -1 where the graph lacks it.

    A CSR graph's edges come sorted by (head, tail), and then no sort is needed: each
    reverse is searched among its row's few edges (0.24 s at 2.17M edges, against 1.6 s
    for a search of the whole key array and 1 s more for the sort it needed)."""
    if head.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    width = int(max(head.max(), tail.max())) + 1
    keys = head.astype(np.int64) * width + tail
    order = None if np.all(keys[1:] >= keys[:-1]) else np.argsort(keys, kind="stable")
    h, t = (head, tail) if order is None else (head[order], tail[order])
    h = np.ascontiguousarray(h, dtype=np.int64)
    t = np.ascontiguousarray(t, dtype=np.int64)
    starts = np.searchsorted(h, np.arange(width + 1))
    rev = _reverse_in_rows(h, t, starts)
    if order is None:
        return rev
    out = np.empty_like(rev)  # back to the caller's order, as indices in it
    out[order] = np.where(rev >= 0, order[np.maximum(rev, 0)], -1)
    return out


def optimize_layout_blocks(
    head_embedding: np.ndarray,
    head: np.ndarray,
    tail: np.ndarray,
    n_epochs: int,
    n_vertices: int,
    epochs_per_sample: np.ndarray,
    a: float,
    b: float,
    rng_state: np.ndarray,
    gamma: float = 1.0,
    initial_alpha: float = 1.0,
    negative_sample_rate: float = 5.0,
    tqdm_kwds: dict[str, Any] | None = None,
) -> np.ndarray:
    """umap-learn's ``optimize_layout_euclidean`` for a fit (head and tail embeddings the
    same array), by blocks in parallel; updates ``head_embedding`` in place."""
    from umap import layouts  # its tqdm name is where epoch_checkpoints listens

    if head.shape[0] > 1 and np.any(head[1:] < head[:-1]):
        order = np.argsort(head, kind="stable")
        head, tail, epochs_per_sample = head[order], tail[order], epochs_per_sample[order]
    head = np.ascontiguousarray(head, dtype=np.int32)
    tail = np.ascontiguousarray(tail, dtype=np.int32)
    epochs_per_sample = np.ascontiguousarray(epochs_per_sample, dtype=np.float64)
    block_edges, block_rows = head_blocks(head, n_vertices, block_count(head.shape[0]))
    rev = reverse_edges(head, tail)
    # the tail move of each edge whose tail is another block's row, kept at its reverse
    # edge (the tail's block's own edge) until the epoch ends
    pending = np.zeros((head.shape[0], head_embedding.shape[1]), dtype=head_embedding.dtype)

    epochs_per_negative_sample = epochs_per_sample / negative_sample_rate
    epoch_of_next_negative_sample = epochs_per_negative_sample.copy()
    epoch_of_next_sample = epochs_per_sample.copy()
    # umap-learn's per-row streams, seeded as it seeds them
    rng_state_per_sample = np.full(
        (head_embedding.shape[0], len(rng_state)), rng_state, dtype=np.int64
    ) + head_embedding[:, 0].astype(np.float64).view(np.int64).reshape(-1, 1)
    snapshot = np.empty_like(head_embedding)
    kwds = dict(tqdm_kwds or {})
    kwds.setdefault("disable", True)
    alpha = initial_alpha
    for n in layouts.tqdm(range(n_epochs), **kwds):
        np.copyto(snapshot, head_embedding)
        _epoch(head_embedding, snapshot, head, tail, rev, pending, block_edges, block_rows,
               n_vertices, epochs_per_sample, a, b, rng_state_per_sample, gamma, alpha,
               epochs_per_negative_sample, epoch_of_next_negative_sample,
               epoch_of_next_sample, n)
        _deliver(head_embedding, pending, head, rev, block_edges)
        alpha = initial_alpha * (1.0 - (float(n) / float(n_epochs)))
    return head_embedding


@contextmanager
def layout_by_blocks(unseeded: bool = False) -> Iterator[None]:
    """While a fit runs inside, umap-learn's seeded layout (the one it runs on one thread)
    is :func:`optimize_layout_blocks`, and with ``unseeded`` its parallel layout (a fit
    without a seed) too; every other call (a transform, densMAP) goes to umap-learn's own."""
    from umap import umap_

    original = umap_.optimize_layout_euclidean
    # umap-learn's fit sets numba to one thread when it has a seed (n_jobs=1, restored at
    # its end); ours lays out on the threads the job had when the fit began
    threads = numba.get_num_threads()

    def routed(head_embedding: np.ndarray, tail_embedding: np.ndarray, head: np.ndarray,
               tail: np.ndarray, n_epochs: Any, n_vertices: int, epochs_per_sample: np.ndarray,
               a: float, b: float, rng_state: np.ndarray, gamma: float = 1.0,
               initial_alpha: float = 1.0, negative_sample_rate: float = 5.0,
               parallel: bool = False, verbose: bool = False, densmap: bool = False,
               densmap_kwds: Any = None, tqdm_kwds: Any = None,
               move_other: bool = False) -> Any:
        ours = ((unseeded or not parallel) and move_other and not densmap and isinstance(n_epochs, int)
                and head_embedding is tail_embedding and head_embedding.dtype == np.float32
                and head_embedding.flags.c_contiguous)
        if not ours:
            return original(head_embedding, tail_embedding, head, tail, n_epochs, n_vertices,
                            epochs_per_sample, a, b, rng_state, gamma, initial_alpha,
                            negative_sample_rate, parallel=parallel, verbose=verbose,
                            densmap=densmap, densmap_kwds=densmap_kwds, tqdm_kwds=tqdm_kwds,
                            move_other=move_other)
        with numba_threads(threads):
            return optimize_layout_blocks(head_embedding, head, tail, n_epochs, n_vertices,
                                          epochs_per_sample, a, b, rng_state, gamma,
                                          initial_alpha, negative_sample_rate, tqdm_kwds)

    umap_.optimize_layout_euclidean = routed
    try:
        yield
    finally:
        umap_.optimize_layout_euclidean = original
