"""``streaming-umap run`` with no server: the job runs in this process.

No service, no worker pool, no multi-worker warm-up: the CPU backend compiles only what
this job needs (one metric, one kNN path), with a line on the terminal that says what is
being compiled and for how long, then runs the job under the same progress bar the
client shows for server jobs (stage, percent, ETA from the cost model's priors). The
numba cache (``$NUMBA_CACHE_DIR``, else ``~/.cache/streaming-umap/numba``) makes later
runs compile less.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import numpy as np

from .run import Interrupted, UsageError, labels_path, note, save

EXACT_KNN_MAX_ROWS = 4096  # the service's default (STREAMING_UMAP_EXACT_KNN_MAX_ROWS)


def numba_cache() -> Path:
    """A lasting compile cache, so the second run compiles less than the first."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streaming-umap" / "numba"


@contextmanager
def ticking(what: str, quiet: bool) -> Iterator[None]:
    """A terminal line ``what ... 12 s`` kept up to date while the block runs."""
    if quiet:
        yield
        return
    started = time.monotonic()
    done = threading.Event()

    def tick() -> None:
        while not done.wait(0.5):
            sys.stderr.write(f"\rstreaming-umap: {what} ... {time.monotonic() - started:.0f} s")
            sys.stderr.flush()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
        sys.stderr.write(f"\rstreaming-umap: {what}: {time.monotonic() - started:.1f} s\n")
        sys.stderr.flush()


class BarCheckpoint:
    """The checkpoint of an in-process job: feeds the ETA tracker, redraws the bar."""

    def __init__(self, kind: str, data: np.ndarray, params: dict[str, Any], label: str,
                 quiet: bool) -> None:
        from ..pipeline.eta import CostModel, ProgressTracker

        rows, dims = data.shape
        plan = CostModel("cpu").plan(kind, rows, dims, params, EXACT_KNN_MAX_ROWS)
        self.tracker = ProgressTracker(plan)
        self.stage_name = "load"
        self.label = label
        self.quiet = quiet
        self._stop = threading.Event()
        self._drawer: threading.Thread | None = None

    def __enter__(self) -> Self:
        if not self.quiet:
            self._drawer = threading.Thread(target=self._draw, daemon=True)
            self._drawer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._drawer is not None:
            self._drawer.join()

    def _frame(self, status: str) -> Any:
        from .._client.models import Frame

        progress, eta = self.tracker.estimate(time.time())
        return Frame(job_id="local", status=status, stage=self.stage_name,
                     progress_percentage=100.0 if status == "completed" else progress,
                     eta_seconds=eta)

    def _draw(self) -> None:
        from .._client.progress import ProgressBar

        with ProgressBar(self.label) as bar:
            while not self._stop.wait(0.2):
                bar.update(self._frame("processing"))
            bar.update(self._frame("completed"))

    # the Checkpoint protocol (pipeline/checkpoint.py)
    def stage(self, name: str, total: int, **info: int) -> None:
        self.stage_name = name
        self.tracker.on_stage(name, total, time.time())

    def advance(self, done: int, **counters: int) -> None:
        self.tracker.on_advance(done, time.time())

    def poll(self) -> str:
        return "go"

    def wants_layout(self, epoch: int) -> bool:
        return False

    def layout(self, epoch: int, embedding: np.ndarray) -> None:
        pass


def _typed(kind: str, options: dict[str, Any]) -> Any:
    import msgspec

    from ..schemas import PARAMS_TYPE

    values = {k: v for k, v in options.items() if v is not None}
    try:
        return msgspec.convert(values, PARAMS_TYPE[kind])
    except msgspec.ValidationError as exc:
        raise UsageError(f"invalid option: {exc}") from None


def _checked(data: np.ndarray) -> np.ndarray:
    from ..config import Settings
    from ..errors import InvalidInput
    from ..web.ingest import finalize

    try:
        return finalize(data, Settings())
    except InvalidInput as exc:
        raise UsageError(exc.detail) from None


def _compute(backend: Any, kind: str, data: np.ndarray, params: Any, label: str,
             quiet: bool) -> Any:
    import msgspec

    from ..backends.base import RunOptions

    options = RunOptions(exact_knn_max_rows=EXACT_KNN_MAX_ROWS)
    with BarCheckpoint(kind, data, msgspec.structs.asdict(params), label, quiet) as cp:
        if kind == "umap":
            return backend.umap(data, params, cp, options)
        return backend.cluster(data, params, cp, options)


def run_here(data: np.ndarray, args: argparse.Namespace, umap_options: dict[str, Any],
             cluster_options: dict[str, Any]) -> int:
    from ..backends.base import RunOptions
    from ..backends.cpu import CPUBackend
    os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache()))
    quiet, out = args.quiet, Path(args.out)
    rows = _checked(data)
    params = _typed("umap", umap_options)
    cluster = _typed("cluster", cluster_options) if args.cluster else None
    note(f"no --server given: computing here, on the CPU ({rows.shape[0]} x {rows.shape[1]})")
    try:
        backend = CPUBackend()
        path = backend.job_path(params, rows.shape[0], RunOptions(exact_knn_max_rows=EXACT_KNN_MAX_ROWS))
        with ticking(f"compiling what this job needs ({path}; cached for later runs)", quiet):
            backend.prepare(params, rows.shape[0], RunOptions(exact_knn_max_rows=EXACT_KNN_MAX_ROWS))
        result = _compute(backend, "umap", rows, params, "umap", quiet)
        for warning in result.warnings:
            note(f"warning: {warning}")
        save(out, result.embedding)
        written = [out]
        if cluster is not None:
            clusters = _compute(backend, "cluster", result.embedding, cluster, args.cluster, quiet)
            save(labels_path(out), clusters.labels)
            written.append(labels_path(out))
            noise = "" if clusters.noise_points is None else f", {clusters.noise_points} noise points"
            note(f"{clusters.n_clusters} clusters{noise}")
    except KeyboardInterrupt:
        raise Interrupted(None, None) from None
    for path_written in written:
        sys.stdout.write(f"{path_written}\n")
    return 0
