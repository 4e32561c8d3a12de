"""Kept models, side by side in one run: placing new rows through the service against
umap-learn's own ``transform`` in a warm process, and a stable refit against an
independent one.

    python3 benchmarks/bench_transform.py --out benchmarks/results [--model-rows 100000]
        [--dims 64] [--place 10000,100000] [--refit-rows 20000] [--steps place,refit]

* **place**: a ``--model-rows`` x ``--dims`` labelled mixture (10 classes, rows shuffled)
  is fitted twice with default parameters (no ``random_state``): by the service with
  ``keep_model=true`` (a ``.npy`` upload, timed to the downloaded result) and by
  ``umap.UMAP().fit`` in this process, compiled beforehand. Then each ``--place`` count of
  new rows from the same mixture is placed: through ``POST /transform/{model_id}`` (a
  ``.npy`` upload to the downloaded result; the first placement includes building the
  model's neighbour index, as a user's first transform does) and by the fitted
  reducer's ``transform``. Rows per second of both, and the kNN label accuracy (k = 15)
  of the placed rows in each layout.
* **refit**: the model's rows plus ``--refit-rows`` new ones, laid out by the service with
  ``init_from`` the model and without it (an independent refit, same parameters). Time,
  Procrustes disparity of the old rows against the model's layout, trustworthiness
  (k = 15, on 5,000 random rows) of both.

Writes ``OUT/<date>-cpu-<cores>-cores-transform.json`` and prints it.
"""

from __future__ import annotations

import argparse
import io
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

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from bench_startup import bench_server  # noqa: E402

TERMINAL = ("completed", "failed", "cancelled")


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _post(c: httpx.Client, path: str, data: np.ndarray, **params: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Submit ``data`` and wait: the result array and the final status."""
    r = c.post(path, params=params, content=_npy(data), headers={"Content-Type": "application/x-npy"})
    r.raise_for_status()
    body = r.json()
    if body["status"] == "completed":  # answered at once
        return np.asarray(body["embeddings"], dtype=np.float32), body
    job_id = body["job_id"]
    while True:
        status = c.get(f"/umap/streaming/status/{job_id}", params={"include_result": "false"}).json()
        if status["status"] in TERMINAL:
            break
        time.sleep(0.05)
    if status["status"] != "completed":
        raise RuntimeError(f"job {job_id} {status['status']}: {status['error']}")
    result = c.get(f"/umap/streaming/result/{job_id}", params={"format": "npy"})
    return np.load(io.BytesIO(result.content)), status


def _timed(run: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = run()
    return time.perf_counter() - started, out


def _accuracy(layout: np.ndarray, labels: np.ndarray, placed: np.ndarray, truth: np.ndarray) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    return round(float(KNeighborsClassifier(15).fit(layout, labels).score(placed, truth)), 4)


def _data(model_rows: int, dims: int, extra: int) -> tuple[np.ndarray, np.ndarray]:
    from streaming_umap.datasets import labelled_mixture

    data, labels = labelled_mixture(model_rows + extra, dims, clusters=10, seed=11)
    order = np.random.default_rng(11).permutation(len(data))
    return np.ascontiguousarray(data[order], dtype=np.float32), labels[order]


def place(c: httpx.Client, data: np.ndarray, labels: np.ndarray, model_rows: int,
          counts: list[int]) -> tuple[dict[str, Any], str, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import umap

        umap.UMAP(n_epochs=5).fit(data[:3000]).transform(data[3000:3500])  # compiled before timing
    train, train_labels = data[:model_rows], labels[:model_rows]
    fit_s, (layout, status) = _timed(lambda: _post(c, "/umap/streaming/umap", train, keep_model="true"))
    model_id = status["model_id"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lib_fit_s, reducer = _timed(lambda: umap.UMAP().fit(train))
    out: dict[str, Any] = {"model_rows": model_rows, "dims": data.shape[1],
                           "fit_s": {"service": round(fit_s, 1), "umap_learn": round(lib_fit_s, 1)},
                           "placements": []}
    for n in counts:
        new, truth = data[model_rows:model_rows + n], labels[model_rows:model_rows + n]
        ours_s, (ours, _) = _timed(lambda new=new: _post(c, f"/umap/streaming/transform/{model_id}", new))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs_s, theirs = _timed(lambda new=new: reducer.transform(new))
        out["placements"].append({
            "rows": n, "service_s": round(ours_s, 2), "umap_learn_s": round(theirs_s, 2),
            "service_rows_per_s": round(n / ours_s), "umap_learn_rows_per_s": round(n / theirs_s),
            "ratio": round(ours_s / theirs_s, 3),
            "accuracy": {"service": _accuracy(layout, train_labels, ours, truth),
                         "umap_learn": _accuracy(reducer.embedding_, train_labels, theirs, truth)}})
    return out, model_id, layout


def refit(c: httpx.Client, data: np.ndarray, model_id: str, old: np.ndarray, model_rows: int,
          extra: int) -> dict[str, Any]:
    from sklearn.manifold import trustworthiness

    from streaming_umap.pipeline.refit import disparity

    rows = data[:model_rows + extra]
    probe = np.random.default_rng(3).choice(len(rows), 5000, replace=False)
    out: dict[str, Any] = {"rows": len(rows), "model_rows": model_rows}
    for name, params in (("stable", {"init_from": model_id}), ("independent", {})):
        seconds, (layout, _) = _timed(lambda params=params: _post(c, "/umap/streaming/umap", rows, **params))
        out[name] = {"seconds": round(seconds, 1),
                     "old_rows_disparity": round(disparity(layout[:model_rows], old), 4),
                     "trustworthiness": round(float(trustworthiness(rows[probe], layout[probe], n_neighbors=15)), 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--steps", default="place,refit")
    parser.add_argument("--model-rows", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--place", default="10000,100000")
    parser.add_argument("--refit-rows", type=int, default=20_000)
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.place.split(",")]
    data, labels = _data(args.model_rows, args.dims, max(max(counts), args.refit_rows))
    result: dict[str, Any] = {"date": date.today().isoformat(), "cores": len(os.sched_getaffinity(0)),
                              "device": "cpu", "load_before": os.getloadavg()}
    with bench_server("transform") as server, httpx.Client(base_url=server.url, timeout=3600) as c:
        result["place"], model_id, layout = place(c, data, labels, args.model_rows, counts)
        if "refit" in args.steps.split(","):
            result["refit"] = refit(c, data, model_id, layout, args.model_rows, args.refit_rows)
    result["load_after"] = os.getloadavg()
    write_figure(result, args.out, "transform")
    return 0


if __name__ == "__main__":
    sys.exit(main())
