"""GPU memory a job needs, and whether the device can take it: pure Python.

Importable in the server process (no cupy, no cuml), so the route that accepts a job
and the supervisor that dispatches it can decide *before* a worker touches the GPU.

The model (bytes; n rows, d dims, k neighbours after clamping, c components,
q query rows per kNN call, see :func:`knn_batch_rows`)::

    umap, exact kNN (chunked brute force, n <= EXACT_KNN_MAX_ROWS or a metric
    NN-descent lacks):
        input        n*d*4            the rows on the device (cosine: the unit rows)
        knn chunk    min(q*n*4, 1 GiB) one query batch's distances (cuVS tiles the
                                      block, so it never holds all of q*n at once)
        knn result   n*k*12           int64 indices + float32 distances
        graph        n*k*96           fuzzy simplicial set COO (row, col, value),
                                      symmetrised (2nk edges), ~2 copies in flight,
                                      plus per-edge epoch bookkeeping of the layout
        embedding    n*c*8            embedding + update buffer
        workspace    256 MiB          cuBLAS/cuVS/Lanczos scratch
    umap, NN-descent (cuML's own kNN, larger n; the rows stay on the host):
        input        n*d*2 / b        NN-descent's half-precision copy of the rows;
                                      b = knn_n_clusters / knn_overlap_factor (1 unless
                                      batched; see :func:`nnd_clusters`)
        knn chunk    n*64*8 / b       NN-descent's graph (degree 64, index + distance)
        knn result, graph, embedding, workspace as above
    cluster:
        kmeans       n*d*4 + n*K*4 + K*d*8 + n*8 + 256 MiB
        dbscan       n*d*4 + n*16 + min(n*n, 1 GiB batch) + 256 MiB
        hdbscan      n*d*4 + n*m*12 + n*1024 + 256 MiB     (m = min_samples)

A UMAP job's peak is the larger of its two phases plus the workspace: the kNN phase
(input, knn chunk, knn result) and the layout phase (knn result, graph, embedding, and
the input where it stays on the device, i.e. on the exact path); see
:func:`peak_bytes`. Everything is multiplied by SAFETY (1.15). The CUDA context
itself (~0.5 GiB per worker process) is outside any job and is taken off the device's
total by :func:`device_budget`.

Calibration (worker's RMM peak on an H200, cuML 26.10, 512 dims, k=15;
``benchmarks/results/gpu-2026-11-26-h200``): UMAP by NN-descent peaked at 0.66 GiB
(300k rows) and 1.75 GiB (1M), which this model puts at 0.81 and 2.04 GiB; HDBSCAN on
a 2-d layout peaked at 0.40 GiB (100k) and 1.38 GiB (1M), modelled 0.41 and 1.52 GiB.
The exact path is over-estimated (100k x 512: 0.29 GiB peak with our batched kNN,
0.42 GiB with cuML's brute force inside fit; modelled 1.68 GiB), because the kNN
chunk term is an upper bound on cuVS's tiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

MiB = 1 << 20
GiB = 1 << 30

SAFETY = 1.15
WORKSPACE_BYTES = 256 * MiB
CONTEXT_BYTES = 512 * MiB  # per worker process, outside the RMM resource
DEVICE_RESERVE = 0.05  # of the total, never handed to jobs (driver, fragmentation)

# Exact (brute-force) kNN up to this many rows: brute force costs n^2*d, cuML's
# NN-descent about n*d*const, so the crossover is in rows alone. On an H200 with
# cuML 26.10 at 100k x 512 the whole UMAP took 0.59 s with cuML's brute force and
# 1.23 s with NN-descent; by the n^2 scaling they would cross near 200-250k rows, but
# only 100k and 1M were measured, so the threshold stays where it was set.
EXACT_KNN_MAX_ROWS = 150_000
NND_METRICS = ("euclidean", "cosine")
NND_GRAPH_BYTES_PER_ROW = 64 * 8
NND_INPUT_BYTES_PER_VALUE = 2  # NN-descent works on a half-precision copy of the rows
KNN_TILE_BYTES = GiB  # the most one kNN call's distance tiles are modelled to hold
HDBSCAN_BYTES_PER_ROW = 1024  # mutual reachability graph, spanning tree, condensed tree

# Query batches of our own exact kNN (metrics cuML's brute force inside fit is not used
# for; see backends/_gpu_umap.py). Fewer, larger calls are faster: 100k x 512 cosine on
# an H200 took 4.7 s in 100 calls of 1000 rows, 0.90 s in 10 of 10k and 0.71 s in one
# call in a process without an RMM pool (each call then pays its allocations), and 1.0 s
# against 0.91 s for 100 and 10 calls in a worker with one. So a job makes about
# KNN_CALLS calls of at least MIN_KNN_BATCH_ROWS rows, and no call does more than
# KNN_CALL_WORK multiply-adds (about 0.1 s), which keeps a cancel and the progress of a
# large exact job (a metric NN-descent lacks) prompt.
KNN_CALLS = 10
MIN_KNN_BATCH_ROWS = 10_000
KNN_CALL_WORK = 2 * 10**12

Verdict = Literal["run", "wait", "never"]


def clamp_neighbors(rows: int, n_neighbors: int) -> int:
    return max(1, min(int(n_neighbors), max(1, rows - 1)))


def uses_exact_knn(rows: int, metric: str) -> bool:
    """Chunked brute force (with per-chunk progress) or cuML's NN-descent."""
    return rows <= EXACT_KNN_MAX_ROWS or metric not in NND_METRICS


