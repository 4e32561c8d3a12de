"""The CPU path against umap-learn for the parameters users send, side by side in one run.

    python3 benchmarks/bench_matrix.py --out benchmarks/results [--rows 1000,10000,100000]
        [--dims 512] [--metrics euclidean,cosine] [--seeds 42,none] [--no-extras] [--repeat 1]

For each case (metric x ``random_state`` or none x rows x ``n_components``, plus the JSON
upload and the design document's uniform load test, which ``--no-extras`` leaves out),
the same data go

* to the service: ``POST /umap/streaming/umap`` (the ``.npy`` or JSON body) to the
  downloaded result, on a server started here with one job worker, warmed before timing;
* to ``umap.UMAP(**params).fit_transform`` in this process, compiled beforehand for the
  same parameters and code path (a fit of the first 20,000 rows or all of them), so
  neither side pays a compile in the timing.

The two run one after the other, never together. The ratio is service / umap-learn
(below 1: the service is faster). Each case also gives the trustworthiness (k = 15, on
up to 5,000 rows) of both layouts. Writes ``OUT/<date>-cpu-<cores>-cores-matrix.json``
and prints a table.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import warnings
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

TERMINAL = ("completed", "failed", "cancelled")


def _body(data: np.ndarray, fmt: str, params: dict[str, Any]) -> tuple[bytes, dict[str, str], dict[str, Any]]:
    """The request body, its headers and its query parameters, as a user sends them."""
    if fmt == "json":
        body = json.dumps({"data": data.tolist(), **params}).encode()
        return body, {"Content-Type": "application/json"}, {}
    buffer = io.BytesIO()
    np.save(buffer, data)
    return buffer.getvalue(), {"Content-Type": "application/x-npy"}, params


def service_fit(c: httpx.Client, data: np.ndarray, fmt: str, params: dict[str, Any]) -> tuple[float, np.ndarray]:
    body, headers, query = _body(data, fmt, params)  # made before the clock starts
    started = time.perf_counter()
    r = c.post("/umap/streaming/umap", params=query, content=body, headers=headers)
    r.raise_for_status()
    answer = r.json()
    if answer["status"] == "completed":  # answered at once
        return time.perf_counter() - started, np.asarray(answer["embeddings"], dtype=np.float32)
    job_id = answer["job_id"]
    while True:
        status = c.get(f"/umap/streaming/status/{job_id}", params={"include_result": "false"}).json()
        if status["status"] in TERMINAL:
            break
        time.sleep(0.02)
    if status["status"] != "completed":
        raise RuntimeError(f"job {job_id} {status['status']}: {status['error']}")
    result = c.get(f"/umap/streaming/result/{job_id}", params={"format": "npy"})
    seconds = time.perf_counter() - started
    return seconds, np.load(io.BytesIO(result.content))


def library_fit(data: np.ndarray, params: dict[str, Any]) -> tuple[float, np.ndarray]:
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # compiled for these parameters and this code path: below 4,096 rows umap-learn
        # takes its exact small-data path, above 16,384 rows NN-descent takes other code
        umap.UMAP(**params).fit_transform(data[:20_000])
        started = time.perf_counter()
        embedding = umap.UMAP(**params).fit_transform(data)
    return time.perf_counter() - started, embedding


def _trust(data: np.ndarray, layout: np.ndarray) -> float:
    from sklearn.manifold import trustworthiness

    probe = np.random.default_rng(0).permutation(len(data))[:5000]
    return round(float(trustworthiness(data[probe], layout[probe], n_neighbors=15)), 4)


def cases(rows: list[int], dims: int, metrics: list[str],
          seeds: tuple[int | None, ...] = (42, None), extras: bool = True) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n in rows:
        for metric in metrics:
            for seed in seeds:
                out.append({"rows": n, "dims": dims, "data": "mixture", "format": "npy",
                            "params": {"metric": metric, "random_state": seed}})
    if not extras:
        return out
    middle = 10_000 if 10_000 in rows else min(rows)
    out.append({"rows": middle, "dims": dims, "data": "mixture", "format": "npy",
                "params": {"metric": "euclidean", "random_state": None, "n_components": 3}})
    out.append({"rows": middle, "dims": dims, "data": "mixture", "format": "json",
                "params": {"metric": "cosine", "random_state": None}})
    # the design document's load test: uniform rows, euclidean, no seed, a JSON body
    out.append({"rows": 10_000, "dims": 512, "data": "uniform", "format": "json",
                "params": {"metric": "euclidean", "random_state": None}})
    return out


def _data(case: dict[str, Any]) -> np.ndarray:
    if case["data"] == "uniform":
        return np.random.default_rng(0).random((case["rows"], case["dims"]), dtype=np.float32)
    return labelled_mixture(case["rows"], case["dims"], 20, seed=0)[0]


def _name(case: dict[str, Any]) -> str:
    p = case["params"]
    seed = f"seed {p['random_state']}" if p.get("random_state") is not None else "no seed"
    comps = f", {p['n_components']}-d" if p.get("n_components", 2) != 2 else ""
    return (f"{case['rows'] // 1000}k x {case['dims']} {case['data']}, {p['metric']}, {seed}{comps}, "
            f"{case['format']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--rows", default="1000,10000,100000")
    parser.add_argument("--dims", type=int, default=512)
    parser.add_argument("--metrics", default="euclidean,cosine")
    parser.add_argument("--seeds", default="42,none", help="random_state values; none: unseeded")
    parser.add_argument("--no-extras", dest="extras", action="store_false",
                        help="leave out the 3-d, JSON and uniform load-test cases")
    parser.add_argument("--repeat", type=int, default=1, help="timings per side; the median is kept")
    args = parser.parse_args(argv)
    seeds = tuple(None if s.strip().lower() == "none" else int(s) for s in args.seeds.split(","))
    todo = cases([int(n) for n in args.rows.split(",")], args.dims, args.metrics.split(","),
                 seeds, args.extras)
    result: dict[str, Any] = {"date": date.today().isoformat(), "cores": len(os.sched_getaffinity(0)),
                              "device": "cpu", "load_before": os.getloadavg(), "cases": []}
    with bench_server("matrix") as server, httpx.Client(base_url=server.url, timeout=3600) as c:
        for case in todo:
            data = _data(case)
            params = {k: v for k, v in case["params"].items() if v is not None}
            ours = [service_fit(c, data, case["format"], params) for _ in range(args.repeat)]
            theirs = [library_fit(data, params) for _ in range(args.repeat)]
            service_s = float(np.median([s for s, _ in ours]))
            library_s = float(np.median([s for s, _ in theirs]))
            row: dict[str, Any] = {"case": _name(case), **case, "service_s": round(service_s, 2),
                                   "umap_learn_s": round(library_s, 2),
                                   "ratio": round(service_s / library_s, 3)}
            row["trust_service"] = _trust(data, ours[0][1])
            row["trust_umap_learn"] = _trust(data, theirs[0][1])
            result["cases"].append(row)
            print(f"{row['case']:<60} service {service_s:7.2f} s  umap-learn {library_s:7.2f} s  "
                  f"{row['ratio']:.2f}x", flush=True)
    result["load_after"] = os.getloadavg()
    write_figure(result, args.out, "matrix")
    return 0


if __name__ == "__main__":
    sys.exit(main())
