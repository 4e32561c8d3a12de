"""The bare-library baseline, run in its own long-lived process.

``python -m streaming_umap.bench._baseline LIBRARY`` reads one JSON request per line on
stdin and answers one JSON line on stdout:

* ``{"op": "warm", "metrics": [...], "sizes": [...], "dims": D}``: fit small data once
  per metric and size (sizes on both sides of umap-learn's exact-kNN limit of 4096
  rows compile both kNN paths), so that numba's compilation is paid before timing:
  the "warm process" the service is compared with.
* ``{"op": "fit", "path": IN.npy, "out": OUT.npy, "params": {...}}``: time
  ``UMAP(**params).fit_transform`` on the array (and, for umap-learn, its stages:
  kNN, graph, init, layout epochs), save the embedding.
* ``{"op": "quit"}``.

LIBRARY is ``umap-learn`` (CPU) or ``cuml`` (bare ``cuml.UMAP`` on a GPU). Nothing but
answers goes to stdout: libraries that print are sent to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import numpy as np


def _umap_class(library: str) -> Any:
    if library == "cuml":
        from cuml.manifold import UMAP

        return UMAP
    if library == "umap-learn":
        # As in the service's workers: numba keeps what it compiles in NUMBA_CACHE_DIR,
        # so warming takes seconds instead of a minute. The compiled code is the same.
        from streaming_umap.backends.cpu import enable_numba_cache

        enable_numba_cache()
        import umap

        return umap.UMAP
    raise ValueError(f"library must be umap-learn or cuml, found {library!r}")


# umap-learn's stages, by the module-level functions ``UMAP.fit`` calls: stage name
# -> function in ``umap.umap_``. Times are exclusive (a nested timed call is not
# counted twice), so the stages add up to at most the whole fit.
UMAP_LEARN_STAGES = {
    "knn": "nearest_neighbors",
    "graph": "fuzzy_simplicial_set",
    "init": "simplicial_set_embedding",  # spectral init etc.: all but the epochs
    "layout": "optimize_layout_euclidean",
}


@contextmanager
def stage_timer(library: str) -> Iterator[dict[str, float]]:
    """Seconds per stage of the fits inside the block (umap-learn only). The timed
    functions are wrapped, not changed: the same code runs."""
    seconds: dict[str, float] = {}
    if library != "umap-learn":
        yield seconds
        return
    import umap.umap_ as module

    nested: list[float] = []  # time spent in timed calls below the current one
    originals = {name: getattr(module, name) for name in UMAP_LEARN_STAGES.values()}

    def timed(stage: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nested.append(0.0)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                total = time.perf_counter() - started
                inner = nested.pop()
                seconds[stage] = seconds.get(stage, 0.0) + total - inner
                if nested:
                    nested[-1] += total

        return wrapper

    for stage, name in UMAP_LEARN_STAGES.items():
        setattr(module, name, timed(stage, originals[name]))
    try:
        yield seconds
    finally:
        for name, function in originals.items():
            setattr(module, name, function)


def _fit(library: str, data: np.ndarray, params: dict[str, Any]) -> tuple[np.ndarray, float]:
    embedding, seconds, _ = fit_with_stages(library, data, params)
    return embedding, seconds


def fit_with_stages(
    library: str, data: np.ndarray, params: dict[str, Any]
) -> tuple[np.ndarray, float, dict[str, float]]:
    cls = _umap_class(library)
    started = time.perf_counter()
    with warnings.catch_warnings(), stage_timer(library) as stages:
        warnings.simplefilter("ignore")
        embedding = cls(**params).fit_transform(data)
    if library == "cuml":
        import cupy

        cupy.cuda.Device().synchronize()
        embedding = cupy.asnumpy(embedding) if hasattr(embedding, "__cuda_array_interface__") else embedding
    seconds = time.perf_counter() - started
    rounded = {k: round(v, 3) for k, v in stages.items()}
    return np.ascontiguousarray(np.asarray(embedding), dtype=np.float32), seconds, rounded


def _warm(library: str, metrics: list[str], sizes: list[int], dims: int) -> float:
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    for rows in sizes:
        centres = rng.normal(scale=4.0, size=(8, dims))
        data = (centres[rng.integers(0, 8, rows)] + rng.normal(size=(rows, dims))).astype(np.float32)
        for metric in metrics:
            _fit(library, data, {"n_neighbors": 15, "metric": metric, "n_epochs": 20,
                                 "random_state": 0})
    return time.perf_counter() - started


def _handle(library: str, request: dict[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    if op == "warm":
        seconds = _warm(library, list(request.get("metrics", ["cosine"])),
                        [int(n) for n in request.get("sizes", [1500])], int(request.get("dims", 32)))
        return {"ok": True, "seconds": seconds}
    if op == "fit":
        data = np.load(request["path"], allow_pickle=False)
        embedding, seconds, stages = fit_with_stages(library, data, dict(request["params"]))
        np.save(request["out"], embedding)
        return {"ok": True, "seconds": seconds, "rows": int(data.shape[0]), "stages": stages}
    raise ValueError(f"op must be warm, fit or quit, found {op!r}")


def serve(library: str, answers: TextIO) -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("op") == "quit":
            return
        try:
            answer = _handle(library, request)
        except Exception as exc:  # noqa: BLE001 - the parent reports it; we stay usable
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main() -> None:
    library = sys.argv[1] if len(sys.argv) > 1 else "umap-learn"
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr  # library chatter must not corrupt the answers
    os.dup2(sys.stderr.fileno(), 1)
    serve(library, answers)


if __name__ == "__main__":
    main()
