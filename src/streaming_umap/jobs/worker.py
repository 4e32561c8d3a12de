"""What runs a job, wherever it runs: set up the process, load and warm a backend, run
one job or immediate request and report through a :class:`~.channel.Channel`.

Executor-neutral: the local executor's worker processes (:mod:`.executors._process`) and
the Dask executor's tasks both call these functions. A job reads its input from the
path it is given, writes its result next to it (atomically), and reports stage starts,
throttled progress, pause acknowledgements, live layouts and its outcome.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DeviceFault, DeviceOutOfMemory, InvalidInput, JobCancelled, is_disk_full
from . import protocol as msg
from .channel import Channel, ChannelCheckpoint, ChannelLogHandler, set_compute_threads
from .kinds import kind_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    backend: str  # "auto" | "cpu" | "gpu"
    warmup: str  # full | light | off
    numba_cache_dir: str
    role: str  # "job" | "immediate"
    index: int
    cuda_visible_devices: str | None = None
    rmm_pool_bytes: int | None = None


def setup_process(cfg: WorkerConfig, channel: Channel) -> None:
    """Environment and logging of a process that computes (before any backend import)."""
    os.environ.setdefault("NUMBA_CACHE_DIR", cfg.numba_cache_dir)
    if cfg.cuda_visible_devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = cfg.cuda_visible_devices
    root = logging.getLogger()
    root.handlers[:] = [ChannelLogHandler(channel)]
    root.setLevel(logging.INFO)
    import warnings

    warnings.simplefilter("ignore")


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


def warm(backend: Any, cfg: WorkerConfig, started: float,
         progress: Callable[[str], None] | None = None, split: bool = False) -> msg.Ready:
    """Compile and time what jobs need; the Ready message that says so. ``progress`` is
    told each step of the warm-up as it begins; ``split``: the warm template's warm-up,
    which leaves part of a first start's compile to a helper process (CPU backend)."""
    light = cfg.role == "immediate" or cfg.warmup == "light"
    extra = {"split": True} if split else {}
    calibration = backend.warm_up(light=light, progress=progress, **extra) if cfg.warmup != "off" else {}
    seconds = time.perf_counter() - started
    log.info("%s worker %d ready (%s) in %.1f s", cfg.role, cfg.index, backend.name, seconds)
    return msg.Ready(backend.name, backend.describe(), calibration, seconds)


def _options(job: msg.RunJob | msg.RunImmediate, placer: Any = None) -> Any:
    from ..backends.base import RunOptions

    return RunOptions(chunk_size=job.chunk_size, exact_knn_max_rows=job.exact_knn_max_rows,
                      fit_sample_rows=getattr(job, "fit_sample_rows", 0), placer=placer,
                      model_dir=job.model_dir)


def _compute(backend: Any, kind: str, data: np.ndarray, params: dict[str, Any], cp: Any, options: Any) -> Any:
    return kind_of(kind).compute(backend, data, params, cp, options)


def _keep_model(backend: Any, params: dict[str, Any], data: np.ndarray, out: Any,
                folder: Path, train_file: Path | None, model_id: str) -> Any:
    """Stage the fitted layout as a model in ``folder`` (the supervisor adopts it); the
    model, for :func:`_prebuild_index`."""
    from ..pipeline.transform_cpu import LayoutModel, curve_parameters
    from .model_store import model_meta, write_model_files

    rows, dims = data.shape
    a, b = curve_parameters(float(params.get("min_dist", 0.1)))
    k = max(1, min(int(params.get("n_neighbors", 15)), int(rows) - 1))
    metric = str(params.get("metric", "euclidean"))
    meta = model_meta(model_id=model_id, rows=int(rows), dims=int(dims),
                      n_components=int(out.embedding.shape[1]), metric=metric, n_neighbors=k,
                      a=a, b=b, params=params, backend=backend.name, job_id=None)
    write_model_files(folder, data, out.embedding, meta, train_file)
    return LayoutModel(data, out.embedding, a, b, metric, k, params.get("n_epochs"),
                       params.get("random_state"))


