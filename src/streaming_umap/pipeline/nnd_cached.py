"""NN-descent that numba caches on disk, so a process compiles it once per machine.

pynndescent's ``nn_descent`` cannot be cached: it calls ``numba.get_num_threads()`` in
compiled code, which embeds a pointer into the running process ("dynamic globals"), so
every new process compiled it again: about 45 s on 2 cores, most of a worker's warm-up
and of a start with a full cache. This module is pynndescent 0.7's ``nn_descent`` and
``nn_descent_internal`` (BSD-2-Clause, Leland McInnes) with the thread count passed in as
an argument, behind one cached entry point per distance our metrics use; everything they
call is pynndescent's own compiled code. The results are those of pynndescent's function
for the same inputs, thread count and random state (tested bit for bit).

``install()`` routes ``pynndescent.pynndescent_.nn_descent`` (what ``NNDescent`` calls)
here for those distances; other distances, and pynndescent versions whose internals we
have not checked, keep pynndescent's own function.
"""

from __future__ import annotations

import logging
from typing import Any

import numba
import numpy as np
import pynndescent.distances as D
import pynndescent.pynndescent_ as P
from pynndescent.utils import build_candidates_owner, deheap_sort, make_heap

log = logging.getLogger(__name__)

CHECKED_VERSIONS = ("0.7.",)  # pynndescent releases whose nn_descent this copies


@numba.njit()
def _descend(current_graph, data, n_neighbors, rng_state, max_candidates, dist, n_iters, delta,  # type: ignore[no-untyped-def]
             kernel, n_threads):
    n_vertices = data.shape[0]
    block_size = 16384
    n_blocks = n_vertices // block_size
    max_updates_per_thread = (
        int((max_candidates**2 + max_candidates * (max_candidates - 1) / 2) * block_size / n_threads)
        + 1024)
    update_array = np.empty((n_threads, max_updates_per_thread, 3), dtype=np.float32)
    n_updates_per_thread = np.zeros(n_threads, dtype=np.int32)
    if n_threads > 1:
        sorted_updates = np.empty((n_threads, 2 * max_updates_per_thread, 3), dtype=np.float32)
    else:
        sorted_updates = np.empty((1, 1, 3), dtype=np.float32)
    block_offsets = np.zeros((n_threads, n_threads + 1), dtype=np.int64)
    new_candidate_indices = np.full((n_vertices, max_candidates), -1, dtype=np.int32)
    new_candidate_priority = np.full((n_vertices, max_candidates), np.inf, dtype=np.float32)
    old_candidate_indices = np.full((n_vertices, max_candidates), -1, dtype=np.int32)
    old_candidate_priority = np.full((n_vertices, max_candidates), np.inf, dtype=np.float32)
    active = np.ones(n_vertices, dtype=np.uint8)
    reverse_dst = np.empty(n_vertices * n_neighbors, dtype=np.int32)
    reverse_src = np.empty(n_vertices * n_neighbors, dtype=np.int32)
    bucket_bounds = np.zeros((n_threads, n_threads + 1), dtype=np.int64)
    for n in range(n_iters):
        new_candidate_neighbors, old_candidate_neighbors = build_candidates_owner(
            current_graph, max_candidates, rng_state, n_threads, new_candidate_indices,
            new_candidate_priority, old_candidate_indices, old_candidate_priority, active,
            reverse_dst, reverse_src, bucket_bounds)
        c = P.process_candidates(
            data, dist, current_graph, new_candidate_neighbors, old_candidate_neighbors, n_blocks,
            block_size, n_threads, update_array, n_updates_per_thread, sorted_updates, block_offsets,
            kernel)
        if c <= delta * n_neighbors * data.shape[0]:
            return


