"""JSON uploads: the compiled reader against the row decoder and the full decode.

    python3 benchmarks/bench_json.py --out DIR [--rows 10000] [--dims 512] [--repeats 3]

The body is the design document's load test: ``{"data": rows}`` with uniform float64
values written by ``json.dumps`` (17 significant digits; 10k x 512 is ~98 MB of text).

* In a fresh process each (so no step profits from an earlier one's caches), alternating
  the order: ``ingest.parse_json`` with the compiled reader (after
  ``ingest.load_json_reader``, which the server runs in a thread as it starts; its
  time is reported apart), with the row decoder it replaces (msgspec
  checks the whole body, then decodes the rows one at a time), and
  ``ingest._parse_json_full`` (every value a Python float at once). Each gives the
  seconds from the body in hand to checked float32 rows, split into the steps, and the
  process's anonymous memory growth.
* Through a real server, once with each ``STREAMING_UMAP_JSON_READER`` (``compiled``,
  the default, and ``msgspec``, the row decoder): seconds from the first byte sent to
  the 202 answer, for the
  first upload after the server started and for later ones, next to the same rows as ``.npy``; and how long ``/health`` took to answer
  meanwhile (the compiled reader runs without the GIL, so the event loop does not wait
  for it). Each job is cancelled at once.

Writes ``DIR/<date>-cpu-<cores>-cores-json.json`` and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_gpu import Server, npy_bytes
from bench_ingest import cancel_and_wait

CHILD = """
import gc, json, os, sys, time
sys.path[:0] = [{bench!r}, {src!r}]
from bench_ingest import PeakRSS
from streaming_umap.config import Settings
from streaming_umap.schemas import check_unique_keys, decode_raw_request
from streaming_umap.web import ingest
reader, path = sys.argv[1], sys.argv[2]
settings = Settings.from_env({{}})
steps = {{}}
if reader == "compiled":
    started = time.perf_counter()
    ingest.load_json_reader(settings)
    steps["load_reader"] = time.perf_counter() - started
else:
    ingest.COMPILED_MIN_BYTES = 1 << 62  # the row decoder, as before the compiled reader
with open(path, "rb") as fh:
    body = bytearray(fh.read())
gc.collect()
with PeakRSS(os.getpid()) as mem:
    started = time.perf_counter()
    if reader == "full_decode":
        sub = ingest._parse_json_full("umap", body, settings)
    else:
        check_unique_keys(body)
        steps["unique_keys"] = time.perf_counter() - started
        mark = time.perf_counter()
        if reader == "compiled":  # finds the rows in the body, reads them; msgspec the rest
            params, rows = ingest._compiled_request("umap", body, settings)
            steps["rows_and_rest"] = time.perf_counter() - mark
        else:  # msgspec checks the whole body, then decodes the rows one at a time
            params, raw = decode_raw_request("umap", body)
            steps["raw_decode"] = time.perf_counter() - mark
            mark = time.perf_counter()
            rows = ingest._rows_from_json(raw, settings)
            steps["rows"] = time.perf_counter() - mark
        mark = time.perf_counter()
        data = ingest.finalize(rows, settings)
        steps["finalize"] = time.perf_counter() - mark
        sub = ingest.Submission("umap", params, data, [])
    seconds = time.perf_counter() - started
    # the same call the server makes, as a check that the steps above are its path
    check = time.perf_counter()
    again = ingest.parse_json("umap", body, settings) if reader != "full_decode" else sub
    whole = time.perf_counter() - check
assert again.data.tobytes() == sub.data.tobytes()
print(json.dumps({{"seconds": round(seconds, 3), "parse_json_s": round(whole, 3),
                  "steps": {{k: round(v, 3) for k, v in steps.items()}},
                  "growth_mib": mem.growth_mib, "shape": list(sub.data.shape),
                  "sha": __import__("hashlib").sha256(sub.data.tobytes()).hexdigest()[:16]}}))
