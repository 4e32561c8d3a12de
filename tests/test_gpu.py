"""The GPU backend: directly (with a recording checkpoint) and through a real server.

Tests marked ``gpu`` need a CUDA device and cuML and are skipped elsewhere; the rest
(import hygiene, the memory model, error classification, the epoch reporter's
logic, ``auto`` falling back to the CPU) run everywhere.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import numpy as np
import pytest

from streaming_umap.backends._gpu_errors import classify
from streaming_umap.backends._gpu_umap import EpochReporter
from streaming_umap.backends.base import RunOptions
from streaming_umap.backends.gpu import gpu_available
from streaming_umap.datasets import labelled_mixture
from streaming_umap.errors import DeviceOutOfMemory, JobCancelled
from streaming_umap.pipeline import gpu_memory as gm
from streaming_umap.pipeline.checkpoint import NullCheckpoint
from streaming_umap.schemas import ClusterParams, UMAPParams

from .conftest import Service
from .helpers import frames, start_job, submit, wait_for, wait_status

HAS_GPU = gpu_available()
needs_gpu = [pytest.mark.gpu, pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA device and cuML")]
GiB = 1 << 30


class Recorder:
    """A checkpoint that records every call; it can cancel, hold (pause) and ask for
    live layouts on cue."""

    def __init__(
        self,
        cancel_when: Callable[[str, int], bool] | None = None,
        hold_at_epoch: int | None = None,
        live_every: int = 0,
    ) -> None:
        self.stages: list[tuple[str, int]] = []
        self.advances: list[tuple[str, int, dict[str, int]]] = []
        self.layouts: list[tuple[int, tuple[int, ...], str]] = []
        self.current = ""
        self.cancel_when = cancel_when
        self.cancelled = False
        self.hold_at_epoch = hold_at_epoch
        self.held: list[int] = []
        self.live_every = live_every

    def stage(self, name: str, total: int, **info: int) -> None:
        self.stages.append((name, total))
        self.current = name

    def advance(self, done: int, **counters: int) -> None:
        self.advances.append((self.current, done, dict(counters)))
        if self.cancel_when is not None and self.cancel_when(self.current, done):
            self.cancelled = True
        epoch = counters.get("epoch", 0)
        if self.hold_at_epoch is not None and epoch >= self.hold_at_epoch and not self.held:
            self.held.append(epoch)
            released = threading.Event()
            threading.Timer(0.3, released.set).start()
            released.wait()  # a paused job blocks here until resumed
        if self.poll() == "cancel":
            raise JobCancelled("cancelled by the test")

    def poll(self) -> Literal["go", "cancel"]:
        return "cancel" if self.cancelled else "go"

    def wants_layout(self, epoch: int) -> bool:
        return self.live_every > 0 and epoch % self.live_every == 0

    def layout(self, epoch: int, embedding: np.ndarray) -> None:
        self.layouts.append((epoch, tuple(embedding.shape), str(embedding.dtype)))

    def done(self, stage: str) -> list[int]:
        return [d for s, d, _ in self.advances if s == stage]

    def epochs(self) -> list[int]:
        return [c["epoch"] for s, _, c in self.advances if s == "layout" and "epoch" in c]


def _fill_device(cupy: Any, leave: int) -> list[Any]:
    """Allocate device memory until none is left, then give back about ``leave`` bytes
    (whatever the RMM pool had cached is taken too)."""
    blocks: list[Any] = []
    for size in (1 << 30, 256 << 20, 16 << 20):
        while True:
            try:
                blocks.append(cupy.empty(size, dtype=cupy.uint8))
            except MemoryError:
                break
    _give_back(blocks, leave)
    return blocks


def _give_back(blocks: list[Any], amount: int) -> None:
    freed = 0
    while blocks and freed < amount:
        freed += blocks.pop().nbytes


def _trust(data: np.ndarray, embedding: np.ndarray, metric: str, sample: int = 5000) -> float:
    from sklearn.manifold import trustworthiness

    rng = np.random.default_rng(0)
    rows = rng.choice(data.shape[0], size=min(sample, data.shape[0]), replace=False)
    return float(trustworthiness(data[rows], embedding[rows], n_neighbors=15, metric=metric))


# ====================================================================== everywhere


def test_importing_the_gpu_backend_imports_no_cuda_library() -> None:
    code = ("import sys, streaming_umap.backends.gpu as g; "
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('cuml', 'cupy', 'rmm')); "
            "print(loaded, g.gpu_available())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", str(HAS_GPU)]


def test_memory_model_terms_grow_with_the_job() -> None:
    small = gm.estimate_job_bytes("umap", 10_000, 512, {"n_neighbors": 15})
    big = gm.estimate_job_bytes("umap", 1_000_000, 512, {"n_neighbors": 15, "metric": "cosine"})
    assert gm.WORKSPACE_BYTES < small < big
    terms = gm.estimate_terms("umap", 100_000, 512, {"n_neighbors": 15, "chunk_size": 1000})
    assert terms["input"] == 100_000 * 512 * 4
    assert terms["knn chunk"] == gm.KNN_TILE_BYTES  # 10k query rows x 100k: cuVS tiles it
    assert terms["knn result"] == 100_000 * 15 * 12
    # the peak is the larger phase: kNN (input, chunk, result) or layout (input, result, graph, embedding)
    knn_phase = terms["input"] + terms["knn chunk"] + terms["knn result"]
    assert gm.peak_bytes(terms) == max(knn_phase, terms["input"] + terms["knn result"] + terms["graph"]
                                       + terms["embedding"]) + gm.WORKSPACE_BYTES
    assert gm.estimate_job_bytes("umap", 100_000, 512, {"n_neighbors": 15}) == int(
        gm.SAFETY * (knn_phase + gm.WORKSPACE_BYTES))
    assert gm.estimate_job_bytes("umap", 50, 8, {"n_neighbors": 200}) == pytest.approx(
        gm.SAFETY * gm.peak_bytes(gm.estimate_terms("umap", 50, 8, {"n_neighbors": 49})), rel=1e-6)
    # calibration points measured on an H200 (worker RMM peaks): the model stays above them
    for kind, rows, dims, params, peak_gib in (
            ("umap", 1_000_000, 512, {"metric": "cosine"}, 1.75),
            ("umap", 300_000, 512, {"metric": "cosine"}, 0.66),
            ("umap", 100_000, 512, {"metric": "cosine"}, 0.29),
            ("cluster", 1_000_000, 2, {"algorithm": "hdbscan", "min_samples": 10}, 1.38),
            ("cluster", 100_000, 2, {"algorithm": "hdbscan", "min_samples": 10}, 0.40)):
        modelled = gm.estimate_job_bytes(kind, rows, dims, params) / GiB
        assert peak_gib <= modelled, (kind, rows)
        if rows >= 300_000:  # and within 1.5x of the larger ones (no longer 3.4x for 1M x 512)
            assert modelled <= 1.5 * peak_gib, (kind, rows, modelled)
    for algorithm in ("kmeans", "dbscan", "hdbscan"):
        assert gm.estimate_job_bytes("cluster", 100_000, 64, {"algorithm": algorithm}) > 100_000 * 64 * 4
    with pytest.raises(ValueError, match="kind must be"):
        gm.estimate_terms("tsne", 10, 10, {})


def test_knn_path_and_batches_follow_the_documented_thresholds() -> None:
    assert gm.uses_exact_knn(gm.EXACT_KNN_MAX_ROWS, "cosine")
    assert not gm.uses_exact_knn(gm.EXACT_KNN_MAX_ROWS + 1, "cosine")
    assert gm.uses_exact_knn(5_000_000, "manhattan")  # NN-descent lacks it
    for rows, metric in ((150_000, "cosine"), (150_001, "euclidean"), (10**9, "chebyshev")):
        assert (rows <= gm.gpu_exact_max_rows(metric)) == gm.uses_exact_knn(rows, metric)
    assert gm.knn_batch_rows(100_000, 1000) == 10_000  # KNN_CALLS calls
    assert gm.knn_batch_rows(10_000, 1000) == 10_000  # one call: MIN_KNN_BATCH_ROWS
    assert gm.knn_batch_rows(25_000, 1000) == 13_000  # two even calls of whole chunks
    assert gm.knn_batch_rows(150_000, 1000, 512) == 15_000
    assert gm.knn_batch_rows(150_000, 1000, 4096) == 4000  # KNN_CALL_WORK caps a call
    assert gm.knn_batch_rows(1_000_000, 1000, 512) == 4000
    assert gm.knn_batch_rows(1_000_000, 1000, 512) * 1_000_000 * 512 <= gm.KNN_CALL_WORK * 1.03
    assert gm.knn_batch_rows(300, 1000) == 300
    assert gm.knn_batch_rows(100_000, 7) % 7 == 0
    assert gm.nnd_clusters(1_000_000, 512, 15, 2, budget_bytes=None) == 1
    assert gm.nnd_clusters(1_000_000, 512, 15, 2, budget_bytes=80 * GiB) == 1
    # NN-descent's half-precision rows of 5M x 4096 (41 GB) do not fit in 30 GiB: batched
    batched = gm.nnd_clusters(5_000_000, 4096, 15, 2, budget_bytes=30 * GiB)
    assert batched == 4
    terms = gm.estimate_terms("umap", 5_000_000, 4096, {"metric": "cosine"}, budget_bytes=30 * GiB)
    assert terms["nn-descent input"] == 5_000_000 * 4096 * 2 // 2  # 2 of the 4 clusters at once
    assert gm.estimate_job_bytes("umap", 5_000_000, 4096, {"metric": "cosine"}, 30 * GiB) <= 30 * GiB


def test_admission_runs_waits_or_refuses_with_the_numbers() -> None:
    budget = gm.device_budget(80 * GiB, worker_processes=4)
    assert budget == int(80 * GiB * 0.95) - 4 * gm.CONTEXT_BYTES
    run = gm.admit(2 * GiB, budget, budget)
    wait = gm.admit(10 * GiB, budget, 5 * GiB)
    never = gm.admit(100 * GiB, budget, budget)
    assert (run.verdict, wait.verdict, never.verdict) == ("run", "wait", "never")
    assert "10.00 GiB" in wait.message and "5.00 GiB" in wait.message
    assert "100.00 GiB" in never.message and f"{budget / GiB:.2f} GiB" in never.message
    # the message groups UMAP's terms by phase (the estimate is the larger phase, not the sum)
    for dims, advice in ((512, "fewer rows or columns"), (16, "fewer neighbours (the layout's graph")):
        terms = gm.estimate_terms("umap", 50_000_000, dims, {"metric": "cosine"}, budget_bytes=budget)
        refused = gm.admit(int(gm.peak_bytes(terms) * gm.SAFETY), budget, budget, terms=terms)
        assert refused.verdict == "never" and advice in refused.message
        assert "kNN phase" in refused.message and "layout phase" in refused.message
        assert gm.nnd_clusters(50_000_000, dims, 15, 2, budget) == 1  # batching cannot shrink the layout
    pooled = gm.admit(3 * GiB, budget, budget, pool_bytes=2 * GiB)
    assert pooled.verdict == "never" and "GPU_UMAP_RMM_POOL_SIZE" in pooled.message
    info = {"total_memory": 80 * GiB, "rmm_pool_limit": None}
    job = gm.admit_job("umap", 1_000_000, 512, {"metric": "cosine"}, info, worker_processes=4)
    assert job.verdict == "run" and "input" in job.message
    busy = gm.admit_job("umap", 1_000_000, 512, {"metric": "cosine"}, info, worker_processes=4,
                        running_estimates=budget - GiB)
    assert busy.verdict == "wait"
    huge = gm.admit_job("umap", 10_000_000, 4096, {"metric": "manhattan"}, info, worker_processes=4)
    assert huge.verdict == "never" and huge.estimate > huge.limit


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (MemoryError("std::bad_alloc: out_of_memory: RMM failure at: pool.hpp:191: Maximum pool size exceeded"), "oom"),
        (RuntimeError("CUDA error encountered at: file=raft/util/cudart_utils.hpp line=148: "
                      "call='cudaMalloc(&p, n)', Reason=cudaErrorMemoryAllocation:out of memory"), "oom"),
        (MemoryError("Unable to allocate 7.45 GiB for an array with shape (1000000, 2000)"), None),
        (RuntimeError("CUDA error encountered at: file=umap/runner.cuh line=12: call='cudaStreamSynchronize', "
                      "Reason=cudaErrorIllegalAddress:an illegal memory access was encountered"), "fault"),
        (RuntimeError("cuBLAS error: CUBLAS_STATUS_EXECUTION_FAILED"), "fault"),
        (type("CUDARuntimeError", (RuntimeError,), {})("cudaErrorLaunchFailure: unspecified launch failure"), "fault"),
        (type("OutOfMemoryError", (MemoryError,), {})("Out of memory allocating 4,000,000,000 bytes"), "oom"),
        (ValueError("Expected `n_neighbors >= 1`, got 0"), None),
    ],
)
def test_device_errors_are_told_apart(error: BaseException, kind: str | None) -> None:
    assert classify(error) == kind


def test_epoch_reporter_never_raises_and_reports_what_is_done() -> None:
    class Emb:
        def copy_to_host(self) -> np.ndarray:
            return np.zeros((7, 2), dtype=np.float32)

    syncs: list[int] = []
    cp = Recorder(cancel_when=lambda stage, done: stage == "layout" and done >= 30, live_every=10)
    reporter = EpochReporter(cp, rows=7, n_epochs=100, knn_total=4,
                             synchronize=lambda: syncs.append(reporter.epoch))
    reporter.preprocess_end(Emb())
    for _ in range(100):
        reporter.epoch_end(Emb())  # must never raise, even once cancelled
    assert cp.stages == [("graph", 1), ("layout", 100)]
    assert cp.done("knn") == [] and cp.advances[0][1] == 4  # the kNN stage closed first
    epochs = cp.epochs()
    assert epochs == sorted(epochs) and epochs[-1] >= 30 and max(epochs) < 100
    assert [e for e, _, _ in cp.layouts] == [e for e in (10, 20, 30) if e <= epochs[-1]]
    assert cp.layouts[0][1:] == ((7, 2), "float32")
    assert reporter.cancelled and len(syncs) == len(epochs) + 1
    with pytest.raises(JobCancelled, match="discarded"):
        reporter.raise_if_stopped()

    def sticky() -> None:
        raise RuntimeError("sticky")

    failing = EpochReporter(cp, rows=7, n_epochs=5, knn_total=None, synchronize=sticky)
    failing.preprocess_end(Emb())
    failing.epoch_end(Emb())
    with pytest.raises(RuntimeError, match="sticky"):
        failing.raise_if_stopped()


def test_auto_backend_falls_back_to_the_cpu(make_service: Callable[..., Service]) -> None:
    if HAS_GPU:
        pytest.skip("a GPU is present: auto picks it")
    svc = make_service(STREAMING_UMAP_BACKEND="auto", STREAMING_UMAP_WARMUP="0",
                       GPU_UMAP_MAX_CONCURRENT_JOBS="1")
    with svc.client() as c:
        health = c.get("/health").json()
        data, _ = labelled_mixture(60, 8, clusters=3, seed=1)
        r = submit(c, "cluster", data, algorithm="kmeans", n_clusters=3, random_state=0)
    assert health["backend"] == "cpu" and health["gpu"] is None
    assert r.status_code == 200 and len(r.json()["labels"]) == 60


# ====================================================================== on a GPU


@pytest.fixture(scope="module")
def backend() -> Any:
    if not HAS_GPU:
        pytest.skip("needs a CUDA device and cuML")
    from streaming_umap.backends.gpu import GPUBackend

    return GPUBackend()


OPTIONS = RunOptions(chunk_size=1000)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA device and cuML")
class TestBackend:
    def test_describe_names_the_device_and_its_memory(self, backend: Any) -> None:
        info = backend.describe()
        gpu = info["gpu"]
        assert info["device"] and info["device"] == gpu["name"]
        assert 0 < gpu["free_memory"] <= gpu["total_memory"]
        assert gpu["rmm_pool_used"] >= 0 and gpu["cuml_version"]

    def test_stages_chunks_and_200_epochs_above_10k_rows(self, backend: Any) -> None:
        data, _ = labelled_mixture(20_000, 32, clusters=8, seed=2)
        cp = Recorder()
        out = backend.umap(data, UMAPParams(metric="cosine"), cp, OPTIONS)
        assert out.embedding.shape == (20_000, 2) and out.embedding.dtype == np.float32
        assert np.isfinite(out.embedding).all() and out.warnings == []
        assert cp.stages == [("knn", 20), ("graph", 1), ("layout", 200)]
        # cosine at this size: cuML's own brute force inside fit, so the kNN ends in one step
        assert cp.done("knn") == [20] and set(out.stage_seconds) == {"knn+graph+layout"}
        knn_last = [c for s, _, c in cp.advances if s == "knn"][-1]
        assert knn_last == {"processed_points": 20_000, "current_chunk": 20, "total_chunks": 20}
        epochs = cp.epochs()
        assert epochs == sorted(set(epochs)) and epochs[-1] == 200 and len(epochs) >= 8

    def test_cosine_with_zero_rows_takes_the_chunked_knn(self, backend: Any) -> None:
        data, _ = labelled_mixture(5000, 32, clusters=5, seed=12)
        data[[0, 17]] = 0.0  # cuML's own cosine kNN would make these NaN
        cp = Recorder()
        out = backend.umap(data, UMAPParams(metric="cosine"), cp, OPTIONS)
        assert np.isfinite(out.embedding).all() and "knn" in out.stage_seconds
        assert cp.stages == [("knn", 5), ("graph", 1), ("layout", 500)] and cp.done("knn") == [5]
        plain = backend.umap(data[18:], UMAPParams(metric="cosine"), Recorder(), OPTIONS)
        assert "knn" not in plain.stage_seconds  # no zero rows: cuML's brute force

    def test_500_epochs_at_10k_rows(self, backend: Any) -> None:
        data, _ = labelled_mixture(10_000, 16, clusters=5, seed=3)
        cp = Recorder()
        backend.umap(data, UMAPParams(), cp, OPTIONS)
        assert cp.stages[-1] == ("layout", 500) and cp.epochs()[-1] == 500

    def test_nn_descent_path_above_the_exact_threshold(self, backend: Any) -> None:
        rows = gm.EXACT_KNN_MAX_ROWS + 10_000
        data, _ = labelled_mixture(rows, 48, clusters=10, seed=4)
        cp = Recorder()
        out = backend.umap(data, UMAPParams(metric="euclidean"), cp, RunOptions(chunk_size=10_000))
        total = -(-rows // 10_000)
        assert cp.stages == [("knn", total), ("graph", 1), ("layout", 200)]
        assert cp.done("knn") == [total] and cp.epochs()[-1] == 200
        assert _trust(data, out.embedding, "euclidean", sample=3000) >= 0.95

    @pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
    def test_ivf_flat_knn_is_close_to_exact(self, backend: Any) -> None:
        from streaming_umap.backends._gpu_knn import exact_knn_gpu, ivf_knn_gpu

        data, _ = labelled_mixture(40_000, 64, clusters=10, seed=6)
        _, exact_i, exact_d = exact_knn_gpu(data, 15, "euclidean", 1000, NullCheckpoint())
        _, ivf_i, ivf_d = ivf_knn_gpu(data, 15, "euclidean", 1000, NullCheckpoint(), n_lists=64, n_probes=16)
        exact_i, exact_d, ivf_i, ivf_d = (a.get() for a in (exact_i, exact_d, ivf_i, ivf_d))
        assert (ivf_i[:, 0] == np.arange(40_000)).all() and (ivf_d[:, 0] == 0).all()
        assert (np.diff(ivf_d, axis=1) >= -1e-4).all()  # sorted nearest first
        recall = np.mean([len(set(a) & set(b)) / 15 for a, b in zip(ivf_i, exact_i)])
        assert recall >= 0.9
        same = ivf_i == exact_i  # where both found the same neighbour, the same distance
        assert np.allclose(ivf_d[same], exact_d[same], rtol=1e-3, atol=1e-3)

    def test_trustworthiness_on_100k_labelled_blobs(self, backend: Any) -> None:
        data, labels = labelled_mixture(100_000, 512, seed=5)
        out = backend.umap(data, UMAPParams(metric="cosine"), Recorder(), OPTIONS)
        assert _trust(data, out.embedding, "cosine") >= 0.97
        clusters = backend.cluster(out.embedding, ClusterParams(algorithm="hdbscan", min_cluster_size=200),
                                   Recorder(), OPTIONS)
        from sklearn.metrics import adjusted_rand_score

        kept = clusters.labels >= 0
        assert adjusted_rand_score(labels[kept], clusters.labels[kept]) >= 0.9

    def test_pause_blocks_in_the_layout_and_the_job_goes_on(self, backend: Any) -> None:
        data, _ = labelled_mixture(30_000, 32, seed=6)
        cp = Recorder(hold_at_epoch=40)
        out = backend.umap(data, UMAPParams(), cp, OPTIONS)
        epochs = cp.epochs()
        assert len(cp.held) == 1 and cp.held[0] >= 40
        assert [e for e in epochs if e > cp.held[0]] and epochs[-1] == 200
        assert np.isfinite(out.embedding).all()

    def test_cancel_during_knn_stops_at_the_chunk(self, backend: Any) -> None:
        # manhattan takes our chunked kNN: 10 calls of 10k rows (10 chunks each)
        data, _ = labelled_mixture(100_000, 32, seed=7)
        cp = Recorder(cancel_when=lambda stage, done: stage == "knn" and done >= 30)
        with pytest.raises(JobCancelled):
            backend.umap(data, UMAPParams(metric="manhattan"), cp, OPTIONS)
        assert cp.done("knn") == [10, 20, 30] and [s for s, _ in cp.stages] == ["knn"]

    def test_cancel_during_layout_discards_and_stays_silent(self, backend: Any) -> None:
        data, _ = labelled_mixture(20_000, 32, seed=8)
        cp = Recorder(cancel_when=lambda stage, done: stage == "layout" and done >= 20, live_every=10)
        with pytest.raises(JobCancelled, match="discarded"):
            backend.umap(data, UMAPParams(), cp, OPTIONS)
        epochs = cp.epochs()
        assert 20 <= epochs[-1] < 200  # nothing reported after the cancel
        assert [e for e, _, _ in cp.layouts] == [e for e in (10, 20, 30) if e <= epochs[-1]]
        assert all(shape == (20_000, 2) for _, shape, _ in cp.layouts)
        after = backend.umap(data[:2000], UMAPParams(), Recorder(), OPTIONS)
        assert np.isfinite(after.embedding).all()

    def test_out_of_memory_fails_the_job_and_the_next_one_runs(self, backend: Any) -> None:
        import cupy

        data = np.random.default_rng(9).random((100_000, 512), dtype=np.float32)  # 195 MiB
        hog = _fill_device(cupy, leave=128 << 20)  # the rows cannot even be uploaded
        try:
            with pytest.raises(DeviceOutOfMemory, match="100000 x 512"):
                backend.umap(data, UMAPParams(), Recorder(), OPTIONS)
            _give_back(hog, 256 << 20)  # the upload fits now; the kNN or the graph may not
            try:  # under pressure: a result, or DeviceOutOfMemory, never anything else
                squeezed = backend.umap(data, UMAPParams(), Recorder(), OPTIONS)
                assert np.isfinite(squeezed.embedding).all()
            except DeviceOutOfMemory:
                pass
        finally:
            del hog
        out = backend.umap(data, UMAPParams(), Recorder(), OPTIONS)
        assert np.isfinite(out.embedding).all() and backend.failures >= 1
        with pytest.raises(MemoryError) as raised:
            cupy.empty(1 << 50, dtype=cupy.uint8)  # the real shape of a device OOM
        assert classify(raised.value) == "oom"

    def test_self_first_repairs_ties(self, backend: Any) -> None:
        import cupy

        from streaming_umap.backends._gpu_knn import self_first

        idx = cupy.asarray([[10, 11, 12], [12, 11, 10], [10, 12, 13], [10, 11, 12]], dtype=cupy.int64)
        dist = cupy.asarray([[0, 1, 2], [0, 0, 3], [0, 0, 1], [0, 0, 0]], dtype=cupy.float32)
        i, d = self_first(idx, dist, first_row=10)
        assert i.get().tolist() == [[10, 11, 12], [11, 12, 10], [12, 10, 13], [13, 10, 11]]
        assert d.get()[:, 0].tolist() == [0, 0, 0, 0]
        dup = np.repeat(np.eye(4, 8, dtype=np.float32), 6, axis=0)  # 24 rows, 6 copies each
        out = backend.umap(dup, UMAPParams(n_neighbors=10), Recorder(), OPTIONS)
        assert np.isfinite(out.embedding).all()

    @pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan", "correlation", "chebyshev"])
    def test_every_metric(self, backend: Any, metric: Any) -> None:
        data, _ = labelled_mixture(3000, 16, clusters=4, seed=10)
        out = backend.umap(data, UMAPParams(metric=metric, n_epochs=100), Recorder(), OPTIONS)
        assert out.embedding.shape == (3000, 2) and np.isfinite(out.embedding).all()

    def test_clustering_matches_the_cpu_backend(self, backend: Any) -> None:
        from sklearn.datasets import make_blobs
        from sklearn.metrics import adjusted_rand_score

        from streaming_umap.pipeline.cluster_cpu import run_cluster

        x, truth = make_blobs(20_000, n_features=2, centers=5, cluster_std=0.3, random_state=0)
        x = x.astype(np.float32)
        cases = [ClusterParams(algorithm="kmeans", n_clusters=5, random_state=0),
                 ClusterParams(algorithm="dbscan", eps=0.3, min_samples=10),
                 ClusterParams(algorithm="hdbscan", min_cluster_size=100, min_samples=10)]
        for params in cases:
            cp = Recorder()
            gpu = backend.cluster(x, params, cp, OPTIONS)
            cpu = run_cluster(x, params, Recorder(), OPTIONS)
            assert cp.stages == [("cluster", 1)] and gpu.labels.dtype == np.int32
            assert gpu.n_clusters == cpu.n_clusters == 5, params.algorithm
            assert adjusted_rand_score(cpu.labels, gpu.labels) >= 0.95, params.algorithm
            assert adjusted_rand_score(truth, gpu.labels) >= 0.95, params.algorithm
            if params.algorithm == "kmeans":
                assert gpu.centers is not None and gpu.centers.shape == (5, 2) and gpu.noise_points is None
            else:
                assert gpu.centers is None and gpu.noise_points == int((gpu.labels == -1).sum())

    def test_clustering_fallbacks_and_errors(self, backend: Any) -> None:
        from streaming_umap.errors import InvalidInput

        data, _ = labelled_mixture(500, 8, clusters=3, seed=11)
        out = backend.cluster(data, ClusterParams(algorithm="dbscan", metric="manhattan", eps=8.0),
                              Recorder(), OPTIONS)
        assert out.labels.shape == (500,) and "ran on the CPU" in out.warnings[-1]
        tiny = backend.cluster(data[:10], ClusterParams(algorithm="kmeans", n_clusters=3), Recorder(), OPTIONS)
        assert tiny.labels.shape == (10,) and tiny.warnings == []
        with pytest.raises(InvalidInput, match="n_clusters is 20"):
            backend.cluster(data[:10], ClusterParams(algorithm="kmeans", n_clusters=20), Recorder(), OPTIONS)
        with pytest.raises(InvalidInput, match="euclidean"):
            backend.cluster(data, ClusterParams(algorithm="kmeans", metric="cosine"), Recorder(), OPTIONS)
        clamped = backend.cluster(data[:40], ClusterParams(algorithm="hdbscan", min_cluster_size=100),
                                  Recorder(), OPTIONS)
        assert "min_cluster_size clamped from 100 to 40" in clamped.warnings

    def test_warm_up_returns_a_layout_speed(self, backend: Any) -> None:
        calibration = backend.warm_up(light=True)
        assert calibration.get("layout", 0) > 0


# ====================================================================== a GPU service


@pytest.fixture(scope="module")
def gpu_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    if not HAS_GPU:
        pytest.skip("needs a CUDA device and cuML")
    svc = Service(tmp_path_factory.mktemp("gpu-service"),
                  {"STREAMING_UMAP_BACKEND": "gpu", "GPU_UMAP_MAX_CONCURRENT_JOBS": "2",
                   "STREAMING_UMAP_CANCEL_GRACE": "30"})
    svc.start()
    yield svc
    svc.stop()


def _pids(svc: Service) -> list[int]:
    with svc.client() as c:
        return sorted(p["pid"] for p in c.get("/health").json()["processes"])


def _status(c: Any, job_id: str) -> dict[str, Any]:
    return dict(c.get(f"/umap/streaming/status/{job_id}", params={"include_result": "false"}).json())


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA device and cuML")
class TestService:
    def test_health_reports_the_gpu(self, gpu_service: Service) -> None:
        with gpu_service.client() as c:
            health = c.get("/health").json()
        assert health["backend"] == "gpu" and health["status"] == "ok"
        gpu = health["gpu"]
        assert health["device"] == gpu["name"] and gpu["total_memory"] > gpu["free_memory"] > 0
        assert {"rmm_pool_size", "rmm_pool_used", "cuda_visible_devices", "cuml_version"} <= set(gpu)

    def test_epoch_frames_and_live_layouts_over_the_socket(self, gpu_service: Service) -> None:
        data, _ = labelled_mixture(100_000, 32, seed=12)
        with gpu_service.client() as c:
            job_id = start_job(c, "umap", data, n_epochs=1000)
            seen = frames(gpu_service.ws_url, job_id, timeout=120, query="?live=1&live_every=10")
            final = _status(c, job_id)
            plain = start_job(c, "umap", data[:20_000])
            default = wait_status(c, plain)
        assert final["status"] == "completed" and (final["epoch"], final["total_epochs"]) == (1000, 1000)
        layout = [f for f in seen if f.get("stage") == "layout" and f["type"] == "progress"]
        assert layout and all(f["total_epochs"] == 1000 for f in layout)
        headers = [i for i, f in enumerate(seen) if f["type"] == "layout"]
        assert headers, "no live layout arrived"
        for i in headers:
            assert seen[i]["rows"] == 100_000 and seen[i]["epoch"] % 10 == 0
            assert seen[i + 1] == {"type": "binary", "bytes": 100_000 * 2 * 4}
        assert (default["epoch"], default["total_epochs"]) == (200, 200)

    def test_pause_and_cancel_during_knn_and_layout(self, gpu_service: Service) -> None:
        # 150k x 512, manhattan (our chunked kNN; euclidean and cosine use cuML's in one
        # step): 10 calls of 15k rows, then a long layout
        data = np.random.default_rng(13).random((150_000, 512), dtype=np.float32)
        with gpu_service.client() as c:
            pids = _pids(gpu_service)
            for stage in ("knn", "layout"):
                job_id = start_job(c, "umap", data, chunk_size=100, n_epochs=1000, metric="manhattan")
                wait_for(lambda j=job_id, s=stage: _status(c, j)["stage"] in (s, "done"),
                         timeout=60, interval=0.005)
                assert c.post(f"/umap/streaming/pause/{job_id}").status_code == 200
                paused = wait_status(c, job_id, ("paused", "completed"), timeout=60)
                assert paused["status"] == "paused" and paused["stage"] == stage
                time.sleep(0.3)
                later = wait_status(c, job_id, ("paused",), timeout=5)
                assert (later["processed_points"], later["epoch"]) == (paused["processed_points"], paused["epoch"])
                assert c.delete(f"/umap/streaming/cancel/{job_id}").status_code == 200
                final = wait_status(c, job_id, timeout=60)
                assert final["status"] == "cancelled" and final["result"] is None
                if stage == "knn":
                    assert final["processed_points"] < 150_000 and final["epoch"] is None
            assert _pids(gpu_service) == pids  # nobody had to be killed
            after = start_job(c, "umap", data[:5000])
            assert wait_status(c, after)["status"] == "completed"

    def test_resume_gives_a_complete_layout(self, gpu_service: Service) -> None:
        data, _ = labelled_mixture(50_000, 64, seed=14)
        with gpu_service.client() as c:
            job_id = start_job(c, "umap", data, n_epochs=2000)
            wait_for(lambda: (_status(c, job_id)["epoch"] or 0) > 0, timeout=60, interval=0.005)
            assert c.post(f"/umap/streaming/pause/{job_id}").status_code == 200
            assert wait_status(c, job_id, ("paused", "completed"), timeout=60)["status"] == "paused"
            assert c.post(f"/umap/streaming/resume/{job_id}").status_code == 200
            final = wait_status(c, job_id, timeout=120)
            embedding = np.load(io.BytesIO(c.get(f"/umap/streaming/result/{job_id}?format=npy").content))
        assert final["status"] == "completed" and final["epoch"] == 2000
        assert _trust(data, embedding, "euclidean", sample=3000) >= 0.95

    def test_clustering_and_immediate_requests(self, gpu_service: Service) -> None:
        data, labels = labelled_mixture(50_000, 64, clusters=8, seed=15)
        with gpu_service.client() as c:
            job_id = start_job(c, "cluster", data, algorithm="kmeans", n_clusters=8, random_state=0)
            assert wait_status(c, job_id)["status"] == "completed"
            result = c.get(f"/umap/streaming/result/{job_id}").json()
            small = submit(c, "umap", data[:500], n_neighbors=10)
            hd = submit(c, "cluster", data[:800], algorithm="hdbscan", min_cluster_size=20)
        from sklearn.metrics import adjusted_rand_score

        assert adjusted_rand_score(labels, result["labels"]) >= 0.95
        assert np.asarray(result["centers"]).shape == (8, 64) and result["n_clusters"] == 8
        assert small.status_code == 200 and np.asarray(small.json()["embeddings"]).shape == (500, 2)
        assert hd.status_code == 200 and hd.json()["n_clusters"] >= 2


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA device and cuML")
def test_out_of_memory_in_a_worker_leaves_it_usable(make_service: Callable[..., Service]) -> None:
    svc = make_service(STREAMING_UMAP_BACKEND="gpu", GPU_UMAP_RMM_POOL_SIZE="512",
                       GPU_UMAP_MAX_CONCURRENT_JOBS="1", STREAMING_UMAP_WARMUP="0")
    big = np.random.default_rng(0).random((140_000, 1024), dtype=np.float32)  # 573 MB > 512 MiB
    with svc.client() as c:
        pids = _pids(svc)
        assert c.get("/health").json()["gpu"]["rmm_pool_limit"] == 512 << 20
        r = submit(c, "umap", big)
        if r.status_code == 413:  # refused up front by GPU memory admission
            assert "GPU_UMAP_RMM_POOL_SIZE" in r.json()["detail"]
        else:
            assert r.status_code == 202, r.text
            failed = wait_status(c, r.json()["job_id"], timeout=120)
            assert failed["status"] == "failed" and "out of GPU memory" in failed["error"]
        del big
        data, _ = labelled_mixture(5000, 32, seed=16)
        after = start_job(c, "umap", data)
        assert wait_status(c, after, timeout=120)["status"] == "completed"
        assert _pids(svc) == pids
    log = svc.log_file.read_text(errors="replace")
    assert "peak" in log and "GiB of GPU memory" in log


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA device and cuML")
def test_tiny_inputs(backend: Any) -> None:
    """Last in the file: should cuML crash on a tiny graph, nothing else is lost."""
    data, _ = labelled_mixture(300, 16, clusters=5, seed=3)
    for rows in (1, 3):
        out = backend.umap(data[:rows], UMAPParams(n_components=3), Recorder(), OPTIONS)
        assert out.embedding.shape == (rows, 3) and "PCA" in out.warnings[-1]
    for rows in (300, 40, 8, 5, 4):
        out = backend.umap(data[:rows], UMAPParams(n_neighbors=15), Recorder(), OPTIONS)
        assert out.embedding.shape == (rows, 2) and np.isfinite(out.embedding).all(), rows
        assert any("clamped" in w for w in out.warnings) == (rows <= 15)