@numba.njit()
def _nn_descent(data, n_neighbors, rng_state, max_candidates, dist, n_iters, delta, init_graph,
                rp_tree_init, leaf_array, kernel, n_threads):  # type: ignore[no-untyped-def]
    if init_graph[0].shape[0] == 1:
        current_graph = make_heap(data.shape[0], n_neighbors)
        if rp_tree_init:
            P.init_rp_tree(data, dist, current_graph, leaf_array, n_threads)
        P.init_random(n_neighbors, data, current_graph, dist, rng_state)
    else:
        current_graph = init_graph
    _descend(current_graph, data, n_neighbors, rng_state, max_candidates, dist, n_iters, delta,
             kernel, n_threads)
    return deheap_sort(current_graph[0], current_graph[1])


@numba.njit(cache=True)
def nnd_squared_euclidean(data, n_neighbors, rng_state, max_candidates, n_iters, delta, init_graph,  # type: ignore[no-untyped-def]
               rp_tree_init, leaf_array, kernel, n_threads):
    return _nn_descent(data, n_neighbors, rng_state, max_candidates, D.squared_euclidean, n_iters, delta,
                       init_graph, rp_tree_init, leaf_array, kernel, n_threads)


@numba.njit(cache=True)
def nnd_alternative_cosine(data, n_neighbors, rng_state, max_candidates, n_iters, delta, init_graph,  # type: ignore[no-untyped-def]
               rp_tree_init, leaf_array, kernel, n_threads):
    return _nn_descent(data, n_neighbors, rng_state, max_candidates, D.alternative_cosine, n_iters, delta,
                       init_graph, rp_tree_init, leaf_array, kernel, n_threads)


@numba.njit(cache=True)
def nnd_alternative_dot(data, n_neighbors, rng_state, max_candidates, n_iters, delta, init_graph,  # type: ignore[no-untyped-def]
               rp_tree_init, leaf_array, kernel, n_threads):
    return _nn_descent(data, n_neighbors, rng_state, max_candidates, D.alternative_dot, n_iters, delta,
                       init_graph, rp_tree_init, leaf_array, kernel, n_threads)


# One top-level function per distance (numba keys its cache by function, so a factory's
# closures would share one entry): the distance is a global of each, compiled into it.
ENTRIES: dict[Any, Any] = {D.squared_euclidean: nnd_squared_euclidean,
                           D.alternative_cosine: nnd_alternative_cosine,
                           D.alternative_dot: nnd_alternative_dot}

_original: Any = None


def nn_descent(data: Any, n_neighbors: int, rng_state: Any, max_candidates: int = 50,
               dist: Any = D.euclidean, n_iters: int = 10, delta: float = 0.001,
               init_graph: Any = P.EMPTY_GRAPH, rp_tree_init: bool = True, leaf_array: Any = None,
               low_memory: bool = True, verbose: bool = False, kernel: int = 0) -> Any:
    """``pynndescent.pynndescent_.nn_descent``'s signature; a cached entry point for the
    distances in ENTRIES (``low_memory`` is unused there too), pynndescent's otherwise."""
    entry = ENTRIES.get(dist)
    if entry is None or verbose or init_graph[0].shape[0] not in (1, data.shape[0]):
        return _original(data, n_neighbors, rng_state, max_candidates, dist, n_iters, delta,
                         init_graph, rp_tree_init, leaf_array, low_memory, verbose, kernel)
    if leaf_array is None:
        leaf_array = np.array([[-1]], dtype=np.int32)
    return entry(data, n_neighbors, rng_state, max_candidates, n_iters, delta, init_graph,
                 rp_tree_init, leaf_array, kernel, numba.get_num_threads())


def install() -> bool:
    """Route NNDescent's NN-descent through the cached entry points (once); False, and
    pynndescent's own function kept, for a version whose internals this does not copy."""
    global _original
    if _original is not None:
        return True
    import pynndescent

    version = getattr(pynndescent, "__version__", "")
    if not version.startswith(CHECKED_VERSIONS):
        log.info("pynndescent %s: NN-descent compiles in each process (checked: %s)",
                 version, ", ".join(CHECKED_VERSIONS))
        return False
    _original = P.nn_descent
    P.nn_descent = nn_descent
    return True