def gpu_exact_max_rows(metric: str) -> int:
    """The GPU backend's ``exact_knn_max_rows`` for the ETA model's plan (the CPU's
    setting, 4096 by default, does not describe the GPU)."""
    return EXACT_KNN_MAX_ROWS if metric in NND_METRICS else 1 << 62


def knn_batch_rows(rows: int, chunk_size: int, dims: int = 512, *, brute: bool = True) -> int:
    """Query rows per cuVS call: a whole number of ``chunk_size`` chunks, about
    ``rows / KNN_CALLS`` but at least MIN_KNN_BATCH_ROWS, and (brute force) at most
    KNN_CALL_WORK multiply-adds per call; the calls are evened out. Progress still
    counts ``chunk_size`` chunks."""
    chunk = max(1, int(chunk_size))
    rows = int(rows)
    if rows <= 0:
        return chunk
    want = max(math.ceil(rows / KNN_CALLS), MIN_KNN_BATCH_ROWS)
    cap = KNN_CALL_WORK // max(1, rows * max(1, int(dims))) if brute else want
    capped = cap < want
    batch = max(chunk, math.ceil(min(want, cap) / chunk) * chunk)
    # evened out: fewer, larger calls where the minimum batch set the size; more where the cap did
    calls = math.ceil(rows / batch) if capped else max(1, round(rows / batch))
    batch = math.ceil(math.ceil(rows / calls) / chunk) * chunk
    return min(rows, batch)


def nnd_clusters(rows: int, dims: int, k: int, n_components: int, budget_bytes: int | None) -> int:
    """``knn_n_clusters`` for cuML's batched NN-descent: 1 while the whole build fits in
    ``budget_bytes``, else the smallest of 4, 8, ..., 256 that fits (cuML keeps about
    ``knn_overlap_factor / knn_n_clusters`` of the rows on the device at once; the
    overlap factor is 2)."""
    if budget_bytes is None:
        return 1
    layout = _umap_terms(rows, dims, k, n_components, exact=False, batch=0)
    if (_phase(layout, LAYOUT_PHASE) + layout["workspace"]) * SAFETY > budget_bytes:
        return 1  # the layout alone does not fit: batching the kNN cannot help
    for clusters in (1, 4, 8, 16, 32, 64, 128, 256):
        share = 1.0 if clusters == 1 else 2.0 / clusters
        need = _umap_terms(rows, dims, k, n_components, exact=False, batch=0, share=share)
        if peak_bytes(need) * SAFETY <= budget_bytes:
            return clusters
    return 256


