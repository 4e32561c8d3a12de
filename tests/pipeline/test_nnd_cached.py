"""The cached NN-descent: the same neighbour graph as pynndescent's own function, and a
new process loads it from numba's disk cache instead of compiling it again (what makes
a second start, a respawn and ``run`` without a server quick)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ..conftest import NUMBA_CACHE

pytest.importorskip("pynndescent")

# Run in a fresh interpreter: NNDescent once with pynndescent's function and once through
# ours, same data, seed and thread count; then report the cache statistics of our entry.
SCRIPT = r"""
import json, sys
import numba, numpy as np
from pynndescent import NNDescent
from streaming_umap.pipeline import nnd_cached

metric, compare = sys.argv[1], sys.argv[2] == "compare"
data = np.random.default_rng(7).standard_normal((3000, 16)).astype(np.float32)
def graph():
    index = NNDescent(data, n_neighbors=15, metric=metric, random_state=3, n_trees=8,
                      n_iters=8, max_candidates=60, low_memory=True, compressed=False)
    return index.neighbor_graph
theirs = graph() if compare else None
assert nnd_cached.install()
ours = graph()
entry = {"euclidean": nnd_cached.nnd_squared_euclidean,
         "cosine": nnd_cached.nnd_alternative_cosine}[metric]
print(json.dumps({
    "equal": None if theirs is None else bool(np.array_equal(theirs[0], ours[0])
                                              and np.array_equal(theirs[1], ours[1])),
    "hits": sum(entry.stats.cache_hits.values()), "misses": sum(entry.stats.cache_misses.values()),
    "signatures": len(entry.signatures), "indices_sum": int(ours[0].sum())}))
"""


def _run(tmp: Path, metric: str, compare: bool) -> dict[str, object]:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(NUMBA_CACHE), NUMBA_NUM_THREADS="2")
    done = subprocess.run([sys.executable, "-c", SCRIPT, metric, "compare" if compare else "load"],
                          env=env, capture_output=True, text=True, timeout=600, cwd=tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("metric", ["euclidean"])
def test_cached_nn_descent_equals_pynndescent_and_loads_in_a_new_process(tmp_path: Path,
                                                                        metric: str) -> None:
    NUMBA_CACHE.mkdir(parents=True, exist_ok=True)
    first = _run(tmp_path, metric, compare=True)
    assert first["equal"] is True  # bit for bit: indices and distances
    second = _run(tmp_path, metric, compare=False)
    assert second["indices_sum"] == first["indices_sum"]
    # the second process compiled nothing for it: its one signature came from the disk cache
    assert second["hits"] >= 1 and second["misses"] == 0, second


def test_other_distances_and_versions_keep_pynndescent(monkeypatch: pytest.MonkeyPatch) -> None:
    import pynndescent
    import pynndescent.distances as D

    from streaming_umap.pipeline import nnd_cached

    assert D.manhattan not in nnd_cached.ENTRIES  # falls back to pynndescent's function
    monkeypatch.setattr(nnd_cached, "_original", None)
    monkeypatch.setattr(pynndescent, "__version__", "0.8.0")
    import pynndescent.pynndescent_ as P

    before = P.nn_descent
    assert nnd_cached.install() is False and P.nn_descent is before
    assert np.asarray(nnd_cached.CHECKED_VERSIONS).size >= 1
