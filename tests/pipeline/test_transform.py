"""Placing rows into a fitted layout from our stored form, against umap-learn's own
transform, and the sample-fit path built on it (quality metrics, not bitwise)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from streaming_umap.backends.base import RunOptions
from streaming_umap.backends.cpu import CPUBackend
from streaming_umap.datasets import digits, labelled_mixture
from streaming_umap.pipeline.checkpoint import NullCheckpoint
from streaming_umap.pipeline.transform_cpu import LayoutModel, curve_parameters, place_rows
from streaming_umap.schemas import UMAPParams


class Stages(NullCheckpoint):
    def __init__(self) -> None:
        super().__init__()
        self.advances: list[tuple[int, dict[str, int]]] = []

    def advance(self, done: int, **counters: int) -> None:
        self.advances.append((done, counters))
        super().advance(done, **counters)


def _accuracy(train_embedding: np.ndarray, train_labels: np.ndarray, placed: np.ndarray,
              labels: np.ndarray) -> float:
    knn = KNeighborsClassifier(15).fit(train_embedding, train_labels)
    return float(knn.score(placed, labels))


def test_placements_agree_with_umap_learns_transform_on_digits() -> None:
    data, labels = digits()
    order = np.random.default_rng(0).permutation(len(data))
    fit_rows, new_rows = order[:1200], order[1200:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import umap

        fitted = umap.UMAP(random_state=1).fit(data[fit_rows])
        theirs = fitted.transform(data[new_rows])
    a, b = curve_parameters(0.1)
    model = LayoutModel(data[fit_rows], fitted.embedding_.astype(np.float32), a, b, "euclidean", 15,
                        None, 1)
    cp = Stages()
    ours = place_rows(model, data[new_rows], cp, chunk=200)
    assert ours.shape == (len(new_rows), 2) and np.isfinite(ours).all()
    ours_acc = _accuracy(fitted.embedding_, labels[fit_rows], ours, labels[new_rows])
    theirs_acc = _accuracy(fitted.embedding_, labels[fit_rows], theirs, labels[new_rows])
    assert abs(ours_acc - theirs_acc) <= 0.03 and ours_acc >= 0.9
    assert float(np.median(np.linalg.norm(ours - theirs, axis=1))) < 0.5
    assert cp.stages == [("transform", 3)] and [d for d, _ in cp.advances] == [1, 2, 3]
    assert cp.advances[-1][1]["processed_points"] == len(new_rows)


def test_placing_the_training_rows_again_puts_them_near_their_fitted_positions() -> None:
    data, _ = labelled_mixture(3000, 32, clusters=6, seed=2)
    fitted = CPUBackend().umap(data, UMAPParams(random_state=3), NullCheckpoint(), RunOptions())
    a, b = curve_parameters(0.1)
    model = LayoutModel(data, fitted.embedding, a, b, "euclidean", 15, None, 3)
    again = place_rows(model, data[:500], NullCheckpoint(), chunk=500)
    spread = float(np.linalg.norm(fitted.embedding.max(0) - fitted.embedding.min(0)))
    assert float(np.median(np.linalg.norm(again - fitted.embedding[:500], axis=1))) < 0.05 * spread


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_a_job_above_fit_sample_rows_fits_a_sample_and_places_the_rest(metric: str) -> None:
    data, labels = labelled_mixture(7000, 32, clusters=6, seed=4)
    cp = Stages()
    options = RunOptions(fit_sample_rows=2000)
    out = CPUBackend().umap(data, UMAPParams(metric=metric, random_state=5), cp, options)
    assert out.embedding.shape == (7000, 2) and np.isfinite(out.embedding).all()
    assert any("random sample of 2000 of the 7000 rows" in w for w in out.warnings)
    names = [name for name, _ in cp.stages]
    assert names[:3] == ["knn", "graph", "layout"] and names[-1] == "transform"
    assert dict(cp.stages)["transform"] == 1  # 5000 rows placed in one 10k-row chunk
    chosen = np.zeros(7000, dtype=bool)
    chosen[np.sort(np.random.default_rng(5).choice(7000, 2000, replace=False))] = True
    accuracy = _accuracy(out.embedding[chosen], labels[chosen], out.embedding[~chosen], labels[~chosen])
    assert accuracy >= 0.95
    again = CPUBackend().umap(data, UMAPParams(metric=metric, random_state=5), NullCheckpoint(), options)
    assert np.array_equal(out.embedding, again.embedding)  # the same draw and the same layout


def test_a_cancel_between_placed_chunks_stops_the_job() -> None:
    from streaming_umap.errors import JobCancelled

    data, _ = labelled_mixture(1000, 8, seed=6)
    a, b = curve_parameters(0.1)
    model = LayoutModel(data[:300], np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32),
                        a, b, "euclidean", 15)
    with pytest.raises(JobCancelled):
        place_rows(model, data[300:], NullCheckpoint(cancel_after=2), chunk=100)


def test_initial_positions_are_umap_learns_without_its_row_loop() -> None:
    import scipy.sparse

    from streaming_umap.pipeline.transform_cpu import initial_positions

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from umap.umap_ import init_graph_transform
    rng = np.random.default_rng(0)
    dense = rng.random((300, 500)) * (rng.random((300, 500)) < 0.03)
    dense[rng.random((300, 500)) < 0.002] = 1.0  # memberships of exactly 1 take that neighbour's place
    dense[5] = 0  # a row with no neighbour: NaN, as umap-learn leaves it
    graph = scipy.sparse.csr_matrix(dense.astype(np.float32))
    embedding = rng.normal(size=(500, 2)).astype(np.float32)
    assert np.allclose(initial_positions(graph, embedding), init_graph_transform(graph, embedding),
                       equal_nan=True, atol=1e-5)


def test_a_kept_models_index_is_cached_beside_it_and_rebuilt_when_unusable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from streaming_umap.backends.cpu import CPUBackend
    from streaming_umap.jobs.model_store import (
        load_layout_model,
        model_meta,
        read_meta,
        write_model_files,
    )
    from streaming_umap.pipeline import transform_cpu

    data, labels = labelled_mixture(6000, 16, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import umap  # noqa: F401  (it warns at import that TensorFlow is missing)
    fitted = CPUBackend().umap(data[:5000], UMAPParams(random_state=0), NullCheckpoint(), RunOptions())
    a, b = curve_parameters(0.1)
    meta = model_meta(model_id="m", rows=5000, dims=16, n_components=2, metric="euclidean", n_neighbors=15,
                      a=a, b=b, params={"random_state": 0, "n_epochs": None}, backend="cpu", job_id=None)
    write_model_files(tmp_path, data[:5000], fitted.embedding, meta)
    staged_model = LayoutModel(np.load(tmp_path / "model-train.npy", mmap_mode="r"), fitted.embedding,
                               a, b, "euclidean", 15, None, 0)
    assert transform_cpu.prebuild_index(staged_model, tmp_path, NullCheckpoint())  # as the fit ends
    for staged in tmp_path.glob("model-*"):  # as the supervisor adopts a model
        staged.rename(tmp_path / staged.name.removeprefix("model-"))
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == ["embedding.npy", "index", "model.json",
                                                                       "train.npy"]
    assert read_meta(tmp_path)["rows"] == 5000
    model = load_layout_model(tmp_path)
    options = RunOptions(chunk_size=500, model_dir=str(tmp_path))
    cp = Stages()
    first = CPUBackend().transform(model, data[5000:], cp, options).embedding
    assert cp.stages == [("index", 1), ("transform", 2)]
    cached = list(tmp_path.glob("index-cpu-*.pkl"))
    assert len(cached) == 1 and cached[0].stat().st_size > 0
    assert _accuracy(model.embedding, labels[:5000], first, labels[5000:]) >= 0.95

    transform_cpu.forget_index(tmp_path)  # as a fresh worker: the index comes from the file
    again = CPUBackend().transform(model, data[5000:], NullCheckpoint(), options).embedding
    np.testing.assert_array_equal(first, again)  # the same index, the same seeded placement

    transform_cpu.forget_index(tmp_path)
    cached[0].write_bytes(b"not a pickle")  # cut off, or written by another version
    rebuilt = CPUBackend().transform(model, data[5000:], NullCheckpoint(), options).embedding
    assert _accuracy(model.embedding, labels[:5000], rebuilt, labels[5000:]) >= 0.95
    assert cached[0].stat().st_size > 100  # replaced by a good one
