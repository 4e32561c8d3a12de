"""The seeded layout on every thread: the same result on any thread count, umap-learn's
quality, and umap-learn's own layout wherever ours does not apply."""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest

from streaming_umap.backends.base import RunOptions
from streaming_umap.datasets import digits, labelled_mixture
from streaming_umap.pipeline.checkpoint import NullCheckpoint
from streaming_umap.pipeline.layout_parallel import (
    block_count,
    head_blocks,
    seeded_layout_in_parallel,
)
from streaming_umap.pipeline.umap_cpu import run_umap
from streaming_umap.schemas import UMAPParams

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import umap  # noqa: F401  (it warns at import that TensorFlow is missing)

pytestmark = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                reason="needs 2 threads to compare thread counts")


@pytest.fixture(autouse=True)
def blocks(monkeypatch):
    """Jobs here lay out seeded fits by blocks (not the default: see umap_cpu)."""
    monkeypatch.setenv("STREAMING_UMAP_SEEDED_LAYOUT", "blocks")


@pytest.fixture
def threads():
    before = numba.get_num_threads()
    yield numba.set_num_threads
    numba.set_num_threads(before)


def _fit(data: np.ndarray, **params) -> np.ndarray:
    return run_umap(data, UMAPParams(**params), NullCheckpoint(), RunOptions()).embedding


def test_head_blocks_cut_at_row_boundaries_with_balanced_edges() -> None:
    head = np.repeat(np.arange(1000), np.random.default_rng(0).integers(1, 30, 1000))
    edges, rows = head_blocks(head, 1000, 16)
    assert rows[0] == 0 and rows[-1] == 1000 and edges[0] == 0 and edges[-1] == head.size
    for b in range(len(rows) - 1):  # a block's edges are exactly those of its rows
        block = head[edges[b]:edges[b + 1]]
        assert block.min() >= rows[b] and block.max() < rows[b + 1]
    sizes = np.diff(edges)
    assert sizes.max() < 1.5 * head.size / 16
    assert block_count(10) == 1 and block_count(10**9) == 256


def test_a_seeded_job_gives_the_same_layout_on_one_and_two_threads(threads) -> None:
    # 6,000 rows: NN-descent and the layout both run threaded
    data, _ = labelled_mixture(6000, 32, 8, seed=3)
    layouts = []
    for n in (1, 2, 2):
        threads(n)
        layouts.append(_fit(data, random_state=11, n_epochs=60))
    assert np.array_equal(layouts[0], layouts[1])
    assert np.array_equal(layouts[1], layouts[2])
    other_seed = _fit(data, random_state=12, n_epochs=60)
    assert not np.allclose(other_seed, layouts[0])


def _umap_learn(data: np.ndarray, seed: int) -> np.ndarray:
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return umap.UMAP(random_state=seed).fit_transform(data)


@pytest.mark.parametrize("name", ["digits", "mixture"])
def test_quality_matches_umap_learns_seeded_layout(name: str) -> None:
    """Trustworthiness within 0.01 and HDBSCAN's agreement with the true labels within
    0.03 (mean of three seeds: umap-learn's own spread between seeds on digits is 0.02)."""
    from sklearn.cluster import HDBSCAN
    from sklearn.manifold import trustworthiness
    from sklearn.metrics import adjusted_rand_score

    data, labels = digits() if name == "digits" else labelled_mixture(3000, 32, 10, seed=1)
    scores: dict[str, list[tuple[float, float]]] = {"ours": [], "umap-learn": []}
    for seed in (1, 2, 3):
        for who, layout in (("ours", _fit(data, random_state=seed)),
                            ("umap-learn", _umap_learn(data, seed))):
            clusters = HDBSCAN(min_cluster_size=30, copy=True).fit_predict(layout)
            scores[who].append((trustworthiness(data, layout, n_neighbors=15),
                                adjusted_rand_score(labels, clusters)))
    ours, theirs = np.mean(scores["ours"], axis=0), np.mean(scores["umap-learn"], axis=0)
    assert ours[0] >= theirs[0] - 0.01, scores
    assert ours[1] >= theirs[1] - 0.03, scores


def test_unseeded_fits_and_transforms_keep_umap_learns_layout(monkeypatch, threads) -> None:
    """Ours runs only for a seeded fit, on the threads the job had (umap-learn's seeded fit
    sets numba to one): an unseeded fit (umap-learn's parallel layout) and a transform
    (head and tail embeddings apart, nothing moves but the new rows) go to umap-learn's
    own function."""
    import umap
    from umap import umap_

    from streaming_umap.pipeline import layout_parallel

    calls: list[str] = []
    real = layout_parallel.optimize_layout_blocks
    monkeypatch.setattr(layout_parallel, "optimize_layout_blocks",
                        lambda *a, **k: calls.append(f"ours on {numba.get_num_threads()}") or real(*a, **k))
    threads(2)
    data, _ = labelled_mixture(600, 8, 3, seed=0)
    before = umap_.optimize_layout_euclidean
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with seeded_layout_in_parallel():
            seeded = umap.UMAP(random_state=0, n_epochs=30).fit(data)
            assert calls == ["ours on 2"]
            umap.UMAP(n_epochs=30).fit(data)
            seeded.transform(data[:50])
    assert calls == ["ours on 2"]
    assert umap_.optimize_layout_euclidean is before  # restored on exit


def test_by_default_seeded_jobs_keep_umap_learns_layout_and_any_thread_count_agrees(
        monkeypatch, threads) -> None:
    """The default (STREAMING_UMAP_SEEDED_LAYOUT unset): umap-learn's seeded layout, and the
    same result on 1 and 2 threads (seeded NN-descent always runs on all of them)."""
    from streaming_umap.pipeline import layout_parallel

    monkeypatch.delenv("STREAMING_UMAP_SEEDED_LAYOUT")
    monkeypatch.setattr(layout_parallel, "optimize_layout_blocks",
                        lambda *a, **k: pytest.fail("the block layout ran by default"))
    data, _ = labelled_mixture(6000, 32, 8, seed=3)
    layouts = []
    for n in (1, 2):
        threads(n)
        layouts.append(_fit(data, random_state=11, n_epochs=40))
    assert np.array_equal(layouts[0], layouts[1])
