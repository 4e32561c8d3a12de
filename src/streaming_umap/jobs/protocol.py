"""Messages between the supervisor (server process) and a worker process.

They travel pickled over one duplex ``multiprocessing`` pipe per worker. Arrays never
do, except small immediate requests and live layouts: job inputs and results are
``.npy`` files in the job's folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

# --------------------------------------------------------------- supervisor -> worker


@dataclass(frozen=True)
class RunJob:
    job_id: str
    kind: str  # "umap" | "cluster"
    params: dict[str, Any]
    input_path: str
    output_dir: str
    chunk_size: int
    exact_knn_max_rows: int


@dataclass(frozen=True)
class RunImmediate:
    request_id: int
    kind: str
    params: dict[str, Any]
    data: np.ndarray
    chunk_size: int
    exact_knn_max_rows: int


@dataclass(frozen=True)
class Control:
    job_id: str
    action: Literal["pause", "resume", "cancel", "live"]
    every: int = 0  # for "live": send the layout every this many epochs (0 = stop)


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
class StageStarted:
    job_id: str
    stage: str
    total: int
    at: float


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
