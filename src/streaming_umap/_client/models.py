"""What the client hands back: job status, progress frames, clustering results, kept models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import numpy as np

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
Source = Literal["websocket", "poll", "immediate"]


@dataclass(frozen=True, kw_only=True)
class JobStatus:
    """A job's state as the server reports it (``GET /umap/streaming/status/{id}``).

    ``progress_percentage`` runs 0..100; ``eta_seconds`` is the server's estimate of the
    seconds left (``None`` when unknown, frozen while paused). ``model_id`` is the model
    a ``keep_model`` job kept (``None`` until it has completed). ``raw`` keeps every
    field of the answer, including those not named here.
    """

    job_id: str
    status: str
    stage: str
    progress_percentage: float = 0.0
    processed_points: int = 0
    total_points: int = 0
    current_chunk: int = 0
    total_chunks: int = 0
    eta_seconds: float | None = None
    estimated_completion: float | None = None
    processing_time: float = 0.0
    epoch: int | None = None
    total_epochs: int | None = None
    kind: str | None = None
    error: str | None = None
    warning: str | None = None
    params: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    model_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> JobStatus:
        return cls(**_known(cls, body), raw=body)


@dataclass(frozen=True, kw_only=True)
class Frame(JobStatus):
    """One progress frame. ``type`` is ``snapshot``, ``progress``, ``paused``,
    ``resumed``, ``completed``, ``failed`` or ``cancelled``; ``seq`` increases per job
    (``None`` for frames made from polled status); ``source`` says how it arrived."""

    type: str = "progress"
    seq: int | None = None
    timestamp: float | None = None
    source: Source = "websocket"

    @classmethod
    def from_dict(cls, body: dict[str, Any], source: Source = "websocket") -> Frame:
        return cls(**_known(cls, body), raw=body, source=source)

    @classmethod
    def from_status(cls, status: JobStatus, type_: str, source: Source = "poll") -> Frame:
        known = _known(cls, status.raw)
        known.update(type=type_, seq=None, source=source)
        return cls(**known, raw=status.raw)


def _known(cls: type[Any], body: dict[str, Any]) -> dict[str, Any]:
    names = cls.__dataclass_fields__.keys() - {"raw", "source"}
    return {k: v for k, v in body.items() if k in names}


@dataclass(frozen=True)
class ClusterResult:
    """Cluster labels (int32, -1 = noise) and what the algorithm reports about them."""

    labels: np.ndarray
    n_clusters: int
    noise_points: int | None = None
    centers: np.ndarray | None = None


@dataclass(frozen=True)
class UMAPResult:
    """What ``umap(..., keep_model=True)`` returns: the layout (float32, rows x
    ``n_components``) and the id of the model kept from it, for ``transform``."""

    embedding: np.ndarray
    model_id: str


@dataclass(frozen=True)
class PlacedResult:
    """What ``transform_labelled`` returns: the placed rows' positions (float32, rows x
    ``n_components``) and, when the model has a clustering attached, their cluster labels
    (int32, -1 = noise) and the clustering's ``n_clusters``; ``None`` without one."""

    embedding: np.ndarray
    labels: np.ndarray | None = None
    n_clusters: int | None = None


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    """A kept model (``GET /umap/streaming/models/{id}``): the fitted layout of ``rows`` x
    ``dims`` training rows, into which ``transform`` places new rows of ``dims`` columns.

    ``job_id`` is the job that fitted it (``None``: an immediate answer). Times are Unix
    seconds; unused until ``expires_at``, the server removes it. ``clustering`` is the
    clustering attached to it (``attach_clustering``: ``job_id``, ``algorithm``, ``space``,
    ``params``, ``n_clusters``, ``radius``), ``None`` without one. ``raw`` keeps every field.
    """

    model_id: str
    job_id: str | None = None
    rows: int = 0
    dims: int = 0
    n_components: int = 0
    metric: str = ""
    n_neighbors: int = 0
    a: float | None = None
    b: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    backend: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    size_bytes: int = 0
    created_at: float | None = None
    last_used_at: float | None = None
    expires_at: float | None = None
    clustering: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> ModelInfo:
        return cls(**_known(cls, body), raw=body)


@dataclass(frozen=True)
class ModelDeleted:
    """The server's answer to deleting a model."""

    model_id: str
    message: str


@dataclass(frozen=True)
class ControlReply:
    """The server's answer to cancel, pause or resume."""

    job_id: str
    status: str
    message: str


class LayoutOptions(TypedDict, total=False):
    """UMAP parameters; any left out take the server's default (docs/API.md).

    ``init_from`` (a model id) refits starting from that model: the data's first rows
    must be the model's training rows, in the same order.
    """

    n_components: int
    n_neighbors: int
    min_dist: float
    metric: str
    random_state: int | None
    n_epochs: int | None
    chunk_size: int | None
    init_from: str | None


class UMAPOptions(LayoutOptions, total=False):
    """:class:`LayoutOptions` and ``keep_model``: keep the fitted layout as a model on the
    server (its id is ``JobHandle.model_id``), into which ``transform`` places new rows."""

    keep_model: bool


class ClusterOptions(TypedDict, total=False):
    """Clustering parameters; any left out take the server's default (docs/API.md)."""

    algorithm: str
    n_clusters: int
    eps: float
    min_samples: int
    min_cluster_size: int
    metric: str
    random_state: int | None
    chunk_size: int | None