def _umap_terms(
    rows: int, dims: int, k: int, n_components: int, *, exact: bool, batch: int, share: float = 1.0
) -> dict[str, int]:
    n = rows
    if exact:
        knn = {"input": n * dims * 4, "knn chunk": min(batch * n * 4, KNN_TILE_BYTES)}
    else:
        knn = {"nn-descent input": int(n * dims * NND_INPUT_BYTES_PER_VALUE * share),
               "nn-descent graph": int(n * NND_GRAPH_BYTES_PER_ROW * share)}
    return {
        **knn,
        "knn result": n * k * 12,
        "graph": n * k * 96,
        "embedding": n * n_components * 8,
        "workspace": WORKSPACE_BYTES,
    }


KNN_PHASE = ("input", "knn chunk", "nn-descent input", "nn-descent graph", "knn result")
LAYOUT_PHASE = ("input", "knn result", "graph", "embedding")


def _phase(terms: dict[str, int], names: tuple[str, ...]) -> int:
    return sum(terms.get(name, 0) for name in names)


def describe_terms(terms: dict[str, int]) -> str:
    """The model's terms as a message gives them (with SAFETY): UMAP's grouped by phase,
    each phase with its total, since the peak is the larger phase, not the sum."""
    def part(names: tuple[str, ...]) -> str:
        return ", ".join(f"{n} {_gib(int(terms[n] * SAFETY))}" for n in names if n in terms)

    if "graph" not in terms:
        return part(tuple(terms))
    knn, layout = _phase(terms, KNN_PHASE), _phase(terms, LAYOUT_PHASE)
    return (f"kNN phase {_gib(int(knn * SAFETY))}: {part(KNN_PHASE)}; "
            f"layout phase {_gib(int(layout * SAFETY))}: {part(LAYOUT_PHASE)}; "
            f"plus workspace {_gib(int(terms['workspace'] * SAFETY))}")


def peak_bytes(terms: dict[str, int]) -> int:
    """A job's modelled peak (before SAFETY). UMAP: the larger of its kNN and layout
    phases, plus the workspace (the exact path's ``input`` stays on the device through
    both; NN-descent's own copy of the rows is freed with its graph). Clustering: the
    sum of the terms."""
    if "graph" not in terms:
        return sum(terms.values())
    return max(_phase(terms, KNN_PHASE), _phase(terms, LAYOUT_PHASE)) + terms["workspace"]


def estimate_terms(
    kind: str, rows: int, dims: int, params: dict[str, Any], budget_bytes: int | None = None
) -> dict[str, int]:
    """The model's terms (bytes, before SAFETY) for one job. With ``budget_bytes``, an
    NN-descent job that does not fit is costed as cuML's batched build."""
    rows, dims = int(rows), int(dims)
    if kind == "transform":
        return {}  # placement into a kept model runs on the worker's CPU cores
    if kind == "umap":
        k = clamp_neighbors(rows, int(params.get("n_neighbors") or 15))
        c = int(params.get("n_components") or 2)
        metric = str(params.get("metric") or "euclidean")
        if uses_exact_knn(rows, metric):
            batch = knn_batch_rows(rows, int(params.get("chunk_size") or 1000), dims)
            return _umap_terms(rows, dims, k, c, exact=True, batch=batch)
        clusters = nnd_clusters(rows, dims, k, c, budget_bytes)
        share = 1.0 if clusters == 1 else 2.0 / clusters
        return _umap_terms(rows, dims, k, c, exact=False, batch=0, share=share)
    if kind != "cluster":
        raise ValueError(f"kind must be 'umap', 'cluster' or 'transform', found {kind!r}")
    algorithm = str(params.get("algorithm") or "dbscan")
    data = rows * dims * 4
    if algorithm == "kmeans":
        clusters = int(params.get("n_clusters") or 8)
        return {"input": data, "distances": rows * clusters * 4,
                "centers": clusters * dims * 8, "labels": rows * 8,
                "workspace": WORKSPACE_BYTES}
    if algorithm == "dbscan":
        return {"input": data, "labels": rows * 16, "adjacency": min(rows * rows, GiB),
                "workspace": WORKSPACE_BYTES}
    m = int(params.get("min_samples") or 5)
    return {"input": data, "knn": rows * m * 12, "tree": rows * HDBSCAN_BYTES_PER_ROW,
            "workspace": WORKSPACE_BYTES}


