"""What goes over the wire, with no I/O: arrays as ``.npy`` chunks, query parameters,
submit answers, results, and the bookkeeping that turns socket frames or polled
status into one ordered stream of :class:`Frame` (shared by the sync and async clients).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from .errors import InvalidInput, StreamingUMAPClientError
from .models import ClusterResult, ControlReply, Frame, JobStatus, PlacedResult, UMAPResult

API = "/umap/streaming"
NPY_TYPE = "application/x-npy"
CHUNK_BYTES = 1 << 20
UMAP_PARAMS = ("n_components", "n_neighbors", "min_dist", "metric", "random_state",
               "n_epochs", "chunk_size", "keep_model", "init_from")
CLUSTER_PARAMS = ("algorithm", "n_clusters", "eps", "min_samples", "min_cluster_size",
                  "metric", "random_state", "chunk_size")
TRANSFORM_PARAMS = ("chunk_size",)
PARAMS = {"umap": UMAP_PARAMS, "cluster": CLUSTER_PARAMS, "transform": TRANSFORM_PARAMS}
EMBEDDING_KINDS = frozenset({"umap", "transform"})  # whose result is a float32 array
MODEL_ID = re.compile(r"[0-9a-f]{32}")
ResultValue = np.ndarray | ClusterResult


# ---------------------------------------------------------------- requests


def _ragged_row(rows: Any) -> InvalidInput:
    lengths = []
    for i, row in enumerate(rows):
        try:
            lengths.append(len(row))
        except TypeError:
            return InvalidInput(f"row {i} is {type(row).__name__}, expected a sequence of numbers",
                                field="data", row=i)
        if lengths[i] != lengths[0]:
            return InvalidInput(
                f"row {i} has {lengths[i]} values but row 0 has {lengths[0]}; every row must "
                "have the same length", field="data", row=i)
    return InvalidInput("data could not be read as a rows x columns array of numbers", field="data")


def as_matrix(data: Any) -> np.ndarray:
    """``data`` as a numpy array, refusing ragged or non-numeric input before sending."""
    if isinstance(data, np.ndarray):
        array = data
    else:
        try:
            array = np.asarray(data)
        except ValueError:
            raise _ragged_row(data) from None
    if array.dtype.hasobject:
        raise _ragged_row(data) if array.ndim == 1 else InvalidInput(
            f"data must hold numbers; found dtype {array.dtype}", field="data")
    if array.dtype.kind not in "iuf":
        raise InvalidInput(f"data must hold integers or floats; found dtype {array.dtype}",
                           field="data")
    return array


def npy_parts(array: np.ndarray) -> tuple[int, Iterator[bytes]]:
    """The ``.npy`` encoding of ``array`` as (byte length, chunks), without a full copy."""
    if not (array.flags.c_contiguous or array.flags.f_contiguous):
        array = np.ascontiguousarray(array)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(array))
    flat = array.ravel(order="A").view(np.uint8)
    head = header.getvalue()

    def chunks() -> Iterator[bytes]:
        yield head
        for start in range(0, flat.size, CHUNK_BYTES):
            yield flat[start:start + CHUNK_BYTES].tobytes()

    return len(head) + flat.size, chunks()


def query(names: tuple[str, ...], values: dict[str, Any]) -> dict[str, str]:
    """Query-string parameters: the given ones (``None`` = the server's default)."""
    unknown = set(values) - set(names)
    if unknown:
        raise TypeError(f"unknown parameter(s) {sorted(unknown)}; expected some of {list(names)}")
    if values.get("init_from") is not None:
        model_id(values["init_from"], "init_from")
    return {k: _text(v) for k, v in values.items() if v is not None}


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def model_id(value: Any, name: str = "model_id") -> str:
    """``value`` if it is a model id (32 lowercase hex digits), refused before sending
    otherwise (it becomes part of a URL path)."""
    if not isinstance(value, str) or MODEL_ID.fullmatch(value) is None:
        raise InvalidInput(f"{name} must be a model id (32 hex digits, the model_id of a kept "
                           f"model); found {value!r}", field=name)
    return value


# ---------------------------------------------------------------- answers


@dataclass(frozen=True)
class Submitted:
    """The answer to a submit: a queued job, or an immediate result."""

    job_id: str
    kind: str
    message: str
    total_points: int
    warning: str | None
    params: dict[str, str]
    immediate: ResultValue | None = None
    model_id: str | None = None  # keep_model: the id the model has (a job's: once completed)
    body: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_immediate(self) -> bool:
        return self.job_id == "immediate"


def cluster_from_json(body: dict[str, Any]) -> ClusterResult:
    centers = body.get("centers")
    return ClusterResult(
        labels=np.asarray(body["labels"], dtype=np.int32),
        n_clusters=int(body.get("n_clusters") or 0),
        noise_points=body.get("noise_points"),
        centers=None if centers is None else np.asarray(centers, dtype=np.float32),
    )


def placed_from_json(body: dict[str, Any]) -> PlacedResult:
    """A transform's answer or JSON result: positions, and labels where the model has a clustering."""
    labels = body.get("labels")
    return PlacedResult(np.asarray(body["embeddings"], dtype=np.float32),
                        None if labels is None else np.asarray(labels, dtype=np.int32),
                        body.get("n_clusters") if labels is not None else None)


def submitted(kind: str, params: dict[str, str], body: dict[str, Any]) -> Submitted:
    immediate: ResultValue | None = None
    if body.get("job_id") == "immediate":
        immediate = (np.asarray(body["embeddings"], dtype=np.float32) if kind in EMBEDDING_KINDS
                     else cluster_from_json(body))
    return Submitted(job_id=str(body["job_id"]), kind=kind, message=str(body.get("message", "")),
                     total_points=int(body.get("total_points", 0)), warning=body.get("warning"),
                     params=params, immediate=immediate, model_id=body.get("model_id"), body=body)


def immediate_frame(sub: Submitted) -> Frame:
    body = {"job_id": sub.job_id, "status": "completed", "stage": "done", "type": "completed",
            "progress_percentage": 100.0, "processed_points": sub.total_points,
            "total_points": sub.total_points, "current_chunk": 1, "total_chunks": 1,
            "eta_seconds": 0.0, "processing_time": sub.body.get("processing_time") or 0.0,
            "kind": sub.kind, "warning": sub.warning, "model_id": sub.model_id}
    return Frame.from_dict(body, source="immediate")


ClientT = TypeVar("ClientT")


class HandleState(Generic[ClientT]):
    """What a job handle knows, with no I/O: the base of the sync and async handles."""

    def __init__(self, client: ClientT, job_id: str, sub: Submitted | None = None) -> None:
        self.client, self.job_id, self.submitted = client, job_id, sub
        self.kind: str | None = sub.kind if sub else None
        self.warning: str | None = sub.warning if sub else None
        self.last: Frame | None = immediate_frame(sub) if sub and sub.is_immediate else None
        self._model_id: str | None = sub.model_id if sub else None

    def __repr__(self) -> str:
        state = self.last.status if self.last else "unknown"
        return f"{type(self).__name__}({self.job_id!r}, kind={self.kind!r}, last={state!r})"

    @property
    def immediate(self) -> bool:
        return self.submitted is not None and self.submitted.is_immediate

    @property
    def model_id(self) -> str | None:
        """The model a ``keep_model`` submit keeps: known from the submit answer (the id the
        model has once the job has completed), else from the frames or status seen so far."""
        return self._model_id

    def _seen(self, frame: Frame) -> None:
        self.last = frame
        self.kind = self.kind or frame.kind
        self._model_id = frame.model_id or self._model_id

    def _status_from(self, body: dict[str, Any]) -> JobStatus:
        status = JobStatus.from_dict(body)
        self.kind = self.kind or status.kind
        self._model_id = status.model_id or self._model_id
        return status

    def _check_is_job(self) -> None:
        if self.immediate:
            raise StreamingUMAPClientError("an immediate answer is not a job; it is already complete")

    @staticmethod
    def _reply(body: dict[str, Any]) -> ControlReply:
        return ControlReply(str(body["job_id"]), str(body["status"]), str(body["message"]))

    def _cancel_on_exit(self, exc: BaseException | None) -> bool:
        """Leaving a ``with`` block by an exception cancels a job that has not ended."""
        return not (exc is None or self.immediate or (self.last is not None and self.last.terminal))


def kept(handle: HandleState[Any], embedding: np.ndarray) -> UMAPResult:
    """What ``umap(keep_model=True)`` returns, once ``handle``'s job has completed."""
    if handle.model_id is None:
        raise StreamingUMAPClientError(
            f"job {handle.job_id} completed but the server names no model_id for it "
            "(keep_model=true was sent)")
    return UMAPResult(embedding, handle.model_id)


def load_npy(content: bytes) -> np.ndarray:
    return np.load(io.BytesIO(content), allow_pickle=False)  # type: ignore[no-any-return]


def cluster_result(labels: np.ndarray, summary: dict[str, Any] | None) -> ClusterResult:
    summary = summary or {}
    return ClusterResult(labels=labels, n_clusters=int(summary.get("n_clusters") or 0),
                         noise_points=summary.get("noise_points"))


# ---------------------------------------------------------------- following a job


class Follower:
    """Orders what arrives about one job into frames: drops duplicates and replays
    (by ``seq`` on the socket, by change on polled status) and remembers the last one."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.last: Frame | None = None
        self.last_seq = -1
        self.socket_error: str | None = None

    @property
    def done(self) -> bool:
        """A terminal frame was seen (a terminal snapshot is followed by the real one)."""
        last = self.last
        return last is not None and last.terminal and last.type != "snapshot"

    def from_socket(self, body: dict[str, Any]) -> Frame | None:
        kind = body.get("type")
        if kind == "error":
            self.socket_error = str(body.get("message", "error frame"))
            return None
        if kind in ("ack", "layout") or "seq" not in body:
            return None
        frame = Frame.from_dict(body, source="websocket")
        if frame.seq is not None and frame.seq <= self.last_seq and not frame.terminal:
            return None
        return self._keep(frame)

    def from_poll(self, status: JobStatus) -> Frame | None:
        last = self.last
        if last is None:
            kind = status.status if status.terminal else "snapshot"
        elif status.terminal:
            kind = status.status
        elif status.status == "paused":
            kind = "paused" if last.status != "paused" else "progress"
        else:
            kind = "resumed" if last.status == "paused" else "progress"
        if last is not None and (last.status, last.stage, last.progress_percentage,
                                 last.eta_seconds) == (status.status, status.stage,
                                                       status.progress_percentage,
                                                       status.eta_seconds):
            return None
        return self._keep(Frame.from_status(status, kind, "poll"))

    def _keep(self, frame: Frame) -> Frame | None:
        if self.done:
            return None
        if frame.seq is not None:
            self.last_seq = max(self.last_seq, frame.seq)
        self.last = frame
        return frame


def ws_base(http_url: str) -> str:
    if http_url.startswith("https://"):
        return "wss://" + http_url[len("https://"):]
    if http_url.startswith("http://"):
        return "ws://" + http_url[len("http://"):]
    raise ValueError(f"server URL must start with http:// or https://, found {http_url!r}")


@dataclass(frozen=True)
class Upload:
    """One submit request: its path, query, and the ``.npy`` body in chunks."""

    kind: str
    path: str
    params: dict[str, str]
    length: int
    chunks: Iterator[bytes]

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": NPY_TYPE, "Content-Length": str(self.length)}


def upload(kind: str, data: Any, options: dict[str, Any], model: str | None = None) -> Upload:
    """A submit of ``kind``; a transform goes to ``model``'s path."""
    params = query(PARAMS[kind], options)
    path = f"{API}/{kind}" if model is None else f"{API}/{kind}/{model_id(model)}"
    length, chunks = npy_parts(as_matrix(data))
    return Upload(kind, path, params, length, chunks)
