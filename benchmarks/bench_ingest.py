"""Large ``.npy`` uploads: spooled to disk as they arrive vs read into memory.

    python3 benchmarks/bench_ingest.py --out DIR [--rows 200000,1000000] [--repeats 2]

Both paths are in the server: a ``.npy`` body of 16 MiB or more that declares its
Content-Length is written to ``data/spool`` as it arrives and becomes the job's input
by a rename; a body sent without a Content-Length (chunked transfer encoding) is read
into memory (one buffer grown as the bytes arrive), checked, and then written to the
job's folder, as every body was before spooling (then as pieces plus a joined copy: 2x).
This script sends the same array both ways to one server, alternating the order, and
measures seconds from the first byte sent to the 202 answer and the server process's
peak anonymous resident memory (``RssAnon``: heap, not the file pages a memory map
shows) above its level before the upload, sampled every 5 ms.

Each upload is a k-means job on the cluster endpoint, cancelled at once (no compute
overlaps the next upload).

JSON bodies: the server parses ``data`` row by row into float32 (``ingest.parse_json``)
and falls back to decoding every value at once (``ingest._parse_json_full``, the
baseline, the only path before) when something needs a precise error message. Both
parse the same body (``--json-rows``), each in a fresh process, alternating, with the
time and that process's anonymous memory growth from the body in hand to the rows.

Writes ``DIR/ingest-spool.json`` and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gpu import Server, npy_bytes  # noqa: E402


class PeakRSS:
    """Peak anonymous resident memory of one process while the ``with`` block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.base = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def rss(self) -> int:
        with open(f"/proc/{self.pid}/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError(f"no RssAnon for process {self.pid}")

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.005)

    def __enter__(self) -> PeakRSS:
        self.base = self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, self.rss())

    @property
    def growth_mib(self) -> float:
        return round((self.peak - self.base) / 2**20, 1)


def filesystem_of(path: Path) -> str:
    """The type of the file system holding ``path`` (the spool's disk), from /proc/mounts."""
    best, kind = "", "unknown"
    with open("/proc/mounts") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) > 2 and str(path.resolve()).startswith(fields[1]) and len(fields[1]) > len(best):
                best, kind = fields[1], fields[2]
    return kind


JSON_CHILD = """
import gc, json, os, sys, time
sys.path[:0] = [{bench!r}, {src!r}]
from bench_ingest import PeakRSS
from streaming_umap.config import Settings
from streaming_umap.web import ingest
parse = {{"row_by_row": ingest.parse_json, "full_decode": ingest._parse_json_full}}[sys.argv[1]]
with open(sys.argv[2], "rb") as fh:
    body = bytearray(fh.read())
gc.collect()
with PeakRSS(os.getpid()) as mem:
    started = time.perf_counter()
    sub = parse("umap", body, Settings.from_env({{}}))
    seconds = time.perf_counter() - started
print(json.dumps({{"seconds": round(seconds, 3), "growth_mib": mem.growth_mib, "rows": int(sub.data.shape[0])}}))
"""


def json_parsing(rows: int, dims: int, repeats: int) -> dict[str, Any]:
    """Row-by-row JSON parsing against the full decode of the same body, each in a fresh
    process (so memory freed by an earlier step cannot hide the growth)."""
    import subprocess

    here = Path(__file__).resolve().parent
    code = JSON_CHILD.format(bench=str(here), src=str(here.parent / "src"))
    data = np.random.default_rng(7).random((rows, dims), dtype=np.float32)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        fh.write(json.dumps({"data": data.round(6).tolist()}).encode())
        path = fh.name
    del data
    out: dict[str, Any] = {"rows": rows, "dims": dims, "body_mib": round(os.path.getsize(path) / 2**20, 1),
                           "row_by_row": [], "full_decode": []}
    try:
        for i in range(repeats):
            order = ("row_by_row", "full_decode") if i % 2 == 0 else ("full_decode", "row_by_row")
            for name in order:
                done = subprocess.run([sys.executable, "-c", code, name, path], capture_output=True,
                                      text=True, check=True, timeout=600)
                out[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        os.unlink(path)
    for name in ("row_by_row", "full_decode"):
        out[name + "_best_s"] = min(r["seconds"] for r in out[name])
        out[name + "_peak_growth_mib"] = max(r["growth_mib"] for r in out[name])
    out["time_ratio"] = round(out["row_by_row_best_s"] / out["full_decode_best_s"], 3)
    out["memory_ratio"] = round(out["row_by_row_peak_growth_mib"] / out["full_decode_peak_growth_mib"], 3)
    return out


def pieces(body: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), size):
        yield bytes(view[start:start + size])


