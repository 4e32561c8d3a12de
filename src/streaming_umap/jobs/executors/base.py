"""The seam between the supervisor and whatever runs jobs.

The supervisor owns the queue, job state, persistence, ETA and the hub; an executor
only starts runs, relays the events the running code emits (:mod:`..protocol`) and
delivers control. Implementations sit side by side (``local``: worker processes of this
server; ``dask``: a ``dask.distributed`` cluster), chosen by a setting through the table
in :mod:`.` and imported lazily.

Nothing here blocks the event loop: every method but :meth:`Executor.start`,
:meth:`Executor.stop` and :meth:`Executor.immediate` returns at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol

from ...config import Settings
from ...pipeline import gpu_memory
from .. import protocol as msg

# Full fits up to these sizes, sample-fit + placement above (benchmarks/results, bench_scale):
# on the CPU a full fit of 1M x 512 takes tens of minutes on a small machine; the GPU's full
# fit is the better layout wherever it fits (its memory model refuses what does not).
DEFAULT_FIT_SAMPLE_ROWS = {"cpu": 500_000, "gpu": 0}


class Events(Protocol):
    """What an executor tells the supervisor (always called on the event loop)."""

    def job_event(self, job_id: str, message: object) -> None:
        """A message of a running job: StageStarted, Progress, Held, Layout, Done,
        Failed or Cancelled. After Done, Failed or Cancelled the job holds no worker."""

    def job_lost(self, job_id: str, how: str) -> None:
        """The worker running the job is gone (``how`` says why); it holds no worker."""

    def worker_ready(self, ready: msg.Ready) -> None:
        """A worker finished warming up (backend, device and speed calibration)."""

    def capacity(self) -> None:
        """A worker became free or ready: queued jobs may start."""

    def jobs_waiting(self) -> bool:
        """Whether jobs wait in the queue (immediate requests then keep off job workers)."""


class Executor(ABC):
    """Runs jobs and immediate requests somewhere; see the module docstring."""

    name: str = "abstract"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backend = "detecting"  # "cpu" or "gpu" once a worker reported
        self.device: dict[str, Any] = {}

    @abstractmethod
    async def start(self, events: Events) -> None:
        """Start (or connect to) the workers; return without waiting for warm-up."""

    @abstractmethod
    async def stop(self, timeout: float) -> None:
        """Stop every run and worker this executor started, within ``timeout``."""

    def available(self) -> str | None:
        """Why no new work can be accepted now (a 503 says so), or None."""
        return None

    @abstractmethod
    def free_slots(self) -> int:
        """How many jobs could start right now."""

    @abstractmethod
    def start_job(self, run: msg.RunJob) -> bool:
        """Start ``run`` on a free worker; False when none can take it now."""

    @abstractmethod
    def holds(self, job_id: str) -> bool:
        """Whether a worker is running the job."""

    @abstractmethod
    def pause(self, job_id: str) -> str:
        """Hold the running job; a Held(paused=True) event follows. Returns what the
        caller is told (when it takes effect)."""

    @abstractmethod
    def resume(self, job_id: str) -> str:
        """Let a held job go on; a Held(paused=False) event follows."""

    @abstractmethod
    def cancel(self, job_id: str) -> None:
        """Stop the running job; Cancelled (or job_lost) follows, never a silence."""

    @abstractmethod
    def set_live(self, job_id: str, every: int) -> None:
        """Send the job's live layout every ``every`` epochs (0: stop)."""

    @abstractmethod
    async def immediate(self, request: msg.RunImmediate) -> dict[str, Any]:
        """Compute a small request now; the worker's payload, or an error."""

    @abstractmethod
    def ready(self) -> bool:
        """At least one job worker is warm."""

    def warming(self) -> dict[str, Any] | None:
        """While no job worker is warm: ``{"step": ..., "elapsed_seconds": ...}``."""
        return None

    @abstractmethod
    def health(self) -> dict[str, Any]:
        """Worker counts and per-worker details for /health."""

    def admission(self, kind: str, rows: int, dims: int,
                  params: dict[str, Any]) -> gpu_memory.Admission | None:
        """Whether the workers' devices can take a job of this size now ("ok"), later
        ("wait") or never ("never"); None where memory is not modelled (CPU)."""
        return None

    def fit_sample_rows(self, params: dict[str, Any]) -> int:
        """Above how many rows a UMAP job is fitted on a sample (0: never): the request's
        ``fit_sample_rows``, else the setting, else the backend's default."""
        asked = params.get("fit_sample_rows")
        if asked is not None:
            return int(asked)
        if self.settings.fit_sample_rows is not None:
            return self.settings.fit_sample_rows
        return DEFAULT_FIT_SAMPLE_ROWS.get(self.backend, DEFAULT_FIT_SAMPLE_ROWS["cpu"])

    def fitted_rows(self, kind: str, rows: int, params: dict[str, Any]) -> int:
        """The rows a job's fit holds on the device (a sample, for sampled UMAP jobs)."""
        sample = self.fit_sample_rows(params) if kind == "umap" else 0
        return sample if 0 < sample < rows else rows

    def exact_max_rows(self, params: dict[str, Any]) -> int:
        """Rows up to which the workers compute the kNN exactly (for the ETA plan)."""
        if self.backend == "gpu":
            return gpu_memory.gpu_exact_max_rows(str(params.get("metric", "euclidean")))
        return self.settings.exact_knn_max_rows

    def __repr__(self) -> str:
        return f"{type(self).__name__}(backend={self.backend}, ready={self.ready()})"
