"""Scale-out, side by side in one run: the local executor against Dask, and a full fit
against fit-on-a-sample + placement.

    python3 benchmarks/bench_scale.py --out benchmarks/results [--steps overhead,throughput,sample]
        [--sample-rows 200000] [--sample-fit 50000]

* **overhead**: one 10k x 512 UMAP job (cosine, no seed) end to end on a server with the
  local executor, then on a server with the Dask executor over a cluster of one worker
  (``dask scheduler`` + ``dask worker --nthreads 1``, separate processes); medians of
  ``--repeats``; goal: Dask <= 1.1x local.
* **throughput**: 8 jobs (5k x 64) submitted at once, time until the last one completes:
  local executor (2 job workers), Dask with 1 worker, Dask with 2 workers (jobs/minute).
* **sample**: ``--sample-rows`` x 512 labelled mixture, in this process on the CPU backend:
  a full fit against a fit on ``--sample-fit`` random rows with the others placed;
  seconds, trustworthiness (k = 15, on 5,000 random rows) and HDBSCAN ARI against the true
  labels.

Writes ``OUT/<date>-cpu-<cores>-cores-scale.json`` and prints it.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from streaming_umap.bench.report import write_figure

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from bench_startup import Server  # noqa: E402

BIN = Path(sys.executable).parent


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes."""

    def __init__(self, folder: Path, workers: int, cache: Path) -> None:
        from bench_startup import _free_port

        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
        folder.mkdir(parents=True, exist_ok=True)
        self.procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                                        str(self.port), "--no-dashboard"], env=env,
                                       stdout=open(folder / "scheduler.log", "ab"), stderr=subprocess.STDOUT,
                                       start_new_session=True)]
        time.sleep(3)
        for i in range(workers):
            self.procs.append(subprocess.Popen(
                [str(BIN / "dask"), "worker", self.address, "--nthreads", "1", "--no-dashboard",
                 "--no-nanny", "--name", f"w{i}"], env=env, stdout=open(folder / f"w{i}.log", "ab"),
                stderr=subprocess.STDOUT, start_new_session=True))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _job(url: str, data: np.ndarray, **params: Any) -> float:
    """Seconds from the POST to the downloaded result."""
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=1200) as c:
        job_id = c.post("/umap/streaming/umap", params=params, content=_npy(data),
                        headers={"Content-Type": "application/x-npy"}).json()["job_id"]
        while c.get(f"/umap/streaming/status/{job_id}", params={"include_result": "false"}).json()[
                "status"] not in ("completed", "failed", "cancelled"):
            time.sleep(0.05)
        c.get(f"/umap/streaming/result/{job_id}", params={"format": "npy"})
    return time.perf_counter() - started


def _with_server(work: Path, cache: Path, name: str, workers: int | None, run: Any) -> Any:
    """``run(url)`` on a server with the local executor (``workers`` None) or on Dask."""
    cluster = None
    env: dict[str, str] = {"GPU_UMAP_MAX_CONCURRENT_JOBS": "2"}
    if workers is not None:
        cluster = Cluster(work / f"{name}-cluster", workers, cache)
        env["STREAMING_UMAP_DASK_SCHEDULER"] = cluster.address
    server = Server(work / name, cache, **env)
    try:
        server.wait(lambda h: h["status"] == "ok" and h["workers"]["warming"] == 0
                    and h["workers"]["alive"] >= (workers or 1))
        return run(server.url)
    finally:
        server.stop()
        if cluster is not None:
            cluster.stop()


def overhead(work: Path, cache: Path, repeats: int) -> dict[str, Any]:
    data = np.random.default_rng(0).normal(size=(10_000, 512)).astype(np.float32)

    def measure(url: str) -> list[float]:
        _job(url, data[:2000], metric="cosine")  # the first job of a fresh worker is not timed
        return [round(_job(url, data, metric="cosine"), 3) for _ in range(repeats)]

    local = _with_server(work, cache, "overhead-local", None, measure)
    dask = _with_server(work, cache, "overhead-dask", 1, measure)
    return {"local_s": local, "dask_s": dask,
            "ratio_median": round(float(np.median(dask) / np.median(local)), 3)}


def throughput(work: Path, cache: Path) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    batches = [rng.normal(size=(5000, 64)).astype(np.float32) for _ in range(8)]

    def burst(url: str) -> float:
        _job(url, batches[0][:1500])
        started = time.perf_counter()
        threads = [threading.Thread(target=_job, args=(url, b)) for b in batches]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return round(time.perf_counter() - started, 2)

    out: dict[str, Any] = {}
    for name, workers in (("local, 2 job workers", None), ("dask, 1 worker", 1), ("dask, 2 workers", 2)):
        seconds = _with_server(work, cache, name.replace(", ", "-").replace(" ", "-"), workers, burst)
        out[name] = {"seconds": seconds, "jobs_per_minute": round(8 * 60 / seconds, 2)}
    return out


def sample(rows: int, sample_rows: int) -> dict[str, Any]:
    from sklearn.cluster import HDBSCAN
    from sklearn.manifold import trustworthiness
    from sklearn.metrics import adjusted_rand_score

    from streaming_umap.backends.base import RunOptions
    from streaming_umap.backends.cpu import CPUBackend
    from streaming_umap.datasets import labelled_mixture
    from streaming_umap.pipeline.checkpoint import NullCheckpoint
    from streaming_umap.schemas import UMAPParams

    data, labels = labelled_mixture(rows, 512, clusters=10, seed=7)
    backend = CPUBackend()
    backend.prepare(UMAPParams(metric="cosine"), rows, RunOptions())
    probe = np.random.default_rng(2).choice(rows, 5000, replace=False)
    out: dict[str, Any] = {"rows": rows, "fit_sample_rows": sample_rows}
    for name, fit_rows in (("full", 0), ("sample", sample_rows)):
        started = time.perf_counter()
        result = backend.umap(data, UMAPParams(metric="cosine", min_dist=0.0), NullCheckpoint(),
                              RunOptions(fit_sample_rows=fit_rows))
        seconds = time.perf_counter() - started
        emb = result.embedding
        found = HDBSCAN(min_cluster_size=200).fit(emb[probe]).labels_
        out[name] = {"seconds": round(seconds, 1),
                     "trustworthiness": round(float(trustworthiness(data[probe], emb[probe], n_neighbors=15)), 4),
                     "hdbscan_ari": round(float(adjusted_rand_score(labels[probe], found)), 4)}
    out["time_ratio"] = round(out["sample"]["seconds"] / out["full"]["seconds"], 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--steps", default="overhead,throughput,sample")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample-rows", type=int, default=200_000)
    parser.add_argument("--sample-fit", type=int, default=50_000)
    args = parser.parse_args(argv)
    steps = set(args.steps.split(","))
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    cache = Path(os.environ.get("NUMBA_CACHE_DIR", ROOT.parent / ".cache" / "numba"))
    result: dict[str, Any] = {"date": date.today().isoformat(), "cores": len(os.sched_getaffinity(0)),
                              "load_before": os.getloadavg()}
    try:
        if "overhead" in steps:
            result["overhead"] = overhead(work, cache, args.repeats)
        if "throughput" in steps:
            result["throughput"] = throughput(work, cache)
        if "sample" in steps:
            result["sample_fit"] = sample(args.sample_rows, args.sample_fit)
    finally:
        if os.environ.get("BENCH_KEEP"):
            print(f"kept the servers' folders in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["load_after"] = os.getloadavg()
    write_figure(result, args.out, "scale")
    return 0


if __name__ == "__main__":
    sys.exit(main())