def _prebuild_index(backend: Any, model: Any, folder: Path, cp: Any) -> None:
    """A CPU worker builds a kept model's neighbour index as the fit ends (stage
    ``index``), so the first transform is as quick as later ones. A GPU worker leaves it to
    the first transform: NN-descent of a GPU-sized model on its CPU would hold the GPU."""
    from ..pipeline.transform_cpu import prebuild_index

    if backend.name == "cpu":
        prebuild_index(model, folder, cp)


def run_job(backend: Any, channel: Channel, job: msg.RunJob, placer: Any = None) -> bool:
    """Run one job to its end; return False if the worker must retire afterwards.
    ``placer``: how a job fitted on a sample places the other rows (None: here)."""
    cp = ChannelCheckpoint(channel, job.job_id)
    if job.threads:
        set_compute_threads(job.threads)
    try:
        cp.stage("load", 1)
        data = np.load(job.input_path, mmap_mode="r")
        data = np.ascontiguousarray(data, dtype=np.float32)
        cp.advance(1)
        out = _compute(backend, job.kind, data, job.params, cp, _options(job, placer))
        cp.stage("write", 1)
        folder = Path(job.output_dir)
        summary = {"n_rows": int(data.shape[0]), **kind_of(job.kind).write(out, folder)}
        kept = None
        if job.params.get("keep_model") and job.kind == "umap":
            kept = _keep_model(backend, job.params, data, out, folder, Path(job.input_path), job.job_id)
            summary["model_staged"] = True
        cp.advance(1)
        if kept is not None:
            _prebuild_index(backend, kept, folder, cp)
        channel.send(msg.Done(job.job_id, summary, out.warnings))
    except JobCancelled:
        channel.send(msg.Cancelled(job.job_id))
    except InvalidInput as exc:
        channel.send(msg.Failed(job.job_id, exc.detail, status_code=422))
    except DeviceOutOfMemory as exc:
        channel.send(msg.Failed(job.job_id, f"out of GPU memory: {exc}"))
    except DeviceFault as exc:
        channel.send(msg.Failed(job.job_id, f"GPU error, worker retired: {exc}", retire=True))
        return False
    except MemoryError:
        channel.send(msg.Failed(job.job_id, "out of memory: the job needs more RAM than is free"))
    except OSError as exc:
        log.error("job %s failed:\n%s", job.job_id, traceback.format_exc())
        reason = ("the server's disk is full: the result could not be stored (nothing was kept); "
                  "submit it again once there is room") if is_disk_full(exc) else (
                  f"the server could not read or write the job's files ({exc.strerror or type(exc).__name__})")
        channel.send(msg.Failed(job.job_id, reason))
    except Exception as exc:  # any other bug fails this job, not the worker
        log.error("job %s failed:\n%s", job.job_id, traceback.format_exc())
        channel.send(msg.Failed(job.job_id, f"{type(exc).__name__}: {exc}"))
    return True


def run_immediate(backend: Any, channel: Channel, job: msg.RunImmediate) -> None:
    from ..pipeline.checkpoint import NullCheckpoint

    started = time.perf_counter()
    try:
        out = _compute(backend, job.kind, job.data, job.params, NullCheckpoint(), _options(job))
    except InvalidInput as exc:
        channel.send(msg.ImmediateFailed(job.request_id, exc.detail, 422))
        return
    except Exception as exc:
        log.error("immediate request failed:\n%s", traceback.format_exc())
        channel.send(msg.ImmediateFailed(job.request_id, f"{type(exc).__name__}: {exc}", 500))
        return
    payload: dict[str, Any] = {"warnings": out.warnings, "seconds": time.perf_counter() - started,
                               **kind_of(job.kind).payload(out)}
    if job.params.get("keep_model") and job.kind == "umap" and job.output_dir:
        try:
            _keep_model(backend, job.params, job.data, out, Path(job.output_dir), None,
                        Path(job.output_dir).name)
            payload["model_staged"] = True
        except OSError as exc:
            log.error("immediate request: the model could not be kept:\n%s", traceback.format_exc())
            channel.send(msg.ImmediateFailed(job.request_id, "the server could not store the model "
                                             f"({exc.strerror or type(exc).__name__}); nothing was kept", 507))
            return
    channel.send(msg.ImmediateDone(job.request_id, payload))