"""

READERS = ("compiled", "rows", "full_decode")


def in_process(path: Path, repeats: int) -> dict[str, Any]:
    code = CHILD.format(bench=str(HERE), src=str(HERE.parent / "src"))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(HERE.parent / ".cache" / "numba"))
    out: dict[str, Any] = {name: [] for name in READERS}
    for i in range(repeats):
        order = READERS[i % 3:] + READERS[:i % 3]
        for name in order:
            done = subprocess.run([sys.executable, "-c", code, name, str(path)], capture_output=True,
                                  text=True, timeout=900, env=env)
            if done.returncode:
                raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
            out[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    shas = {r["sha"] for name in READERS for r in out[name]}
    if len(shas) != 1:
        raise RuntimeError(f"the readers disagree on the rows: {shas}")
    summary: dict[str, Any] = {}
    for name in READERS:
        best = min(out[name], key=lambda r: r["seconds"])
        summary[name] = {"best_s": best["seconds"], "median_s": float(np.median([r["seconds"] for r in out[name]])),
                         "steps_of_best": best["steps"],
                         "peak_growth_mib": max(r["growth_mib"] for r in out[name])}
    for name in ("rows", "full_decode"):
        summary[f"compiled_vs_{name}"] = round(summary["compiled"]["best_s"] / summary[name]["best_s"], 3)
    return {"runs": out, "summary": summary}


class HealthProbe:
    """Seconds each ``/health`` answer took, asked every 20 ms while the block runs."""

    def __init__(self, url: str) -> None:
        self.url, self.latencies = url, []  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.url, timeout=60) as c:
            while not self._stop.is_set():
                started = time.perf_counter()
                c.get("/health")
                self.latencies.append(time.perf_counter() - started)
                time.sleep(0.02)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)


def upload(server: Server, body: bytes, media: str) -> dict[str, Any]:
    import httpx

    with httpx.Client(base_url=server.url, timeout=600) as c:
        with HealthProbe(server.url) as probe:
            started = time.perf_counter()
            r = c.post("/umap/streaming/umap", content=body, headers={"Content-Type": media})
            seconds = time.perf_counter() - started
        if r.status_code != 202:
            raise RuntimeError(f"upload answered {r.status_code}: {r.text[:300]}")
        cancel_and_wait(c, r.json()["job_id"])
    return {"seconds": round(seconds, 3), "health_max_s": round(max(probe.latencies, default=0.0), 3),
            "health_median_s": round(float(np.median(probe.latencies)) if probe.latencies else 0.0, 4)}


def through_server(json_body: bytes, npy_body: bytes, repeats: int, reader: str) -> dict[str, Any]:
    server = Server(Path(tempfile.mkdtemp(prefix="bench-json-")), {
        "STREAMING_UMAP_BACKEND": "cpu", "STREAMING_UMAP_WARMUP": "off",
        "GPU_UMAP_MAX_CONCURRENT_JOBS": "1", "STREAMING_UMAP_JSON_READER": reader})
    out: dict[str, Any] = {"reader": reader, "json": [], "npy": []}
    try:
        out["start_s"] = round(server.start(), 2)
        for i in range(repeats + 1):  # the first JSON upload is the first after the start
            out["json"].append(upload(server, json_body, "application/json"))
            out["npy"].append(upload(server, npy_body, "application/x-npy"))
    finally:
        server.stop()
    out["json_first_s"] = out["json"][0]["seconds"]
    out["json_warm_best_s"] = min(r["seconds"] for r in out["json"][1:])
    out["npy_warm_best_s"] = min(r["seconds"] for r in out["npy"][1:])
    out["json_health_max_s"] = max(r["health_max_s"] for r in out["json"])
    out["json_health_median_s"] = round(float(np.median([r["health_median_s"] for r in out["json"]])), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--dims", type=int, default=512)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(11).random((args.rows, args.dims))
    json_body = json.dumps({"data": data.tolist()}).encode()
    npy_body = npy_bytes(data.astype(np.float32))
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        fh.write(json_body)
        path = Path(fh.name)
    doc: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
                           "rows": args.rows, "dims": args.dims,
                           "body_mb": round(len(json_body) / 1e6, 1)}
    try:
        doc["in_process"] = in_process(path, args.repeats)
    finally:
        path.unlink()
    # the server with each setting of STREAMING_UMAP_JSON_READER, one after the other
    doc["server"] = {reader: through_server(json_body, npy_body, args.repeats, reader)
                     for reader in ("compiled", "msgspec")}
    doc["server"]["compiled_vs_msgspec_warm"] = round(
        doc["server"]["compiled"]["json_warm_best_s"] / doc["server"]["msgspec"]["json_warm_best_s"], 3)
    name = f"{time.strftime('%Y-%m-%d')}-cpu-{os.cpu_count()}-cores-json.json"
    (args.out / name).write_text(json.dumps(doc, indent=2) + "\n")
    s = doc["in_process"]["summary"]
    print(f"{args.rows} x {args.dims} JSON, {doc['body_mb']} MB")
    print("| reader | best s | median s | steps of the best | memory growth MiB |")
    print("|---|---|---|---|---|")
    for reader in READERS:
        r = s[reader]
        print(f"| {reader} | {r['best_s']} | {r['median_s']:.3f} | {r['steps_of_best']} | {r['peak_growth_mib']} |")
    print(f"compiled / rows {s['compiled_vs_rows']}, compiled / full decode {s['compiled_vs_full_decode']}")
    for reader in ("compiled", "msgspec"):
        v = doc["server"][reader]
        print(f"server, {reader}: first JSON upload {v['json_first_s']} s, later best {v['json_warm_best_s']} s, "
              f".npy best {v['npy_warm_best_s']} s; /health during JSON uploads: median "
              f"{v['json_health_median_s']} s, slowest {v['json_health_max_s']} s")
    print(f"server, compiled / msgspec (later uploads): {doc['server']['compiled_vs_msgspec_warm']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
