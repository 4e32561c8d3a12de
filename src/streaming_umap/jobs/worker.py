"""The worker process: warm up a backend once, then run jobs one at a time.

Started with the ``spawn`` method by the supervisor. It reads its job's input from
the job folder, writes the result there (atomically), and reports through its pipe:
stage starts, throttled progress, pause acknowledgements, live layouts, the outcome,
and its log records. Pause and cancel arrive on the same pipe and are honoured at
checkpoints (see :class:`PipeCheckpoint`).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DeviceFault, DeviceOutOfMemory, InvalidInput, JobCancelled
from . import protocol as msg
from .store import save_npy

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.05  # seconds between progress messages (the hub coalesces further)
LAYOUT_BYTES_PER_SECOND = 40e6  # live layouts: at most this much data per second


@dataclass(frozen=True)
class WorkerConfig:
    backend: str  # "auto" | "cpu" | "gpu"
    warmup: str  # full | light | off
    numba_cache_dir: str
    role: str  # "job" | "immediate"
    index: int
    cuda_visible_devices: str | None = None
    rmm_pool_bytes: int | None = None


class Link:
    """The worker's end of the pipe, safe to send on from any thread."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.backlog: list[object] = []

    def send(self, message: object) -> None:
        with self.lock:
            self.conn.send(message)

    def recv(self) -> object:
        if self.backlog:
            return self.backlog.pop(0)
        return self.conn.recv()


class PipeLogHandler(logging.Handler):
    def __init__(self, link: Link) -> None:
        super().__init__()
        self.link = link

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.link.send(msg.LogRecord(record.name, record.levelno, self.format(record)))
        except Exception:  # the pipe is gone: nowhere left to log to
            pass


class PipeCheckpoint:
    """Reports a running job's progress and holds it while paused."""

    def __init__(self, link: Link, job_id: str) -> None:
        self.link = link
        self.job_id = job_id
        self.cancelled = False
        self.paused = False
        self.live_every = 0
        self.total = 1
        self.last_sent = 0.0
        self.next_layout_at = 0.0

    def stage(self, name: str, total: int, **info: int) -> None:
        self.total = max(1, total)
        self.link.send(msg.StageStarted(self.job_id, name, self.total, time.time()))
        self.last_sent = 0.0

    def advance(self, done: int, **counters: int) -> None:
        now = time.monotonic()
        if done >= self.total or now - self.last_sent >= PROGRESS_INTERVAL:
            self.link.send(msg.Progress(self.job_id, done, counters, time.time()))
            self.last_sent = now
        if self.poll() == "cancel":
            raise JobCancelled(f"job {self.job_id} cancelled at a checkpoint")

    def poll(self) -> str:
        self._drain()
        if self.paused and not self.cancelled:
            self.link.send(msg.Held(self.job_id, True, time.time()))
            while self.paused and not self.cancelled:
                self._handle(self.link.conn.recv())
            if not self.cancelled:
                self.link.send(msg.Held(self.job_id, False, time.time()))
        return "cancel" if self.cancelled else "go"

    def wants_layout(self, epoch: int) -> bool:
        return (
            self.live_every > 0
            and epoch % self.live_every == 0
            and time.monotonic() >= self.next_layout_at
        )

    def layout(self, epoch: int, embedding: np.ndarray) -> None:
        array = np.array(embedding, dtype=np.float32, copy=True)
        self.link.send(msg.Layout(self.job_id, epoch, array))
        self.next_layout_at = time.monotonic() + max(0.1, array.nbytes / LAYOUT_BYTES_PER_SECOND)

    def _drain(self) -> None:
        while self.link.conn.poll():
            self._handle(self.link.conn.recv())

    def _handle(self, message: object) -> None:
        if isinstance(message, msg.Control) and message.job_id == self.job_id:
            if message.action == "pause":
                self.paused = True
            elif message.action == "resume":
                self.paused = False
            elif message.action == "cancel":
                self.cancelled = True
            elif message.action == "live":
                self.live_every = max(0, message.every)
        elif isinstance(message, msg.Control):
            pass  # meant for a job that already ended here
        else:
            self.link.backlog.append(message)


def load_backend(choice: str, cfg: WorkerConfig) -> Any:
    """The backend this worker computes with; ``auto`` prefers a visible GPU."""
    if choice in ("gpu", "auto"):
        try:
            from ..backends.gpu import GPUBackend, gpu_available

            if choice == "gpu" or gpu_available():
                return GPUBackend(pool_bytes=cfg.rmm_pool_bytes)
        except ImportError as exc:
            if choice == "gpu":
                raise RuntimeError(f"STREAMING_UMAP_BACKEND=gpu but the GPU stack is missing: {exc}") from exc
            log.info("no GPU backend (%s); using the CPU backend", exc)
    from ..backends.cpu import CPUBackend

    return CPUBackend()