def estimate_job_bytes(
    kind: str, rows: int, dims: int, params: dict[str, Any], budget_bytes: int | None = None
) -> int:
    """Bytes of GPU memory (RMM allocations) a job of this shape needs at its peak."""
    return int(peak_bytes(estimate_terms(kind, rows, dims, params, budget_bytes)) * SAFETY)


def device_budget(total_bytes: int, worker_processes: int) -> int:
    """Bytes jobs may use together on a device shared by this many worker processes."""
    usable = int(total_bytes * (1.0 - DEVICE_RESERVE)) - worker_processes * CONTEXT_BYTES
    return max(0, usable)


@dataclass(frozen=True)
class Admission:
    verdict: Verdict
    message: str
    estimate: int
    limit: int
    available: int
    terms: dict[str, int] = field(default_factory=dict)


def _gib(value: int) -> str:
    return f"{value / GiB:.2f} GiB"


def admit(
    estimate: int,
    total_bytes: int,
    free_bytes: int,
    *,
    pool_bytes: int | None = None,
    terms: dict[str, int] | None = None,
) -> Admission:
    """Decide whether a job of ``estimate`` bytes runs now, waits, or can never run.

    ``total_bytes``: what jobs may use together when nothing else runs (see
    :func:`device_budget`); ``free_bytes``: what is left of it now (total minus the
    estimates of the jobs running). ``pool_bytes``: a fixed per-worker RMM pool
    (GPU_UMAP_RMM_POOL_SIZE), which caps any one job. The message gives the numbers.
    """
    limit = total_bytes if pool_bytes is None else min(total_bytes, pool_bytes)
    detail = f" ({describe_terms(terms)})" if terms else ""
    if estimate > limit:
        where = ("the per-worker RMM pool (GPU_UMAP_RMM_POOL_SIZE)" if pool_bytes is not None
                 and pool_bytes < total_bytes else "the GPU memory jobs can use")
        layout_bound = terms is not None and "graph" in terms and (
            _phase(terms, LAYOUT_PHASE) >= _phase(terms, KNN_PHASE))
        advice = ("send fewer rows or fewer neighbours (the layout's graph grows with both)"
                  if layout_bound else "send fewer rows or columns (or fewer neighbours)")
        return Admission("never", (
            f"the job needs about {_gib(estimate)} of GPU memory{detail}, but {where} is "
            f"{_gib(limit)}; {advice}"),
            estimate, limit, free_bytes, dict(terms or {}))
    if estimate > free_bytes:
        return Admission("wait", (
            f"the job needs about {_gib(estimate)} of GPU memory{detail}; {_gib(free_bytes)} of "
            f"{_gib(limit)} is free while other jobs run, so it waits in the queue"),
            estimate, limit, free_bytes, dict(terms or {}))
    return Admission("run", (
        f"the job needs about {_gib(estimate)} of GPU memory{detail}; {_gib(free_bytes)} is free"),
        estimate, limit, free_bytes, dict(terms or {}))


def admit_job(
    kind: str,
    rows: int,
    dims: int,
    params: dict[str, Any],
    gpu_info: dict[str, Any],
    *,
    worker_processes: int,
    running_estimates: int = 0,
) -> Admission:
    """:func:`admit` for a job, from a worker's ``describe()["gpu"]``.

    ``running_estimates``: the sum of :func:`estimate_job_bytes` of the jobs running now.
    """
    total = device_budget(int(gpu_info.get("total_memory") or 0), worker_processes)
    pool = gpu_info.get("rmm_pool_limit")
    pool_bytes = int(pool) if pool else None
    limit = total if pool_bytes is None else min(total, pool_bytes)
    terms = estimate_terms(kind, rows, dims, params, budget_bytes=limit)
    estimate = int(peak_bytes(terms) * SAFETY)
    return admit(estimate, total, max(0, total - running_estimates),
                 pool_bytes=pool_bytes, terms=terms)
