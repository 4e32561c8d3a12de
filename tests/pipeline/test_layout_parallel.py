"""The block layout on every thread: for a seed the same result on any thread count,
umap-learn's quality with and without a seed, and umap-learn's own layout wherever ours
does not apply."""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest

from streaming_umap.backends.base import RunOptions
from streaming_umap.datasets import digits, labelled_mixture
from streaming_umap.pipeline import layout_parallel
from streaming_umap.pipeline.checkpoint import NullCheckpoint
from streaming_umap.pipeline.layout_parallel import (
    block_count,
    head_blocks,
    layout_by_blocks,
    optimize_layout_blocks,
    reverse_edges,
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
    """Jobs here lay out by blocks, the default, whatever the caller's env."""
    monkeypatch.delenv("STREAMING_UMAP_SEEDED_LAYOUT", raising=False)
    monkeypatch.delenv("STREAMING_UMAP_UNSEEDED_LAYOUT", raising=False)


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


def test_reverse_edges_pair_each_edge_with_its_reverse_and_mark_the_unpaired() -> None:
    rng = np.random.default_rng(1)
    pairs = {(int(j), int(k)) for j, k in rng.integers(0, 50, (300, 2)) if j != k}
    pairs |= {(k, j) for j, k in pairs}
    pairs.add((7, 60))  # no (60, 7)
    edges = np.array(sorted(pairs), dtype=np.int32)
    # sorted as a CSR graph gives them (no sort needed), and in any other order
    for order in (np.arange(len(edges)), rng.permutation(len(edges))):
        head, tail = edges[order, 0], edges[order, 1]
        rev = reverse_edges(head, tail)
        lone = int(np.flatnonzero((head == 7) & (tail == 60))[0])
        assert rev[lone] == -1 and np.count_nonzero(rev < 0) == 1
        paired = rev >= 0
        assert np.array_equal(head[rev[paired]], tail[paired])
        assert np.array_equal(tail[rev[paired]], head[paired])


def test_on_one_block_the_layout_is_umap_learns_sequential_layout_bit_for_bit(
        monkeypatch) -> None:
    """With every row in one block nothing is read an epoch old or delivered late, so the
    block layout must be umap-learn's seeded layout exactly: the same update rule, sums,
    and negative samples from the same random streams."""
    import scipy.sparse as sp
    from umap import umap_
    from umap.layouts import optimize_layout_euclidean

    rows = 3000
    graph = sp.random(rows, rows, density=0.005, random_state=1, format="csr")
    graph = (graph + graph.T).tocoo()
    eps = umap_.make_epochs_per_sample(graph.data, 50)
    init = np.random.RandomState(0).uniform(0, 10, (rows, 2)).astype(np.float32)
    a, b = umap_.find_ab_params(1.0, 0.1)
    rng_state = np.random.RandomState(42).randint(-2**31 + 1, 2**31 - 2, 3).astype(np.int64)
    theirs = init.copy()
    optimize_layout_euclidean(theirs, theirs, graph.row, graph.col, 10, rows, eps, a, b,
                              rng_state, 1.0, 1.0, 5.0, parallel=False, move_other=True)
    monkeypatch.setattr(layout_parallel, "block_count", lambda n_edges: 1)
    ours = optimize_layout_blocks(init.copy(), graph.row, graph.col, 10, rows, eps, a, b,
                                  rng_state)
    assert np.abs(theirs - init).max() > 0.1  # it moved
    assert np.array_equal(ours, theirs)


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


def _umap_learns_layout(data: np.ndarray, seed: int, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """umap-learn's own seeded layout on the same kNN graph as ours: the fit the service
    runs with STREAMING_UMAP_SEEDED_LAYOUT=umap-learn. Only the layouts differ, and the
    baseline skips umap-learn's own kNN below 4,096 rows (scikit-learn's pairwise distances
    through a Python callable: 20 s of its 21 s fit on 3,000 x 32, 4.5M Python calls)."""
    with monkeypatch.context() as env:
        env.setenv("STREAMING_UMAP_SEEDED_LAYOUT", "umap-learn")
        return _fit(data, random_state=seed)


def _looped_blobs() -> tuple[np.ndarray, np.ndarray]:
    """The migration guide's data (web/test/guide/data.ts): three blobs, each a 1-D loop."""
    i, j = np.arange(1200)[:, None], np.arange(8)[None, :]
    return ((i % 3) * 10 + np.sin(i * 7 + j) * 0.5).astype(np.float32), np.arange(1200) % 3


@pytest.mark.parametrize("name", ["digits", "mixture", "looped blobs"])
def test_quality_matches_umap_learns_seeded_layout(name: str, monkeypatch) -> None:
    """Trustworthiness and HDBSCAN's agreement with the true labels no more than 0.01 below
    umap-learn's (mean of three seeds: umap-learn's own spread between seeds on digits is
    0.02), and on the looped blobs HDBSCAN finds the three loops, as on umap-learn's."""
    from sklearn.cluster import HDBSCAN
    from sklearn.manifold import trustworthiness
    from sklearn.metrics import adjusted_rand_score

    data, labels = {"digits": digits, "looped blobs": _looped_blobs}.get(
        name, lambda: labelled_mixture(3000, 32, 10, seed=1))()
    min_cluster_size = 20 if name == "looped blobs" else 30  # the guide's 20
    scores: dict[str, list[tuple[float, float]]] = {"ours": [], "umap-learn": []}
    clusters_found: dict[str, list[int]] = {"ours": [], "umap-learn": []}
    for seed in (1, 2, 3):
        for who, layout in (("ours", _fit(data, random_state=seed)),
                            ("umap-learn", _umap_learns_layout(data, seed, monkeypatch))):
            clusters = HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit_predict(layout)
            scores[who].append((trustworthiness(data, layout, n_neighbors=15),
                                adjusted_rand_score(labels, clusters)))
            clusters_found[who].append(len(set(clusters.tolist()) - {-1}))
    ours, theirs = np.mean(scores["ours"], axis=0), np.mean(scores["umap-learn"], axis=0)
    assert ours[0] >= theirs[0] - 0.01, scores
    assert ours[1] >= theirs[1] - 0.01, scores
    if name == "looped blobs":
        assert clusters_found == {"ours": [3, 3, 3], "umap-learn": [3, 3, 3]}, clusters_found


def test_unseeded_fits_by_blocks_only_when_asked_and_transforms_keep_umap_learns_layout(
        monkeypatch, threads) -> None:
    """Ours runs for a seeded fit on the threads the job had (umap-learn's seeded fit sets
    numba to one), and for an unseeded fit (umap-learn's parallel layout) only with
    ``unseeded``; a transform (head and tail embeddings apart, nothing moves but the new
    rows) goes to umap-learn's own function."""
    import umap
    from umap import umap_

    calls: list[str] = []
    real = layout_parallel.optimize_layout_blocks
    monkeypatch.setattr(layout_parallel, "optimize_layout_blocks",
                        lambda *a, **k: calls.append(f"ours on {numba.get_num_threads()}") or real(*a, **k))
    threads(2)
    data, _ = labelled_mixture(600, 8, 3, seed=0)
    before = umap_.optimize_layout_euclidean
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with layout_by_blocks():
            seeded = umap.UMAP(random_state=0, n_epochs=30).fit(data)
            assert calls == ["ours on 2"]
            umap.UMAP(n_epochs=30).fit(data)
            seeded.transform(data[:50])
        assert calls == ["ours on 2"]
        with layout_by_blocks(unseeded=True):
            unseeded = umap.UMAP(n_epochs=30).fit(data)
            assert calls == ["ours on 2", "ours on 2"]
            unseeded.transform(data[:50])
    assert calls == ["ours on 2", "ours on 2"]
    assert umap_.optimize_layout_euclidean is before  # restored on exit


@pytest.mark.parametrize("share, env, ours", [(2, None, False), (2, "umap-learn", False),
                                              (2, "blocks", True), (1, "blocks", False)])
def test_an_unseeded_job_lays_out_by_blocks_only_when_asked_on_two_threads_or_more(
        share, env, ours, monkeypatch, threads) -> None:
    """Without a seed a job takes umap-learn's parallel layout (quicker than the blocks on
    2 cores); with STREAMING_UMAP_UNSEEDED_LAYOUT=blocks it lays out by blocks on 2+
    threads, and on one thread still by umap-learn's."""
    calls: list[int] = []
    real = layout_parallel.optimize_layout_blocks
    monkeypatch.setattr(layout_parallel, "optimize_layout_blocks",
                        lambda *a, **k: calls.append(numba.get_num_threads()) or real(*a, **k))
    if env:
        monkeypatch.setenv("STREAMING_UMAP_UNSEEDED_LAYOUT", env)
    threads(share)
    data, _ = labelled_mixture(600, 8, 3, seed=0)
    layout = _fit(data, n_epochs=20)
    assert calls == ([share] if ours else [])
    assert layout.shape == (600, 2) and np.isfinite(layout).all()


def _unseeded_fit(data: np.ndarray, draw: int, layout: str, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """A fit without a seed whose random draws (umap-learn's global stream: spectral init
    and the layout's random state) start from ``draw``, so both layouts start alike."""
    with monkeypatch.context() as env:
        env.setenv("STREAMING_UMAP_UNSEEDED_LAYOUT", layout)
        np.random.seed(draw)
        return _fit(data)


@pytest.mark.parametrize("name", ["digits", "mixture"])
def test_unseeded_quality_matches_umap_learns_parallel_layout(name: str, monkeypatch, threads) -> None:
    """On two threads, trustworthiness and HDBSCAN's agreement with the true labels no more
    than 0.01 below umap-learn's parallel layout's (mean of three draws)."""
    from sklearn.cluster import HDBSCAN
    from sklearn.manifold import trustworthiness
    from sklearn.metrics import adjusted_rand_score

    threads(2)
    data, labels = digits() if name == "digits" else labelled_mixture(3000, 32, 10, seed=1)
    scores: dict[str, list[tuple[float, float]]] = {"blocks": [], "umap-learn": []}
    for draw in (1, 2, 3):
        for who in scores:
            layout = _unseeded_fit(data, draw, who, monkeypatch)
            clusters = HDBSCAN(min_cluster_size=30, copy=True).fit_predict(layout)
            scores[who].append((trustworthiness(data, layout, n_neighbors=15),
                                adjusted_rand_score(labels, clusters)))
    ours, theirs = np.mean(scores["blocks"], axis=0), np.mean(scores["umap-learn"], axis=0)
    assert ours[0] >= theirs[0] - 0.01, scores
    assert ours[1] >= theirs[1] - 0.01, scores


def test_seeded_jobs_keep_umap_learns_layout_when_asked_and_any_thread_count_agrees(
        monkeypatch, threads) -> None:
    """STREAMING_UMAP_SEEDED_LAYOUT=umap-learn: umap-learn's seeded layout, and the same
    result on 1 and 2 threads (seeded NN-descent always runs on all of them)."""
    from streaming_umap.pipeline import layout_parallel

    monkeypatch.setenv("STREAMING_UMAP_SEEDED_LAYOUT", "umap-learn")
    monkeypatch.setattr(layout_parallel, "optimize_layout_blocks",
                        lambda *a, **k: pytest.fail("the block layout ran"))
    data, _ = labelled_mixture(6000, 32, 8, seed=3)
    layouts = []
    for n in (1, 2):
        threads(n)
        layouts.append(_fit(data, random_state=11, n_epochs=40))
    assert np.array_equal(layouts[0], layouts[1])


def test_by_default_a_seeded_job_lays_out_by_blocks(monkeypatch) -> None:
    from streaming_umap.pipeline import layout_parallel

    calls: list[int] = []
    real = layout_parallel.optimize_layout_blocks
    monkeypatch.setattr(layout_parallel, "optimize_layout_blocks",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    data, _ = labelled_mixture(600, 8, 3, seed=0)
    _fit(data, random_state=5, n_epochs=20)
    assert calls == [1]