def _options(job: msg.RunJob | msg.RunImmediate) -> Any:
    from ..backends.base import RunOptions

    return RunOptions(chunk_size=job.chunk_size, exact_knn_max_rows=job.exact_knn_max_rows)


def _compute(backend: Any, kind: str, data: np.ndarray, params: dict[str, Any], cp: Any, options: Any) -> Any:
    from ..schemas import params_from_dict

    typed = params_from_dict(kind, params)
    if kind == "umap":
        return backend.umap(data, typed, cp, options)
    return backend.cluster(data, typed, cp, options)


def run_job(backend: Any, link: Link, job: msg.RunJob) -> bool:
    """Run one job to its end; return False if the worker must retire afterwards."""
    cp = PipeCheckpoint(link, job.job_id)
    out_dir = Path(job.output_dir)
    try:
        cp.stage("load", 1)
        data = np.load(job.input_path, mmap_mode="r")
        data = np.ascontiguousarray(data, dtype=np.float32)
        cp.advance(1)
        out = _compute(backend, job.kind, data, job.params, cp, _options(job))
        cp.stage("write", 1)
        summary: dict[str, Any] = {"n_rows": int(data.shape[0])}
        if job.kind == "umap":
            save_npy(out_dir / "embedding.npy", out.embedding)
            summary["n_components"] = int(out.embedding.shape[1])
        else:
            save_npy(out_dir / "labels.npy", out.labels.astype(np.int32))
            if out.centers is not None:
                save_npy(out_dir / "centers.npy", out.centers.astype(np.float32))
            summary.update(n_clusters=out.n_clusters, noise_points=out.noise_points,
                           has_centers=out.centers is not None)
        cp.advance(1)
        link.send(msg.Done(job.job_id, summary, out.warnings))
    except JobCancelled:
        link.send(msg.Cancelled(job.job_id))
    except InvalidInput as exc:
        link.send(msg.Failed(job.job_id, exc.detail, status_code=422))
    except DeviceOutOfMemory as exc:
        link.send(msg.Failed(job.job_id, f"out of GPU memory: {exc}"))
    except DeviceFault as exc:
        link.send(msg.Failed(job.job_id, f"GPU error, worker retired: {exc}", retire=True))
        return False
    except MemoryError:
        link.send(msg.Failed(job.job_id, "out of memory: the job needs more RAM than is free"))
    except Exception as exc:  # any other bug fails this job, not the worker
        log.error("job %s failed:\n%s", job.job_id, traceback.format_exc())
        link.send(msg.Failed(job.job_id, f"{type(exc).__name__}: {exc}"))
    return True


def run_immediate(backend: Any, link: Link, job: msg.RunImmediate) -> None:
    from ..pipeline.checkpoint import NullCheckpoint

    started = time.perf_counter()
    try:
        out = _compute(backend, job.kind, job.data, job.params, NullCheckpoint(), _options(job))
    except InvalidInput as exc:
        link.send(msg.ImmediateFailed(job.request_id, exc.detail, 422))
        return
    except Exception as exc:
        log.error("immediate request failed:\n%s", traceback.format_exc())
        link.send(msg.ImmediateFailed(job.request_id, f"{type(exc).__name__}: {exc}", 500))
        return
    payload: dict[str, Any] = {"warnings": out.warnings, "seconds": time.perf_counter() - started}
    if job.kind == "umap":
        payload["embedding"] = out.embedding
    else:
        payload.update(labels=out.labels, n_clusters=out.n_clusters,
                       noise_points=out.noise_points, centers=out.centers)
    link.send(msg.ImmediateDone(job.request_id, payload))


def _setup(cfg: WorkerConfig, link: Link) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server owns Ctrl-C and tells us
    os.environ.setdefault("NUMBA_CACHE_DIR", cfg.numba_cache_dir)
    if cfg.cuda_visible_devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = cfg.cuda_visible_devices
    root = logging.getLogger()
    root.handlers[:] = [PipeLogHandler(link)]
    root.setLevel(logging.INFO)
    import warnings

    warnings.simplefilter("ignore")


def worker_main(conn: Connection, cfg: WorkerConfig) -> None:
    """Entry point of a worker process."""
    link = Link(conn)
    _setup(cfg, link)
    started = time.perf_counter()
    backend = load_backend(cfg.backend, cfg)
    light = cfg.role == "immediate" or cfg.warmup == "light"
    calibration = backend.warm_up(light=light) if cfg.warmup != "off" else {}
    link.send(msg.Ready(backend.name, backend.describe(), calibration, time.perf_counter() - started))
    log.info("%s worker %d ready (%s) in %.1f s", cfg.role, cfg.index, backend.name,
             time.perf_counter() - started)
    while True:
        try:
            message = link.recv()
        except (EOFError, OSError):
            return  # the server is gone
        if isinstance(message, msg.Shutdown):
            return
        if isinstance(message, msg.RunJob):
            if not run_job(backend, link, message):
                sys.exit(3)
        elif isinstance(message, msg.RunImmediate):
            run_immediate(backend, link, message)
