"""GPU benchmark: the service end to end vs bare cuML, side by side on one GPU.

    python3 benchmarks/bench_gpu.py --out DIR [--budget 170] [--sizes 10000,100000,1000000]
    python3 benchmarks/bench_gpu.py --out DIR --dry-run     # no GPU: CPU service, tiny sizes

Writes ``DIR/gpu-bench.json`` (rewritten after every step, so a run cut short keeps
what it measured) and ``DIR/gpu-bench.md`` (a table against the goals).

Measured, in this order (a step that would start after ``--budget`` seconds is
skipped and says so):

* UMAP at each size x 512 (cosine, 15 neighbours, default epochs): bare
  ``cuml.UMAP(...).fit_transform(X)`` on host data, and the service end to end
  (POST the .npy, wait for the terminal WebSocket frame, GET the .npy result),
  with the job's own compute time (``finished_at - started_at``) beside it;
  trustworthiness of both on the same 5,000-row sample.
* immediate requests (500 rows): p50/p90 latency, .npy in and JSON in.
* clustering: KMeans on 100k x 512 (k=20) and HDBSCAN on the 100k layout, bare vs service.
* cancel during the layout: finish-and-discard (cancel -> ``cancelled``, and until
  the worker is free) vs kill (the worker killed as the supervisor does after
  STREAMING_UMAP_CANCEL_GRACE, and the time until its replacement is warm).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from streaming_umap.datasets import labelled_mixture  # noqa: E402

log = logging.getLogger("bench_gpu")
logging.getLogger("httpx").setLevel(logging.WARNING)

GOALS = {
    "service_vs_bare_100k": 0.9,  # service time / bare cuML time at 100k
    "umap_1m_seconds": 10.0,  # on an H200
    "immediate_p50_seconds": 0.150,
    "trust_gap": 0.01,
}
TRUST_SAMPLE = 5000
STEPS = ("umap", "knn", "immediate", "cluster", "ivf", "cancel")
IMMEDIATE_ROWS = 500


# ---------------------------------------------------------------- arguments


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder for gpu-bench.json / .md")
    p.add_argument("--sizes", default="10000,100000,1000000", help="UMAP row counts, comma separated")
    p.add_argument("--dims", type=int, default=512)
    p.add_argument("--metric", default="cosine", choices=["cosine", "euclidean"])
    p.add_argument("--budget", type=float, default=170.0, help="seconds; later steps are skipped")
    p.add_argument("--repeats", default="2,2,1", help="runs per size (last value repeats)")
    p.add_argument("--dry-run", action="store_true",
                   help="no GPU: a CPU service, tiny sizes, no bare cuML (checks the plumbing)")
    p.add_argument("--port", type=int, default=0, help="service port (0: a free one)")
    p.add_argument("--steps", default=",".join(STEPS),
                   help=f"comma-separated subset of {','.join(STEPS)} (default: all)")
    args = p.parse_args(argv)
    try:
        args.sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
        args.repeats = [int(s) for s in str(args.repeats).split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes and --repeats take comma-separated integers, found {args.sizes!r} / {args.repeats!r}")
    if not args.sizes or min(args.sizes) < 100 or not args.repeats or min(args.repeats) < 1:
        p.error("--sizes needs row counts >= 100 and --repeats counts >= 1")
    args.steps = {s.strip() for s in str(args.steps).split(",") if s.strip()}
    if not args.steps <= set(STEPS):
        p.error(f"--steps takes some of {','.join(STEPS)}, found {sorted(args.steps - set(STEPS))}")
    if args.dry_run:
        args.sizes, args.dims, args.repeats = [1500, 3000], 32, [1]
    return args


def repeats_for(index: int, repeats: list[int]) -> int:
    return repeats[min(index, len(repeats) - 1)]


# ---------------------------------------------------------------- results


class Results:
    """The JSON document, rewritten after each step."""

    def __init__(self, out: Path, meta: dict[str, Any]) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.doc: dict[str, Any] = {"meta": meta, "umap": [], "knn_batches": {}, "immediate": {},
                                    "cluster": [], "cancel": {}, "skipped": [], "errors": []}
        self.save()

    def save(self) -> None:
        for name, text in (("gpu-bench.json", json.dumps(self.doc, indent=2, default=_jsonable)),
                           ("gpu-bench.md", render_markdown(self.doc))):
            tmp = self.out / (name + ".tmp")
            tmp.write_text(text)
            tmp.replace(self.out / name)

    def markdown(self) -> str:
        return render_markdown(self.doc)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return str(value)


# ---------------------------------------------------------------- the service


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A real server in a subprocess (like tests/conftest.py's, standalone)."""

    def __init__(self, folder: Path, env: dict[str, str], port: int = 0) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.env = dict(os.environ)
        self.env.update(
            STREAMING_UMAP_DATA_DIR=str(folder / "data"), STREAMING_UMAP_LOG_DIR=str(folder / "logs"),
            NUMBA_CACHE_DIR=str(ROOT / ".cache" / "numba"), PYTHONUNBUFFERED="1",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
        )
        self.env.update(env)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.folder / "logs" / "umap_service.log"

    def start(self, timeout: float = 240.0) -> float:
        """Start and wait until every worker is warm; return the seconds it took."""
        started = time.perf_counter()
        out = open(self.folder / "server.out", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streaming_umap.cli", "serve", "--host", "127.0.0.1",
             "--port", str(self.port)], env=self.env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.wait_warm(timeout)
        return time.perf_counter() - started

    def health(self) -> dict[str, Any]:
        import httpx

        return dict(httpx.get(self.url + "/health", timeout=5).json())

    def wait_warm(self, timeout: float) -> dict[str, Any]:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                h = self.health()
                w = h["workers"]
                if h["status"] == "ok" and w["warming"] == 0 and w["idle"] == w["total"] > 0:
                    return h
            except (httpx.HTTPError, KeyError):
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server not warm in {timeout} s:\n{self.tail()}")

    def job_worker_pid(self) -> int:
        """The pid of a job worker (``/health`` lists the worker processes)."""
        pids = [p["pid"] for p in self.health().get("processes", []) if p["role"] == "job"]
        if not pids:
            raise RuntimeError("/health lists no job worker process")
        return int(pids[0])

    def tail(self, lines: int = 30) -> str:
        path = self.folder / "server.out"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def in_chunks(body: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    """Upload bodies as a stream of 1 MiB pieces: httpx sends one large ``bytes`` object
    at ~25 MB/s (measured: 600 MB took 25 s, the same in 1 MiB pieces 2.4 s). Callers set
    the Content-Length, as the Python client does, so that the server spools large bodies
    to disk (without it httpx sends chunked encoding and the server reads it into memory)."""
    view = memoryview(body)
    for start in range(0, len(body), size):
        yield bytes(view[start:start + size])


def wait_terminal(server: Server, job_id: str, timeout: float,
                  on_frame: Callable[[Any, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Follow the job's WebSocket until its terminal frame; return that frame."""
    from websockets.sync.client import connect

    ws_url = server.url.replace("http://", "ws://") + f"/umap/streaming/ws/{job_id}"
    deadline = time.monotonic() + timeout
    with connect(ws_url, open_timeout=30, max_size=None) as ws:
        while time.monotonic() < deadline:
            message = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            if isinstance(message, bytes):
                continue
            frame = json.loads(message)
            if on_frame is not None:
                on_frame(ws, frame)
            if frame["type"] in ("completed", "failed", "cancelled"):
                return dict(frame)
    raise TimeoutError(f"job {job_id} did not end in {timeout} s")


def service_job(server: Server, kind: str, data: np.ndarray, params: dict[str, Any],
                timeout: float = 600.0) -> tuple[dict[str, Any], np.ndarray]:
    """One job end to end; returns its timings and the fetched result array."""
    import httpx

    body = npy_bytes(data)
    query = {k: str(v) for k, v in params.items() if v is not None}
    with httpx.Client(base_url=server.url, timeout=timeout) as c:
        t0 = time.perf_counter()
        r = c.post(f"/umap/streaming/{kind}", params=query, content=in_chunks(body),
                   headers={"Content-Type": "application/x-npy", "Content-Length": str(len(body))})
        t_submitted = time.perf_counter()
        if r.status_code != 202:
            raise RuntimeError(f"submit answered {r.status_code}: {r.text[:300]}")
        job_id = r.json()["job_id"]
        final = wait_terminal(server, job_id, timeout)
        t_done = time.perf_counter()
        if final["type"] != "completed":
            raise RuntimeError(f"job {job_id} {final['type']}: {final.get('error')}")
        raw = c.get(f"/umap/streaming/result/{job_id}", params={"format": "npy"})
        result = np.load(io.BytesIO(raw.content))
        t_end = time.perf_counter()
        status = c.get(f"/umap/streaming/status/{job_id}", params={"include_result": "false"}).json()
    timing = {
        "total_s": t_end - t0,
        "submit_s": t_submitted - t0,
        "wait_s": t_done - t_submitted,
        "fetch_s": t_end - t_done,
        "job_s": (status["finished_at"] or 0) - (status["started_at"] or 0),
        "queue_s": (status["started_at"] or 0) - status["created_at"],
        "warning": status.get("warning"),
    }
    return timing, result


# ---------------------------------------------------------------- data and metrics


def mixture(rows: int, dims: int, seed: int, on_gpu: bool) -> tuple[np.ndarray, np.ndarray]:
    """``datasets.labelled_mixture``'s distribution; made on the GPU for big sizes."""
    if not on_gpu or rows <= 200_000:
        return labelled_mixture(rows, dims, seed=seed)
    import cupy

    clusters, rank = 20, min(8, dims)
    rng = cupy.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dims), dtype=cupy.float32) * 3.0
    bases = rng.standard_normal((clusters, rank, dims), dtype=cupy.float32) / np.sqrt(dims) * 2.0
    labels = rng.integers(0, clusters, rows).astype(cupy.int32)
    data = np.empty((rows, dims), dtype=np.float32)
    for start in range(0, rows, 100_000):
        lab = labels[start:start + 100_000]
        coeff = rng.standard_normal((lab.size, rank), dtype=cupy.float32)
        block = centres[lab] + cupy.einsum("nr,nrd->nd", coeff, bases[lab])
        block += rng.standard_normal(block.shape, dtype=cupy.float32) * 0.5
        data[start:start + lab.size] = block.get()
    return data, labels.get()


def trust(data: np.ndarray, embedding: np.ndarray, metric: str, sample: np.ndarray) -> float:
    from sklearn.manifold import trustworthiness

    value = trustworthiness(data[sample], embedding[sample], n_neighbors=15, metric=metric)
    return round(float(value), 4)


def ari(truth: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import adjusted_rand_score

    return round(float(adjusted_rand_score(truth, labels)), 4)


def to_host(array: Any) -> np.ndarray:
    return np.asarray(array.get() if hasattr(array, "get") else array)


# ---------------------------------------------------------------- bare cuML


class Bare:
    """Plain cuML calls, as a user would write them (default memory resource)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        if enabled:
            import warnings

            warnings.simplefilter("ignore")
            import cuml

            self.cuml = cuml
            warm = np.random.default_rng(0).random((2000, 16), dtype=np.float32)
            cuml.UMAP(n_neighbors=15).fit_transform(warm)  # both kNN builds cuML's "auto" picks
            cuml.UMAP(n_neighbors=15, build_algo="nn_descent").fit_transform(warm)
            cuml.KMeans(n_clusters=4).fit(warm)
            cuml.HDBSCAN(min_cluster_size=20).fit(warm[:, :2])

    def umap(self, data: np.ndarray, metric: str) -> tuple[float, np.ndarray]:
        started = time.perf_counter()
        embedding = self.cuml.UMAP(n_neighbors=15, n_components=2, metric=metric).fit_transform(data)
        embedding = to_host(embedding)
        return time.perf_counter() - started, embedding

    def kmeans(self, data: np.ndarray, k: int) -> tuple[float, np.ndarray]:
        started = time.perf_counter()
        model = self.cuml.KMeans(n_clusters=k, n_init=1, random_state=0).fit(data)
        return time.perf_counter() - started, to_host(model.labels_)

    def hdbscan(self, data: np.ndarray, min_cluster_size: int, min_samples: int) -> tuple[float, np.ndarray]:
        started = time.perf_counter()
        model = self.cuml.HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples).fit(data)
        return time.perf_counter() - started, to_host(model.labels_)


# ---------------------------------------------------------------- steps


class Bench:
    def __init__(self, args: argparse.Namespace, results: Results, server: Server, bare: Bare,
                 started: float) -> None:
        self.args = args
        self.results = results
        self.server = server
        self.bare = bare
        self.started = started  # the budget counts from the script's start
        self.layout_100k: tuple[np.ndarray, np.ndarray] | None = None

    def left(self) -> float:
        return float(self.args.budget) - (time.monotonic() - self.started)

    @contextmanager
    def step(self, name: str, needs: float) -> Iterator[bool]:
        """Run a step if ``needs`` seconds are left; record errors, save after it."""
        if self.left() < needs:
            self.results.doc["skipped"].append(f"{name}: {self.left():.0f} s left, needs ~{needs:.0f} s")
            log.warning("skipping %s (%.0f s left)", name, self.left())
            self.results.save()
            yield False
            return
        log.info("step %s (%.0f s left)", name, self.left())
        try:
            yield True
        except Exception as exc:  # keep going: one failed step must not lose the others
            log.exception("step %s failed", name)
            self.results.doc["errors"].append(f"{name}: {type(exc).__name__}: {exc}")
        finally:
            self.results.save()

    def umap_size(self, index: int, rows: int) -> None:
        metric, dims = self.args.metric, self.args.dims
        needs = {10_000: 8, 100_000: 20}.get(rows, 4 + rows * 4e-5)
        with self.step(f"umap {rows}", needs) as go:
            if not go:
                return
            data, labels = mixture(rows, dims, seed=index, on_gpu=not self.args.dry_run)
            sample = np.random.default_rng(1).choice(rows, size=min(TRUST_SAMPLE, rows), replace=False)
            entry: dict[str, Any] = {"rows": rows, "dims": dims, "metric": metric, "bare": [], "service": []}
            self.results.doc["umap"].append(entry)
            bare_emb = service_emb = None
            for _ in range(repeats_for(index, self.args.repeats)):
                if self.bare.enabled:
                    seconds, bare_emb = self.bare.umap(data, metric)
                    entry["bare"].append(round(seconds, 4))
                timing, service_emb = service_job(self.server, "umap", data, {"metric": metric})
                entry["service"].append({k: (round(v, 4) if isinstance(v, float) else v)
                                         for k, v in timing.items()})
                self.results.save()
            if bare_emb is not None:
                entry["bare_trust"] = trust(data, bare_emb, metric, sample)
            if service_emb is not None:
                entry["service_trust"] = trust(data, service_emb, metric, sample)
                if rows == 100_000 or self.layout_100k is None:
                    self.layout_100k = (service_emb, labels)
            summarise_umap(entry)

    def knn_batches(self) -> None:
        """The exact kNN stage alone at 100k x 512 (cosine) for several query-batch sizes,
        each one cuVS call, in this process: what ``knn_batch_rows`` is tuned from."""
        rows = 100_000 if not self.args.dry_run else 3000
        with self.step("knn batches", 20) as go:
            if not go or self.args.dry_run:
                return
            import cupy

            from streaming_umap.backends._gpu_knn import exact_knn_gpu
            from streaming_umap.pipeline.checkpoint import NullCheckpoint
            from streaming_umap.pipeline.gpu_memory import knn_batch_rows

            data, _ = mixture(rows, self.args.dims, seed=21, on_gpu=True)
            default = knn_batch_rows(rows, 1000, self.args.dims)
            out: dict[str, Any] = {"rows": rows, "dims": self.args.dims, "k": 15, "default_batch": default,
                                   "seconds": {}}
            self.results.doc["knn_batches"] = out
            reference = None
            for batch in (default, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, default):
                cupy.cuda.runtime.deviceSynchronize()
                started = time.perf_counter()
                _, indices, _ = exact_knn_gpu(data, 15, "cosine", 1000, NullCheckpoint(), batch=batch)
                cupy.cuda.runtime.deviceSynchronize()
                seconds = time.perf_counter() - started
                if reference is None:
                    reference = indices[:, 1:].get()  # the first (warm-up) call's answer
                else:
                    same = float((np.sort(indices[:, 1:].get(), axis=1) == np.sort(reference, axis=1)).mean())
                    out.setdefault("same_neighbours", {})[str(batch)] = round(same, 4)
                out["seconds"][str(batch)] = round(seconds, 4)  # the first run (default) is overwritten
                del indices
                self.results.save()
            started = time.perf_counter()
            to_host(self.bare.cuml.UMAP(n_neighbors=15, metric="cosine",
                                        build_algo="brute_force_knn").fit_transform(data))
            out["bare_umap_brute_force_s"] = round(time.perf_counter() - started, 4)
            started = time.perf_counter()
            to_host(self.bare.cuml.UMAP(n_neighbors=15, metric="cosine",
                                        build_algo="nn_descent").fit_transform(data))
            out["bare_umap_nn_descent_s"] = round(time.perf_counter() - started, 4)

    def knn_ivf(self) -> None:
        """1M x 512 cosine: IVF-Flat kNN queried in batches (progress per batch), its
        time and recall@15 against exact brute force on 2000 rows, and the trustworthiness
        of a cuML layout built on it; against NN-descent inside the 1M job (its ``knn``
        stage in the job's log) and bare cuML. Not on the job path: this decides whether
        it should be."""
        rows = 1_000_000
        with self.step("knn ivf 1M", 45) as go:
            if not go or self.args.dry_run:
                return
            import cupy
            from cuml.manifold import UMAP
            from cuml.neighbors import NearestNeighbors

            from streaming_umap.backends._gpu_knn import ivf_knn_gpu, unit_rows
            from streaming_umap.pipeline.checkpoint import NullCheckpoint

            index_1m = self.args.sizes.index(rows) if rows in self.args.sizes else 2
            data, _ = mixture(rows, self.args.dims, seed=index_1m, on_gpu=True)  # the 1M UMAP's rows
            queries = np.random.default_rng(3).choice(rows, size=2000, replace=False)
            x = unit_rows(cupy.asarray(data))
            exact = NearestNeighbors(n_neighbors=15, algorithm="brute", metric="sqeuclidean",
                                     output_type="cupy").fit(x)
            _, truth = exact.kneighbors(x[cupy.asarray(queries)])
            truth = cupy.asarray(truth).get()[:, 1:]  # recall of the 14 others, not the row itself
            del exact, x
            out: dict[str, Any] = {"rows": rows, "dims": self.args.dims, "k": 15, "runs": []}
            self.results.doc["knn_ivf"] = out
            best: tuple[Any, Any] | None = None
            for n_lists, n_probes in ((1024, 16), (1024, 32), (4000, 64), (4000, 128)):
                if self.left() < 15:
                    out["runs"].append({"n_lists": n_lists, "n_probes": n_probes, "skipped": "budget"})
                    break
                cupy.cuda.runtime.deviceSynchronize()
                started = time.perf_counter()
                _, indices, distances = ivf_knn_gpu(data, 15, "cosine", 1000, NullCheckpoint(),
                                                    n_lists=n_lists, n_probes=n_probes)
                cupy.cuda.runtime.deviceSynchronize()
                seconds = time.perf_counter() - started
                found = indices[cupy.asarray(queries)].get()[:, 1:]
                recall = float(np.mean([len(set(a) & set(b)) / 14 for a, b in zip(found, truth)]))
                out["runs"].append({"n_lists": n_lists, "n_probes": n_probes, "seconds": round(seconds, 3),
                                    "recall": round(recall, 4)})
                self.results.save()
                if recall >= 0.95 and best is None:
                    best = (indices, distances)
                    out["layout_from"] = {"n_lists": n_lists, "n_probes": n_probes}
                else:
                    del indices, distances
            if best is not None and self.left() > 15:
                started = time.perf_counter()
                with warnings_ignored():
                    embedding = to_host(UMAP(n_neighbors=15, metric="cosine", precomputed_knn=best,
                                             build_algo="brute_force_knn").fit_transform(data))
                out["layout_s"] = round(time.perf_counter() - started, 3)
                sample = np.random.default_rng(1).choice(rows, size=TRUST_SAMPLE, replace=False)
                out["trust"] = trust(data, embedding, "cosine", sample)

    def immediate(self) -> None:
        with self.step("immediate", 10) as go:
            if not go:
                return
            import httpx

            data, _ = labelled_mixture(IMMEDIATE_ROWS, self.args.dims, seed=9)
            body = npy_bytes(data)
            as_json = json.dumps({"data": data.round(5).tolist(), "n_neighbors": 15})
            out: dict[str, Any] = {"rows": IMMEDIATE_ROWS, "dims": self.args.dims}
            with httpx.Client(base_url=self.server.url, timeout=120) as c:
                requests: tuple[tuple[str, int, Callable[[], httpx.Response]], ...] = (
                    ("umap_npy", 20, lambda: c.post("/umap/streaming/umap", content=body,
                                                     headers={"Content-Type": "application/x-npy"})),
                    ("umap_json", 10, lambda: c.post("/umap/streaming/umap", content=as_json,
                                                      headers={"Content-Type": "application/json"})),
                    ("kmeans_npy", 10, lambda: c.post("/umap/streaming/cluster", params={
                        "algorithm": "kmeans", "n_clusters": "8"}, content=body,
                        headers={"Content-Type": "application/x-npy"})),
                )
                for name, count, send in requests:
                    send()  # first request: not counted
                    times = []
                    for _ in range(count):
                        t0 = time.perf_counter()
                        r = send()
                        times.append(time.perf_counter() - t0)
                        if r.status_code != 200 or r.json().get("job_id") != "immediate":
                            raise RuntimeError(f"{name}: {r.status_code} {r.text[:200]}")
                    out[name] = {"p50_s": round(float(np.percentile(times, 50)), 4),
                                 "p90_s": round(float(np.percentile(times, 90)), 4), "n": count}
            self.results.doc["immediate"] = out

    def clustering(self) -> None:
        with self.step("cluster", 15) as go:
            if not go:
                return
            rows = 100_000 if not self.args.dry_run else 3000
            data, labels = labelled_mixture(rows, self.args.dims, seed=11)
            entry: dict[str, Any] = {"algorithm": "kmeans", "rows": rows, "dims": self.args.dims, "k": 20}
            if self.bare.enabled:
                seconds, bare_labels = self.bare.kmeans(data, 20)
                entry.update(bare_s=round(seconds, 4), bare_ari=ari(labels, bare_labels))
            timing, service_labels = service_job(self.server, "cluster", data,
                                                 {"algorithm": "kmeans", "n_clusters": 20, "random_state": 0})
            entry.update(service=_rounded(timing), service_ari=ari(labels, service_labels))
            self.results.doc["cluster"].append(entry)
            self.results.save()
            if self.layout_100k is None:
                return
            layout, truth = self.layout_100k
            size, samples = (500, 10) if layout.shape[0] >= 50_000 else (20, 5)
            entry = {"algorithm": "hdbscan", "rows": int(layout.shape[0]), "dims": 2,
                     "min_cluster_size": size, "min_samples": samples}
            if self.bare.enabled:
                seconds, bare_labels = self.bare.hdbscan(layout, size, samples - 1)
                entry.update(bare_s=round(seconds, 4), bare_ari=ari(truth, bare_labels))
            timing, service_labels = service_job(self.server, "cluster", np.ascontiguousarray(layout), {
                "algorithm": "hdbscan", "min_cluster_size": size, "min_samples": samples})
            entry.update(service=_rounded(timing), service_ari=ari(truth, service_labels))
            self.results.doc["cluster"].append(entry)

    def cancel(self) -> None:
        """Cancel at the first layout frame: finish-and-discard, then kill."""
        rows = 300_000 if not self.args.dry_run else 3000
        epochs = None if not self.args.dry_run else 3000
        with self.step("cancel", 25) as go:
            if not go:
                return
            data, _ = mixture(rows, self.args.dims, seed=13, on_gpu=not self.args.dry_run)
            out: dict[str, Any] = {"rows": rows, "dims": self.args.dims,
                                   "grace_s": float(self.server.env["STREAMING_UMAP_CANCEL_GRACE"])}
            out["finish_and_discard"] = self._cancel_once(data, epochs, kill=False)
            self.results.doc["cancel"] = out
            self.results.save()
            out["kill"] = self._cancel_once(data, epochs, kill=True)
            finish, kill = out["finish_and_discard"], out["kill"]
            out["faster_to_free_the_worker"] = ("finish_and_discard"
                                                if finish["worker_free_s"] <= kill["worker_free_s"] else "kill")

    def _cancel_once(self, data: np.ndarray, epochs: int | None, kill: bool) -> dict[str, float]:
        import httpx

        params = {"metric": self.args.metric, "n_epochs": epochs}
        query = {k: str(v) for k, v in params.items() if v is not None}
        marks: dict[str, float] = {}
        with httpx.Client(base_url=self.server.url, timeout=600) as c:
            body = npy_bytes(data)
            r = c.post("/umap/streaming/umap", params=query, content=in_chunks(body),
                       headers={"Content-Type": "application/x-npy", "Content-Length": str(len(body))})
            job_id = r.json()["job_id"]
            victim = self.server.job_worker_pid()

            def on_frame(ws: Any, frame: dict[str, Any]) -> None:
                if frame.get("stage") == "layout" and "cancel" not in marks:
                    marks["cancel"] = time.perf_counter()
                    marks["epoch"] = float(frame.get("epoch") or 0)
                    c.delete(f"/umap/streaming/cancel/{job_id}")
                    if kill:  # what the supervisor does once the grace period is over
                        os.kill(victim, signal.SIGKILL)

            final = wait_terminal(self.server, job_id, 600, on_frame)
            marks["cancelled"] = time.perf_counter()
            self.server.wait_warm(300)
            marks["free"] = time.perf_counter()
        if final["type"] != "cancelled":
            raise RuntimeError(f"expected a cancelled job, got {final['type']}")
        return {"cancel_to_cancelled_s": round(marks["cancelled"] - marks["cancel"], 3),
                "worker_free_s": round(marks["free"] - marks["cancel"], 3),
                "epoch_at_cancel": marks["epoch"], "total_epochs": float(final.get("total_epochs") or 0)}


@contextmanager
def warnings_ignored() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _rounded(timing: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in timing.items()}


def summarise_umap(entry: dict[str, Any]) -> None:
    if entry["service"]:
        entry["service_best_s"] = min(s["total_s"] for s in entry["service"])
        entry["service_job_best_s"] = min(s["job_s"] for s in entry["service"])
    if entry["bare"]:
        entry["bare_best_s"] = min(entry["bare"])
    if entry["service"] and entry["bare"]:
        entry["ratio_end_to_end"] = round(entry["service_best_s"] / entry["bare_best_s"], 3)
        entry["ratio_job"] = round(entry["service_job_best_s"] / entry["bare_best_s"], 3)
    if "bare_trust" in entry and "service_trust" in entry:
        entry["trust_gap"] = round(entry["bare_trust"] - entry["service_trust"], 4)


# ---------------------------------------------------------------- report


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}{unit}"
    return f"{value}{unit}"


def render_markdown(doc: dict[str, Any]) -> str:
    meta = doc["meta"]
    header = (f"cuML {meta.get('cuml', '-')}, CuPy {meta.get('cupy', '-')}, RMM {meta.get('rmm', '-')}, "
              f"driver {meta.get('driver', '-')}; {meta.get('date', '')}")
    if meta.get("dry_run"):
        header += "; DRY RUN (CPU service, no bare cuML)"
    lines = [f"# GPU benchmark: {meta.get('device', '?')}", "", header, "",
             "## UMAP (best of the runs; service = POST .npy -> terminal frame -> GET .npy)", "",
             ("| rows x dims | bare cuML s | service end-to-end s | service job s | end-to-end / bare "
              "| job / bare | trust bare | trust service |"),
             "|---|---|---|---|---|---|---|---|"]
    for e in doc["umap"]:
        lines.append(f"| {e['rows']} x {e['dims']} | {_fmt(e.get('bare_best_s'))} | {_fmt(e.get('service_best_s'))} "
                     f"| {_fmt(e.get('service_job_best_s'))} | {_fmt(e.get('ratio_end_to_end'))} "
                     f"| {_fmt(e.get('ratio_job'))} | {_fmt(e.get('bare_trust'))} | {_fmt(e.get('service_trust'))} |")
    knn = doc.get("knn_batches") or {}
    if knn.get("seconds"):
        lines += ["", (f"## Exact kNN stage alone, {knn['rows']} x {knn['dims']} cosine, k={knn['k']} "
                       f"(default batch {knn['default_batch']} rows)"), "",
                  "| query rows per call | calls | seconds | same neighbours as the first run |", "|---|---|---|---|"]
        for batch, seconds in knn["seconds"].items():
            calls = -(-int(knn["rows"]) // int(batch))
            same = (knn.get("same_neighbours") or {}).get(batch)
            lines.append(f"| {batch} | {calls} | {_fmt(seconds)} | {_fmt(same)} |")
        for name, algo in (("bare_umap_brute_force_s", "brute_force_knn"),
                           ("bare_umap_nn_descent_s", "nn_descent")):
            if name in knn:
                lines.append(f"\nbare `cuml.UMAP(build_algo=\"{algo}\")` at {knn['rows']} rows: "
                             f"{_fmt(knn[name])} s")
    ivf = doc.get("knn_ivf") or {}
    if ivf.get("runs"):
        lines += ["", (f"## IVF-Flat kNN (not on the job path), {ivf['rows']} x {ivf['dims']} cosine, "
                       f"k={ivf['k']}, queried in batches; recall of the {ivf['k'] - 1} neighbours besides the row "
                       "itself, against exact, on 2000 rows"), "",
                  "| lists | probes | seconds (build + all queries) | recall |", "|---|---|---|---|"]
        for r in ivf["runs"]:
            lines.append(f"| {r['n_lists']} | {r['n_probes']} | {_fmt(r.get('seconds'))} | {_fmt(r.get('recall'))} |")
        if "layout_s" in ivf:
            lines.append(f"\ncuML layout on the IVF kNN ({ivf['layout_from']}): {_fmt(ivf['layout_s'])} s, "
                         f"trustworthiness {_fmt(ivf.get('trust'))}")
    imm = doc.get("immediate") or {}
    if imm:
        lines += ["", f"## Immediate requests ({imm.get('rows')} rows)", "", "| request | p50 s | p90 s |", "|---|---|---|"]
        for name in ("umap_npy", "umap_json", "kmeans_npy"):
            if name in imm:
                lines.append(f"| {name} | {_fmt(imm[name]['p50_s'])} | {_fmt(imm[name]['p90_s'])} |")
    if doc["cluster"]:
        lines += ["", "## Clustering", "",
                  ("| algorithm | rows x dims | bare s | service end-to-end s | "
                   "service job s | ARI bare | ARI service |"), "|---|---|---|---|---|---|---|"]
        for e in doc["cluster"]:
            service = e.get("service") or {}
            lines.append(f"| {e['algorithm']} | {e['rows']} x {e['dims']} | {_fmt(e.get('bare_s'))} "
                         f"| {_fmt(service.get('total_s'))} | {_fmt(service.get('job_s'))} "
                         f"| {_fmt(e.get('bare_ari'))} | {_fmt(e.get('service_ari'))} |")
    cancel = doc.get("cancel") or {}
    if cancel.get("finish_and_discard"):
        lines += ["", f"## Cancel during the layout ({cancel['rows']} x {cancel['dims']})", "",
                  "| mode | cancel -> cancelled s | cancel -> worker free s | epoch at cancel |", "|---|---|---|---|"]
        for mode in ("finish_and_discard", "kill"):
            if mode in cancel:
                m = cancel[mode]
                lines.append(f"| {mode} | {_fmt(m['cancel_to_cancelled_s'])} | {_fmt(m['worker_free_s'])} "
                             f"| {m['epoch_at_cancel']:.0f} / {m['total_epochs']:.0f} |")
        if "faster_to_free_the_worker" in cancel:
            lines.append(f"\nFaster to free the worker: **{cancel['faster_to_free_the_worker']}** "
                         f"(kill mode's `cancel -> cancelled` excludes the {cancel['grace_s']:.0f} s grace "
                         "the supervisor waits before killing).")
    if doc.get("memory"):
        lines += ["", "## GPU memory per job (worker's RMM peak vs pipeline/gpu_memory.py's model)", "",
                  "| kind | rows x dims | peak GiB | model GiB |", "|---|---|---|---|"]
        for m in doc["memory"]:
            lines.append(f"| {m['kind']} | {m['rows']} x {m['dims']} | {m['peak_gib']:.2f} | {m['model_gib']:.2f} |")
    lines += ["", "## Goals", ""] + [f"- {line}" for line in goal_lines(doc)]
    if doc["skipped"] or doc["errors"]:
        lines += ["", "## Skipped / errors", ""] + [f"- {s}" for s in doc["skipped"] + doc["errors"]]
    return "\n".join(lines) + "\n"


def goal_lines(doc: dict[str, Any]) -> list[str]:
    out = []
    by_rows = {e["rows"]: e for e in doc["umap"]}
    e100 = by_rows.get(100_000, {})
    if "ratio_job" in e100:
        out.append(f"service <= {GOALS['service_vs_bare_100k']}x bare at 100k: job {e100['ratio_job']}x, "
                   f"end to end {e100['ratio_end_to_end']}x")
    e1m = by_rows.get(1_000_000, {})
    if "service_job_best_s" in e1m:
        out.append(f"1M x 512 <= {GOALS['umap_1m_seconds']:.0f} s (H200): job {e1m['service_job_best_s']:.2f} s, "
                   f"end to end {e1m['service_best_s']:.2f} s, bare {_fmt(e1m.get('bare_best_s'))} s "
                   f"on {doc['meta'].get('device')}")
    imm = (doc.get("immediate") or {}).get("umap_npy")
    if imm:
        out.append(f"immediate p50 <= {GOALS['immediate_p50_seconds'] * 1000:.0f} ms: {imm['p50_s'] * 1000:.0f} ms (.npy), "
                   f"{(doc['immediate'].get('umap_json') or {}).get('p50_s', float('nan')) * 1000:.0f} ms (JSON)")
    gaps = [f"{e['rows']}: {e['trust_gap']:+.4f}" for e in doc["umap"] if "trust_gap" in e]
    if gaps:
        out.append(f"trustworthiness within {GOALS['trust_gap']} of bare cuML (bare - service): " + ", ".join(gaps))
    return out or ["nothing measured"]


MEMORY_LINE = re.compile(r"(umap|cluster) (\d+) x (\d+) (done|failed|cancelled) in ([\d.]+) s; "
                         r"peak ([\d.]+) GiB of GPU memory \(model ([\d.]+) GiB\)")


def memory_lines(log_file: Path) -> list[dict[str, Any]]:
    """Each job's peak GPU memory (from the workers' log lines) beside the model's
    estimate, the largest per kind and shape."""
    if not log_file.exists():
        return []
    best: dict[tuple[str, int, int], dict[str, Any]] = {}
    for m in MEMORY_LINE.finditer(log_file.read_text(errors="replace")):
        kind, rows, dims = m.group(1), int(m.group(2)), int(m.group(3))
        entry = {"kind": kind, "rows": rows, "dims": dims, "outcome": m.group(4),
                 "seconds": float(m.group(5)), "peak_gib": float(m.group(6)), "model_gib": float(m.group(7))}
        key = (kind, rows, dims)
        if key not in best or entry["peak_gib"] > best[key]["peak_gib"]:
            best[key] = entry
    return sorted(best.values(), key=lambda e: (e["kind"], e["rows"], e["dims"]))


def eta_lines(log_file: Path) -> dict[str, Any]:
    """The warm-up calibration the workers reported and the cost model's per-stage
    "actual/predicted" seconds after each finished job (to tune the GPU priors)."""
    if not log_file.exists():
        return {}
    text = log_file.read_text(errors="replace")
    return {"calibration": re.findall(r"ready: gpu backend.*?calibration (\{.*\})", text)[-4:],
            "cost_model_after_jobs": re.findall(r"cost model after \w+: (\{.*\})", text)[-12:]}


# ---------------------------------------------------------------- main


def device_meta(dry_run: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "dry_run": dry_run,
                            "python": sys.version.split()[0]}
    if dry_run:
        meta["device"] = "CPU (dry run)"
        return meta
    import cuml
    import cupy
    import rmm

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    meta.update(device=name.decode() if isinstance(name, bytes) else str(name),
                total_memory=int(cupy.cuda.runtime.memGetInfo()[1]), cuml=cuml.__version__,
                cupy=cupy.__version__, rmm=rmm.__version__,
                driver=cupy.cuda.runtime.driverGetVersion(), runtime=cupy.cuda.runtime.runtimeGetVersion())
    return meta


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # run the cleanup below (stop the server, save)


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    results = Results(args.out, device_meta(args.dry_run))
    folder = Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    server = Server(folder, {
        "STREAMING_UMAP_BACKEND": "cpu" if args.dry_run else "gpu",
        "GPU_UMAP_MAX_CONCURRENT_JOBS": "1", "STREAMING_UMAP_IMMEDIATE_WORKERS": "1",
        "STREAMING_UMAP_CANCEL_GRACE": "120",  # measure finish-and-discard; kill is done by hand
    }, port=args.port)
    try:
        results.doc["meta"]["service_start_s"] = round(server.start(), 2)
        results.save()
        bench = Bench(args, results, server, Bare(enabled=not args.dry_run), started)
        steps = {"umap": bench.umap_size, "knn": bench.knn_batches, "immediate": bench.immediate,
                 "cluster": bench.clustering, "ivf": bench.knn_ivf, "cancel": bench.cancel}

        def run(name: str, *a: int) -> None:
            if name in args.steps:
                steps[name](*a)  # type: ignore[operator]

        for index, rows in enumerate(args.sizes):
            run("umap", index, rows)
            if index == 1:
                run("knn")
                run("immediate")
                run("cluster")
        if len(args.sizes) < 2:
            run("immediate")
            run("cluster")
        if 1_000_000 in args.sizes:
            run("ivf")
        run("cancel")
    except (Exception, SystemExit) as exc:
        log.exception("benchmark stopped")
        results.doc["errors"].append(f"stopped: {type(exc).__name__}: {exc}")
    finally:
        results.doc["memory"] = memory_lines(server.log_file)
        results.doc["eta"] = eta_lines(server.log_file)
        results.save()
        server.stop()
    print(results.markdown())
    return 0 if not results.doc["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
