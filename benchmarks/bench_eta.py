"""How honest the ETA is for every kind of job: UMAP for each metric, KMeans, DBSCAN,
HDBSCAN, the first job of its kind after a start and the same job again.

    python3 benchmarks/bench_eta.py --out benchmarks/results [--cases umap-euclidean,kmeans]

A server is started here with one job worker, warmed before timing. Each case is a
labelled mixture sent as ``.npy`` with the parameters a user sends (no ``random_state``),
followed over the WebSocket to its end, twice: ``first`` is the first job of its kind on
this server (the cost model has only the warm-up's calibration), ``again`` is the same job
after that one finished (the model has learnt from it). For each run, at the first frame
with progress >= 10 %, 50 % and 90 %, and at the first frame with an ETA at all: the
predicted completion against the actual one, as a share of the job's compute time
(``error_share``; 0 = exact, +0.5 = predicted half a job too late), and predicted /
actual seconds left (``ratio``). Writes ``OUT/<date>-cpu-<cores>-cores-eta.json`` and
prints a table.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from streaming_umap.bench.figures.progress import eta_points
from streaming_umap.bench.jobs import JobRun, ServiceClient
from streaming_umap.bench.report import write_figure
from streaming_umap.datasets import labelled_mixture

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from bench_startup import bench_server  # noqa: E402

# name: (kind, rows, dims, params). Sizes as users reported them where an issue names one
# (KMeans 20k x 512; UMAP cosine 20k), else large enough for a background job of seconds.
CASES: dict[str, tuple[str, int, int, dict[str, Any]]] = {
    "umap-euclidean": ("umap", 20_000, 128, {"metric": "euclidean"}),
    "umap-cosine": ("umap", 20_000, 128, {"metric": "cosine"}),
    "umap-correlation": ("umap", 10_000, 64, {"metric": "correlation"}),
    "umap-manhattan": ("umap", 10_000, 64, {"metric": "manhattan"}),
    "kmeans": ("cluster", 20_000, 512, {"algorithm": "kmeans", "n_clusters": 8}),
    "dbscan": ("cluster", 20_000, 32, {"algorithm": "dbscan", "eps": 6.0, "min_samples": 10}),
    "hdbscan": ("cluster", 20_000, 32, {"algorithm": "hdbscan", "min_cluster_size": 50}),
}


def first_eta(run: JobRun) -> dict[str, Any] | None:
    """The first frame with an ETA, as :func:`eta_points` reads a mark."""
    started, finished = run.record.get("started_at"), run.record.get("finished_at")
    if started is None or finished is None or finished <= started:
        return None
    frame = next((f for _, f in run.frames if f.get("estimated_completion") is not None
                  and f.get("timestamp") is not None and f.get("status") == "processing"), None)
    if frame is None:
        return None
    at, predicted = float(frame["timestamp"]), float(frame["estimated_completion"])
    return {"progress": frame.get("progress_percentage"), "stage": frame.get("stage"),
            "predicted_left_s": round(predicted - at, 3), "actual_left_s": round(finished - at, 3),
            "error_share": round((predicted - finished) / (finished - started), 3)}


def measure(client: ServiceClient, name: str, which: str) -> dict[str, Any]:
    kind, rows, dims, params = CASES[name]
    data, _ = labelled_mixture(rows, dims, 20, seed=1)
    run = client.run(kind, data, params, fetch=False)
    if run.status != "completed":
        raise RuntimeError(f"{name} ({which}) ended {run.status}: {run.error}")
    compute = float(run.record["finished_at"] - run.record["started_at"])
    out = {"case": name, "run": which, "kind": kind, "rows": rows, "dims": dims, "params": params,
           "compute_s": round(compute, 2), "first": first_eta(run), "marks": eta_points(run)}
    marks = " ".join(f"{p['mark']:.0f}%:{p['error_share']:+.2f}" for p in out["marks"])
    first = out["first"]["error_share"] if out["first"] else None
    print(f"{name:<18} {which:<6} {compute:7.2f} s  first ETA {first:+.2f}  {marks}", flush=True)
    return out


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Largest |error_share| per run kind (first / again), over the marks and the first ETA."""
    out: dict[str, Any] = {}
    for which in ("first", "again"):
        errors = [abs(p["error_share"]) for r in runs if r["run"] == which for p in r["marks"]]
        firsts = [abs(r["first"]["error_share"]) for r in runs if r["run"] == which and r["first"]]
        out[which] = {"marks_median_abs_error_share": round(float(np.median(errors)), 3) if errors else None,
                      "marks_max_abs_error_share": round(max(errors), 3) if errors else None,
                      "first_eta_max_abs_error_share": round(max(firsts), 3) if firsts else None}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args(argv)
    names = args.cases.split(",")
    unknown = set(names) - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; known: {', '.join(CASES)}")
    result: dict[str, Any] = {"date": date.today().isoformat(), "cores": len(os.sched_getaffinity(0)),
                              "device": "cpu", "load_before": os.getloadavg(), "runs": []}
    with bench_server("eta") as server:
        client = ServiceClient(server.url, server.url.replace("http://", "ws://"))
        for name in names:
            for which in ("first", "again"):
                result["runs"].append(measure(client, name, which))
    result["summary"] = summary(result["runs"])
    result["load_after"] = os.getloadavg()
    write_figure(result, args.out, "eta")
    return 0


if __name__ == "__main__":
    sys.exit(main())
