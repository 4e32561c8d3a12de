"""Cancel latency by stage: from the ``DELETE /umap/streaming/cancel/{id}`` request to the
job's status saying ``cancelled``, for jobs cancelled while queued, in NN-descent (kNN),
in the graph (with the spectral init) and in the layout.

    python3 benchmarks/bench_cancel.py --out benchmarks/results [--rows 20000] [--dims 256]
        [--trials 8]

A server is started here with one job worker, warmed before timing. Each trial submits a
``--rows`` x ``--dims`` labelled mixture (no ``random_state``, as users send it), polls
its status every 5 ms until it reaches the stage, and cancels it; a queued trial first
submits a job that holds the worker. A cancel during NN-descent, which has no checkpoint,
is the worker killed after the grace (0.5 s for a forked worker) and a new worker forked
from the warm template. Writes ``OUT/<date>-cpu-<cores>-cores-cancel.json``: every
latency, the median and the largest per stage, and the worker's replacement time.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from streaming_umap.bench.report import write_figure
from streaming_umap.datasets import labelled_mixture

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from bench_startup import bench_server  # noqa: E402

STAGES = ("queued", "knn", "graph", "layout")


def _submit(c: httpx.Client, body: bytes) -> str:
    r = c.post("/umap/streaming/umap", content=body, headers={"Content-Type": "application/x-npy"})
    r.raise_for_status()
    return str(r.json()["job_id"])


def _status(c: httpx.Client, job_id: str) -> dict[str, Any]:
    return c.get(f"/umap/streaming/status/{job_id}", params={"include_result": "false"}).json()  # type: ignore[no-any-return]


def _wait(c: httpx.Client, job_id: str, done: Any, timeout: float = 600.0, every: float = 0.005) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _status(c, job_id)
        if done(status):
            return status
        time.sleep(every)
    raise TimeoutError(f"job {job_id} never got there: {status}")


def _ready(c: httpx.Client) -> float:
    """Seconds until a job worker is idle again (after a kill: the new fork)."""
    started = time.monotonic()
    while True:
        workers = c.get("/health").json()["workers"]
        if workers.get("idle", 0) >= 1 and workers.get("warming", 0) == 0:
            return time.monotonic() - started
        time.sleep(0.01)


def trial(c: httpx.Client, body: bytes, stage: str) -> dict[str, Any]:
    blocker = None
    if stage == "queued":
        blocker = _submit(c, body)
        _wait(c, blocker, lambda s: s["status"] == "processing")
        job_id = _submit(c, body)
        _wait(c, job_id, lambda s: s["status"] == "pending")
    else:
        job_id = _submit(c, body)
        _wait(c, job_id, lambda s: s["status"] == "processing" and s.get("stage") == stage, every=0.002)
    started = time.perf_counter()
    r = c.delete(f"/umap/streaming/cancel/{job_id}")
    r.raise_for_status()
    final = _wait(c, job_id, lambda s: s["status"] in ("cancelled", "completed", "failed"), every=0.002)
    latency = time.perf_counter() - started
    if blocker is not None:
        c.delete(f"/umap/streaming/cancel/{blocker}")
        _wait(c, blocker, lambda s: s["status"] in ("cancelled", "completed", "failed"))
    return {"stage": stage, "latency_s": round(latency, 3), "ended": final["status"],
            "worker_ready_after_s": round(_ready(c), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--trials", type=int, default=8)
    args = parser.parse_args(argv)
    data, _ = labelled_mixture(args.rows, args.dims, 20, seed=0)
    buffer = io.BytesIO()
    np.save(buffer, data)
    body = buffer.getvalue()
    result: dict[str, Any] = {"date": date.today().isoformat(), "cores": len(os.sched_getaffinity(0)),
                              "device": "cpu", "rows": args.rows, "dims": args.dims,
                              "load_before": os.getloadavg(), "trials": [], "by_stage": {}}
    with bench_server("cancel") as server, httpx.Client(base_url=server.url, timeout=600) as c:
        for stage in STAGES:
            runs = [trial(c, body, stage) for _ in range(args.trials)]
            result["trials"] += runs
            latencies = [r["latency_s"] for r in runs]
            result["by_stage"][stage] = {
                "median_s": round(float(np.median(latencies)), 3), "max_s": max(latencies),
                "all_cancelled": all(r["ended"] == "cancelled" for r in runs),
                "worker_ready_max_s": max(r["worker_ready_after_s"] for r in runs)}
            print(stage, result["by_stage"][stage], flush=True)
    every = [t["latency_s"] for t in result["trials"]]
    result["p99_s"] = round(float(np.percentile(every, 99)), 3)
    result["load_after"] = os.getloadavg()
    write_figure(result, args.out, "cancel")
    return 0


if __name__ == "__main__":
    sys.exit(main())