def cancel_and_wait(c: Any, job_id: str) -> None:
    """Cancel the job the upload made, and wait until it has ended (no compute overlaps
    the next upload)."""
    c.delete(f"/umap/streaming/cancel/{job_id}")
    deadline = time.monotonic() + 120
    while c.get(f"/umap/streaming/status/{job_id}", params={"include_result": "false"}).json()[
            "status"] not in ("cancelled", "completed", "failed"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} did not end")
        time.sleep(0.05)


def upload(server: Server, body: bytes, spooled: bool) -> dict[str, Any]:
    """One upload; ``spooled``: with a Content-Length (the server spools it), else
    chunked (the server reads it into memory)."""
    import httpx

    params = {"algorithm": "kmeans", "n_clusters": "8"}
    headers = {"Content-Type": "application/x-npy"}
    if spooled:
        headers["Content-Length"] = str(len(body))
    with httpx.Client(base_url=server.url, timeout=600) as c:
        with PeakRSS(server.proc.pid) as mem:  # type: ignore[union-attr]
            started = time.perf_counter()
            r = c.post("/umap/streaming/cluster", params=params, content=pieces(body), headers=headers)
            seconds = time.perf_counter() - started
        if r.status_code != 202:
            raise RuntimeError(f"upload answered {r.status_code}: {r.text[:300]}")
        cancel_and_wait(c, r.json()["job_id"])
    return {"seconds": round(seconds, 3), "server_growth_mib": mem.growth_mib}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--rows", default="200000,1000000")
    p.add_argument("--dims", type=int, default=512)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--json-rows", type=int, default=100_000, help="0: skip the JSON comparison")
    args = p.parse_args(argv)
    rows_list = [int(r) for r in args.rows.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    server = Server(Path(tempfile.mkdtemp(prefix="bench-ingest-")), {
        "STREAMING_UMAP_BACKEND": "cpu", "STREAMING_UMAP_WARMUP": "off",
        "GPU_UMAP_MAX_CONCURRENT_JOBS": "1"})
    doc: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
                           "dims": args.dims, "data_filesystem": filesystem_of(server.folder),
                           "sizes": []}
    try:
        server.start()
        for rows in rows_list:
            data = np.random.default_rng(rows).random((rows, args.dims), dtype=np.float32)
            body = npy_bytes(data)
            del data
            entry: dict[str, Any] = {"rows": rows, "body_mib": round(len(body) / 2**20, 1),
                                     "in_memory": [], "spooled": []}
            for i in range(args.repeats):
                order = (False, True) if i % 2 == 0 else (True, False)
                for spooled in order:
                    entry["spooled" if spooled else "in_memory"].append(upload(server, body, spooled))
            for key in ("in_memory", "spooled"):
                entry[key + "_best_s"] = min(r["seconds"] for r in entry[key])
                entry[key + "_peak_growth_mib"] = max(r["server_growth_mib"] for r in entry[key])
            entry["time_ratio"] = round(entry["spooled_best_s"] / entry["in_memory_best_s"], 3)
            entry["memory_ratio"] = round(entry["spooled_peak_growth_mib"]
                                          / max(1.0, entry["in_memory_peak_growth_mib"]), 3)
            doc["sizes"].append(entry)
            (args.out / "ingest-spool.json").write_text(json.dumps(doc, indent=2))
    finally:
        server.stop()
    if args.json_rows:
        doc["json"] = json_parsing(args.json_rows, args.dims, args.repeats)
        (args.out / "ingest-spool.json").write_text(json.dumps(doc, indent=2))
    print("| rows x dims | body MiB | in memory s | spooled s | spooled / in memory (time) "
          "| in memory growth MiB | spooled growth MiB |")
    print("|---|---|---|---|---|---|---|")
    for e in doc["sizes"]:
        print(f"| {e['rows']} x {args.dims} | {e['body_mib']} | {e['in_memory_best_s']} | {e['spooled_best_s']} "
              f"| {e['time_ratio']} | {e['in_memory_peak_growth_mib']} | {e['spooled_peak_growth_mib']} |")
    if "json" in doc:
        j = doc["json"]
        print(f"\nJSON {j['rows']} x {j['dims']} ({j['body_mib']} MiB): row by row {j['row_by_row_best_s']} s, "
              f"+{j['row_by_row_peak_growth_mib']} MiB; full decode {j['full_decode_best_s']} s, "
              f"+{j['full_decode_peak_growth_mib']} MiB (time ratio {j['time_ratio']}, memory ratio {j['memory_ratio']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
