"""A first start leaves part of the warm-up to a helper process, and later starts do not.

The warm template's warm-up (``CPUBackend.warm_up(split=True)``) on a numba cache that
does not yet say it holds every step starts a helper process (a fresh interpreter) that
compiles :data:`HELPER_STEPS` into the cache while the template runs the others; each
notes what it finished in a marker file. With both markers there, every step runs in the
template again (forked workers then hold all of it) and no helper starts. Run in fresh
processes on a copy of the suite's cache: numba reads ``NUMBA_CACHE_DIR`` at import.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from streaming_umap.backends.cpu import HELPER_STEPS

from .conftest import NUMBA_CACHE

RUN = textwrap.dedent('''
    import json, multiprocessing, os, sys

    def warm():
        os.environ["NUMBA_THREADING_LAYER"] = "workqueue"
        from streaming_umap.backends import cpu
        steps = []
        backend = cpu.CPUBackend()
        backend.warm_up(progress=steps.append, split=True)
        helper = backend.helper
        from umap import layouts
        from streaming_umap.pipeline import layout_parallel
        # the two layouts a job without a seed may take (by blocks on 2+ threads, umap-learn's
        # parallel one with a one-thread share), compiled in this process for forked workers
        compiled = [len(layout_parallel._epoch.signatures),
                    len(layouts._nb_optimize_layout_euclidean_single_epoch_parallel.signatures)]
        print(json.dumps({"steps": steps, "helpers": [] if helper is None else [helper.pid],
                          "layouts": compiled}), flush=True)
        if helper is not None:
            assert helper.wait(600) == 0  # before this process exits (the helper dies with it)
            backend.adopt_helper()  # as the template does once the helper is done
            assert backend.helper is None

    if __name__ == "__main__":
        # as the warm template runs: a daemonic process of the server (which may not start
        # multiprocessing children of its own)
        child = multiprocessing.get_context("spawn").Process(target=warm, daemon=True)
        child.start()
        child.join()
        sys.exit(child.exitcode)
''')


def _warm(cache: Path) -> dict[str, list]:  # type: ignore[type-arg]
    script = cache.parent / "warm.py"
    script.write_text(RUN)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONUNBUFFERED="1")
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                          timeout=800)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.timeout(900)  # with a cold suite cache (first in a fresh CI run) this compiles it all
def test_a_first_start_splits_its_warm_up_and_the_next_one_does_not(tmp_path: Path) -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("the split needs a second core")
    cache = tmp_path / "cache"
    if NUMBA_CACHE.exists():
        shutil.copytree(NUMBA_CACHE, cache, ignore=shutil.ignore_patterns(".streaming-umap-warm-*"))
    first = _warm(cache)
    assert len(first["helpers"]) == 1
    assert not set(HELPER_STEPS) & set(first["steps"])  # left to the helper
    assert "NN-descent (euclidean, inputs above 16,384 rows)" in first["steps"]
    assert first["steps"][-1] == "timing a small layout for the ETA model"
    assert min(first["layouts"]) >= 1, first["layouts"]
    assert not psutil.pid_exists(first["helpers"][0]) or psutil.Process(first["helpers"][0]).status() == "zombie"
    markers = sorted(p.name.rsplit("-", 1)[0] for p in cache.glob(".streaming-umap-warm-*"))
    assert markers == [".streaming-umap-warm-core", ".streaming-umap-warm-helper"]
    second = _warm(cache)
    assert second["helpers"] == []
    assert set(HELPER_STEPS) <= set(second["steps"])  # every step here: loaded from the cache
    assert min(second["layouts"]) >= 1, second["layouts"]
    cli = subprocess.run([sys.executable, "-m", "streaming_umap.cli", "warm-cache"], capture_output=True,
                         text=True, timeout=120, env=dict(os.environ, NUMBA_CACHE_DIR=str(cache)))
    assert cli.returncode == 0 and f"{cache} already holds every warm-up step" in cli.stderr
