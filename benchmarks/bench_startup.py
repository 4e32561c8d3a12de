"""Start-up and warm-up, side by side: what a new user waits for.

    python3 benchmarks/bench_startup.py --out benchmarks/results [--skip-cold]

Measured, each against its baseline in the same run:

* **start to ready**: ``streaming-umap serve`` on an empty data folder until /health says
  ``ok`` with no worker warming, with an empty numba cache (first start) and again with
  the cache that start filled (second start);
* **first-job penalty**: the same job (10k x 512 and 10k x 32, euclidean, no seed) on a
  worker that never ran a job, then on the same worker again;
* **respawn**: SIGKILL an idle job worker; seconds until /health shows the replacement idle;
* **idle memory**: proportional set size (PSS: shared pages split among the processes
  that share them, so forked workers are not counted N times) of the server and every
  process below it, with 3 job workers, against RSS;
* **``run`` without a server** on 20k x 128 with a warm cache, against
  ``umap.UMAP().fit_transform`` in a fresh Python process on the same data.

Writes ``OUT/<date>-cpu-<cores>-cores-startup.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from streaming_umap.bench.report import write_figure

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, data: Path, cache: Path, **env: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full = dict(os.environ, STREAMING_UMAP_DATA_DIR=str(data), STREAMING_UMAP_LOG_DIR=str(data / "logs"),
                    NUMBA_CACHE_DIR=str(cache), PYTHONUNBUFFERED="1", **env)
        data.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        with open(data / "server.out", "ab") as out:
            self.proc = subprocess.Popen([PY, "-m", "streaming_umap.cli", "serve", "--host", "127.0.0.1",
                                          "--port", str(self.port)], env=full, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def health(self) -> dict[str, Any]:
        return httpx.get(self.url + "/health", timeout=10).json()  # type: ignore[no-any-return]

    def wait(self, predicate: Any, timeout: float = 1200.0) -> float:
        """Seconds from start until ``predicate(health)``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate(self.health()):
                    return time.monotonic() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("the server did not get there")

    def ready(self) -> float:
        return self.wait(lambda h: h["status"] == "ok" and h["workers"]["warming"] == 0)

    def job(self, data: np.ndarray, **params: Any) -> dict[str, Any]:
        import io

        buffer = io.BytesIO()
        np.save(buffer, data)
        with httpx.Client(base_url=self.url, timeout=600) as c:
            r = c.post("/umap/streaming/umap", params=params, content=buffer.getvalue(),
                       headers={"Content-Type": "application/x-npy"})
            job_id = r.json()["job_id"]
            while True:
                s = c.get(f"/umap/streaming/status/{job_id}", params={"include_result": "false"}).json()
                if s["status"] in ("completed", "failed", "cancelled"):
                    return s  # type: ignore[no-any-return]
                time.sleep(0.05)

    def memory(self) -> dict[str, float]:
        procs = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
        pss = rss = 0
        for p in procs:
            try:
                info = p.memory_full_info()
                pss, rss = pss + info.pss, rss + info.rss
            except psutil.NoSuchProcess:
                pass
        return {"processes": len(procs), "pss_mib": round(pss / 2**20, 1), "rss_mib": round(rss / 2**20, 1)}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def bench_server(prefix: str, **env: str) -> Iterator[Server]:
    """A warm server with one job worker (unless ``env`` says otherwise) on a throwaway
    data folder and the shared numba cache (``NUMBA_CACHE_DIR``, else ``.cache/numba``);
    stopped and removed afterwards. The stand-alone benchmarks' common setup."""
    work = Path(tempfile.mkdtemp(prefix=f"bench-{prefix}-"))
    cache = Path(os.environ.get("NUMBA_CACHE_DIR", ROOT / ".cache" / "numba"))
    server = Server(work / "server", cache, **{"GPU_UMAP_MAX_CONCURRENT_JOBS": "1", **env})
    try:
        server.ready()
        yield server
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def _starts(work: Path, cache: Path, cold: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in (["first"] if cold else []) + ["second"]:
        server = Server(work / f"start-{name}", cache)
        try:
            out[name] = {"answers_s": round(server.wait(lambda h: True), 2),
                         "ready_s": round(server.ready(), 2)}
        finally:
            server.stop()
    return out


def _first_job(work: Path, cache: Path) -> dict[str, Any]:
    """The same job on a fresh worker and on a used one (one job worker, so both land on it)."""
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    server = Server(work / "first-job", cache, GPU_UMAP_MAX_CONCURRENT_JOBS="1")
    try:
        server.ready()
        for dims in (512, 32):
            data = rng.normal(size=(10_000, dims)).astype(np.float32)
            fresh = server.job(data)["processing_time"]
            used = server.job(data)["processing_time"]
            out[f"10k x {dims}"] = {"fresh_worker_s": fresh, "used_worker_s": used,
                                    "ratio": round(fresh / used, 3)}
            pid = next(p["pid"] for p in server.health()["processes"] if p["role"] == "job")
            os.kill(pid, signal.SIGKILL)  # the next size starts on a fresh worker again
            server.wait(lambda h: h["workers"]["idle"] == 1 and pid not in
                        {p["pid"] for p in h["processes"]})
    finally:
        server.stop()
    return out


def _respawn_and_memory(work: Path, cache: Path) -> dict[str, Any]:
    server = Server(work / "respawn", cache, GPU_UMAP_MAX_CONCURRENT_JOBS="3")
    try:
        server.ready()
        time.sleep(2.0)
        memory = server.memory()
        times = []
        for _ in range(3):
            pid = next(p["pid"] for p in server.health()["processes"] if p["role"] == "job")
            killed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            server.wait(lambda h: h["workers"]["idle"] == 3 and pid not in {p["pid"] for p in h["processes"]})
            times.append(round(time.monotonic() - killed, 3))
        return {"respawn_s": times, "idle_memory": memory}
    finally:
        server.stop()


UMAP_FRESH = """
import sys, time, numpy as np
t = time.perf_counter()
import umap
umap.UMAP().fit_transform(np.load(sys.argv[1]))
print(time.perf_counter() - t)
"""


def _run_without_server(work: Path, cache: Path, repeats: int) -> dict[str, Any]:
    from streaming_umap.datasets import labelled_mixture

    data, _ = labelled_mixture(20_000, 128, seed=3)
    path = work / "run-20k.npy"
    np.save(path, data)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    ours, theirs = [], []
    for i in range(repeats + 1):  # the first pair fills the caches; it is not counted
        t = time.perf_counter()
        subprocess.run([PY, "-m", "streaming_umap.cli", "run", str(path), "--out", str(work / "o.npy"), "-q"],
                       env=env, check=True, capture_output=True)
        run_s = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run([PY, "-c", UMAP_FRESH, str(path)], env=env, check=True, capture_output=True)
        lib_s = time.perf_counter() - t
        if i:
            ours.append(run_s)
            theirs.append(lib_s)
    return {"run_s": [round(x, 2) for x in ours], "umap_learn_fresh_process_s": [round(x, 2) for x in theirs],
            "ratio_median": round(float(np.median(ours) / np.median(theirs)), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--skip-cold", action="store_true",
                        help="no first start with an empty cache: the second start and the rest use the "
                             "shared cache (NUMBA_CACHE_DIR, else .cache/numba; fill it with warm-cache)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    # with --skip-cold, an empty cache would make the "second" start a first one (it did)
    cache = (Path(os.environ.get("NUMBA_CACHE_DIR", ROOT / ".cache" / "numba")) if args.skip_cold
             else work / "numba-cache")
    load_before = os.getloadavg()
    try:
        result: dict[str, Any] = {
            "date": date.today().isoformat(), "cores": len(os.sched_getaffinity(0)),
            "starts": _starts(work, cache, cold=not args.skip_cold),
            "first_job": _first_job(work, cache),
            "respawn": _respawn_and_memory(work, cache),
            "run_without_server": _run_without_server(work, cache, args.repeats),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["load_average"] = {"before": load_before, "after": os.getloadavg()}
    write_figure(result, args.out, "startup")
    return 0


if __name__ == "__main__":
    sys.exit(main())
