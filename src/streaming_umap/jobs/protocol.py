"""Messages between the server (supervisor and executor) and the code running a job.

The local executor pickles them over one duplex pipe per worker process (the rows of an
immediate request travel beside their message as raw bytes); the Dask executor carries
worker -> server messages in Dask's event log and controls in a ``distributed`` Variable.
Job inputs and results never travel here: they are ``.npy`` files (or artifacts) that
both sides can reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

# --------------------------------------------------------------- supervisor -> worker


@dataclass(frozen=True)
class RunJob:
    job_id: str
    kind: str  # "umap" | "cluster" | "transform" (jobs.kinds)
    params: dict[str, Any]
    input_path: str
    output_dir: str
    chunk_size: int
    exact_knn_max_rows: int
    rows: int = 0
    dims: int = 0
    threads: int | None = None  # compute threads to start with (None: every core given)
    fit_sample_rows: int = 0  # above this many rows: fit on a sample, place the rest
    model_dir: str | None = None  # the kept model a transform places into, or a refit starts from


@dataclass(frozen=True)
class RunImmediate:
    request_id: int
    kind: str
    params: dict[str, Any]
    data: np.ndarray
    chunk_size: int
    exact_knn_max_rows: int
    model_dir: str | None = None  # as RunJob's
    output_dir: str | None = None  # keep_model: where the model's files are staged


@dataclass(frozen=True)
class Control:
    job_id: str
    action: Literal["pause", "resume", "cancel", "live", "threads"]
    every: int = 0  # "live": send the layout every this many epochs (0 = stop); "threads": how many


@dataclass(frozen=True)
class Shutdown:
    pass


# --------------------------------------------------------------- worker -> supervisor


@dataclass(frozen=True)
class Ready:
    backend: str
    info: dict[str, Any]
    calibration: dict[str, float]
    warmup_seconds: float


@dataclass(frozen=True)
class Started:
    """The job began on this worker (a process of this server, or a Dask worker)."""

    job_id: str
    worker: str
    backend: str
    at: float


@dataclass(frozen=True)
class StageStarted:
    job_id: str
    stage: str
    total: int
    at: float
    # what the stage said of itself (``first_run=1``: code this process has not run yet)
    info: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    job_id: str
    done: int
    counters: dict[str, int]
    at: float


@dataclass(frozen=True)
class Held:
    """The job is now paused (``paused=True``) or running again (``False``)."""

    job_id: str
    paused: bool
    at: float


@dataclass(frozen=True)
class Layout:
    job_id: str
    epoch: int
    embedding: np.ndarray


@dataclass(frozen=True)
class Done:
    job_id: str
    summary: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Failed:
    job_id: str
    error: str
    retire: bool = False  # the worker is not fit for more work (e.g. a CUDA fault)
    status_code: int | None = None  # set for request errors found late (immediate)


@dataclass(frozen=True)
class Cancelled:
    job_id: str


@dataclass(frozen=True)
class ImmediateDone:
    request_id: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class ImmediateFailed:
    request_id: int
    error: str
    status_code: int  # 422 for input the backend rejected, 500 otherwise


@dataclass(frozen=True)
class LogRecord:
    name: str
    level: int
    message: str
