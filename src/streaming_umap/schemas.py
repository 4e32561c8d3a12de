"""Request parameters, response bodies and WebSocket frames.

The same ``msgspec`` types validate requests and generate ``/openapi.json``, so the
documentation cannot drift from what the server accepts.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct

from .errors import InvalidInput, MalformedBody

Metric = Literal["euclidean", "cosine", "manhattan", "correlation", "chebyshev"]
METRICS: tuple[str, ...] = ("euclidean", "cosine", "manhattan", "correlation", "chebyshev")
Algorithm = Literal["dbscan", "kmeans", "hdbscan"]
ALGORITHMS: tuple[str, ...] = ("dbscan", "kmeans", "hdbscan")
JobKind = Literal["umap", "cluster", "transform"]
StatusName = Literal[
    "pending", "processing", "paused", "cancelling", "completed", "failed", "cancelled"
]

ModelId = Annotated[str, Meta(pattern=r"^[0-9a-f]{32}$", description=(
    "a model's id: the model_id of a completed job or immediate answer that kept its model"))]
Seed = Annotated[int, Meta(ge=0, le=2**32 - 1, description="fixed seed: reproducible result")]
ChunkSize = Annotated[int, Meta(ge=100, le=1_000_000, description="query rows per kNN chunk")]

# What each field accepts, in words; used in 422 messages next to msgspec's own text.
FIELD_RULES: dict[str, str] = {
    "data": "a non-empty list of equal-length, non-empty lists of finite numbers",
    "n_components": "an integer in 1..100",
    "n_neighbors": "an integer in 2..200",
    "min_dist": "a number in 0.0..1.0",
    "metric": "one of " + ", ".join(METRICS),
    "random_state": "null or an integer in 0..4294967295",
    "n_epochs": "null or an integer in 1..5000",
    "chunk_size": "null or an integer in 100..1000000",
    "fit_sample_rows": "null (the server's default) or an integer >= 0 (0: fit every row)",
    "keep_model": "true or false",
    "init_from": "null or a model id (32 hex digits) from GET /umap/streaming/models",
    "algorithm": "one of " + ", ".join(ALGORITHMS),
    "n_clusters": "an integer in 1..10000 and at most the number of rows",
    "eps": "a number > 0",
    "min_samples": "an integer in 1..10000",
    "min_cluster_size": "an integer in 2..1000000",
    "job_id": "the id of a completed cluster job",
}


class UMAPParams(Struct, kw_only=True, forbid_unknown_fields=True):
    """UMAP parameters (everything but the data)."""

    n_components: Annotated[int, Meta(ge=1, le=100)] = 2
    n_neighbors: Annotated[int, Meta(ge=2, le=200)] = 15
    min_dist: Annotated[float, Meta(ge=0.0, le=1.0)] = 0.1
    metric: Metric = "euclidean"
    random_state: Seed | None = None
    n_epochs: Annotated[int, Meta(ge=1, le=5000)] | None = None
    chunk_size: ChunkSize | None = None
    fit_sample_rows: Annotated[int, Meta(ge=0, le=1 << 40, description=(
        "above this many rows, fit on a random sample of this many and place the rest into "
        "that layout (0: fit every row; unset: the server's STREAMING_UMAP_FIT_SAMPLE_ROWS)"))] | None = None
    keep_model: Annotated[bool, Meta(description=(
        "keep the fitted layout as a model (its id is the answer's model_id), into which "
        "POST /umap/streaming/transform/{model_id} places new rows"))] = False
    init_from: Annotated[ModelId | None, Meta(description=(
        "refit starting from this model: the data's first rows must be the model's training "
        "rows in the same order; they start at their old positions, the new rows where the "
        "model places them, so old points move little"))] = None


class ClusterParams(Struct, kw_only=True, forbid_unknown_fields=True):
    """Clustering parameters (everything but the data)."""

    algorithm: Algorithm = "dbscan"
    n_clusters: Annotated[int, Meta(ge=1, le=10000)] = 8
    eps: Annotated[float, Meta(gt=0.0)] = 0.5
    min_samples: Annotated[int, Meta(ge=1, le=10000)] = 5
    min_cluster_size: Annotated[int, Meta(ge=2, le=1_000_000)] = 5
    metric: Metric = "euclidean"
    random_state: Seed | None = None
    chunk_size: ChunkSize | None = None


class TransformParams(Struct, kw_only=True, forbid_unknown_fields=True):
    """Placing new rows into a model's layout (everything but the data; the model is the
    path's ``model_id``)."""

    chunk_size: Annotated[int, Meta(ge=100, le=1_000_000, description=(
        "rows placed per step (one progress frame and pause/cancel checkpoint each)"))] | None = None


class UMAPRequest(UMAPParams, kw_only=True, forbid_unknown_fields=True):
    """JSON body of ``POST /umap/streaming/umap``."""

    data: list[list[float]]


class ClusterRequest(ClusterParams, kw_only=True, forbid_unknown_fields=True):
    """JSON body of ``POST /umap/streaming/cluster``."""

    data: list[list[float]]


class TransformRequest(TransformParams, kw_only=True, forbid_unknown_fields=True):
    """JSON body of ``POST /umap/streaming/transform/{model_id}``."""

    data: list[list[float]]


class UMAPRawRequest(UMAPParams, kw_only=True, forbid_unknown_fields=True):
    """:class:`UMAPRequest` with ``data`` left as its JSON text (for ingest's fast path)."""

    data: msgspec.Raw


class ClusterRawRequest(ClusterParams, kw_only=True, forbid_unknown_fields=True):
    """:class:`ClusterRequest` with ``data`` left as its JSON text."""

    data: msgspec.Raw


class TransformRawRequest(TransformParams, kw_only=True, forbid_unknown_fields=True):
    """:class:`TransformRequest` with ``data`` left as its JSON text."""

    data: msgspec.Raw


Params = UMAPParams | ClusterParams | TransformParams
PARAMS_TYPE: dict[str, type[Params]] = {
    "umap": UMAPParams,
    "cluster": ClusterParams,
    "transform": TransformParams,
}
Request = UMAPRequest | ClusterRequest | TransformRequest
REQUEST_TYPE: dict[str, type[Request]] = {
    "umap": UMAPRequest,
    "cluster": ClusterRequest,
    "transform": TransformRequest,
}


# ---------------------------------------------------------------- responses


class SubmitResponse(Struct, kw_only=True, omit_defaults=False):
    job_id: str
    status: Literal["started", "completed"]
    message: str
    total_points: int
    estimated_chunks: int
    warning: str | None = None
    status_url: str | None = None
    ws_url: str | None = None
    processing_time: float | None = None
    embeddings: list[list[float]] | None = None
    labels: list[int] | None = None
    n_clusters: int | None = None
    noise_points: int | None = None
    centers: list[list[float]] | None = None
    model_id: str | None = None  # keep_model: the model (of a job: once it has completed)


class Progress(Struct, kw_only=True):
    """The progress fields every status body and every WebSocket frame carries."""

    job_id: str
    status: StatusName
    stage: str
    total_points: int
    processed_points: int
    current_chunk: int
    total_chunks: int
    progress_percentage: float
    estimated_completion: float | None
    eta_seconds: float | None
    processing_time: float
    waiting_for: str | None = None  # pending jobs: what they wait for (warm-up, jobs ahead)
    model_id: str | None = None  # a completed job that kept its model (keep_model): the model


class JobStatus(Progress, kw_only=True):
    kind: JobKind
    result: dict[str, Any] | None
    error: str | None
    warning: str | None
    params: dict[str, Any]
    created_at: float
    started_at: float | None
    finished_at: float | None
    epoch: int | None = None
    total_epochs: int | None = None
    result_expired: bool = False
    worker: str | None = None  # which worker ran it: local:job-N, or a Dask worker's address


class JobList(Struct, kw_only=True):
    """One page of jobs, oldest first: ``count`` on this page, ``total`` in all; pass
    ``next_after`` as ``after`` for the next page (null on the last)."""

    jobs: list[JobStatus]
    count: int
    total: int
    next_after: str | None = None


class ControlResponse(Struct):
    job_id: str
    status: StatusName
    message: str


class ResultBody(Struct, kw_only=True):
    job_id: str
    kind: JobKind
    embeddings: list[list[float]] | None = None
    labels: list[int] | None = None
    n_clusters: int | None = None
    noise_points: int | None = None
    centers: list[list[float]] | None = None


class ClusteringRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    """JSON body of ``POST /umap/streaming/models/{model_id}/clustering``."""

    job_id: Annotated[str, Meta(min_length=1, description=(
        "a completed cluster job of the model's layout (its rows x n_components) or of its "
        "training rows (rows x dims)"))]


class ModelClustering(Struct, kw_only=True):
    """The clustering attached to a kept model: transforms into it label the rows they
    place (``labels``, -1 = noise)."""

    job_id: str  # the cluster job whose labels were copied
    algorithm: Algorithm
    space: Literal["layout", "rows"]  # what it clustered: the layout, or the training rows
    params: dict[str, Any]  # the cluster job's parameters
    n_clusters: int
    # the fitted distance past which a placed point is noise: dbscan eps, hdbscan one radius
    # per cluster (the largest distance from a member to its nearest other member), kmeans null
    radius: float | list[float] | None = None


class ModelInfo(Struct, kw_only=True):
    """A kept model: a fitted layout stored as plain arrays (training rows, embedding) and
    parameters, into which new rows can be placed on any backend."""

    model_id: str
    job_id: str | None  # the job that fitted it (null: an immediate answer)
    rows: int
    dims: int
    n_components: int
    metric: str
    n_neighbors: int
    a: float
    b: float
    params: dict[str, Any]  # the UMAP parameters it was fitted with
    backend: str  # cpu or gpu: what fitted it
    versions: dict[str, str]  # the libraries it was fitted with
    size_bytes: int  # on disk, counted toward STREAMING_UMAP_DISK_BUDGET_MB
    created_at: float
    last_used_at: float
    expires_at: float  # unused this long (STREAMING_UMAP_MODEL_TTL), it is removed
    clustering: ModelClustering | None = None  # attached with POST .../models/{id}/clustering


class ModelList(Struct, kw_only=True):
    """One page of models, oldest first (like :class:`JobList`)."""

    models: list[ModelInfo]
    count: int
    total: int
    next_after: str | None = None


class ModelDeleted(Struct, kw_only=True):
    model_id: str
    message: str


class WorkerCounts(Struct):
    total: int
    alive: int
    warming: int
    busy: int
    idle: int
    immediate: int


AuthMode = Literal["required", "off"]
HealthState = Literal["warming", "ok", "degraded"]


class HealthStatus(Struct, kw_only=True):
    """``/health`` for a caller without a key where keys are required: the status alone,
    and that a key is needed for more."""

    status: HealthState
    auth: AuthMode


class Health(Struct, kw_only=True):
    """``status``: ``warming`` until a job worker is warm (jobs wait in the queue until
    then), ``ok``, or ``degraded`` when workers keep dying. ``executor``: what runs the
    jobs (``local`` worker processes, or ``dask``). ``auth``: whether API keys are
    required; ``warning``: set when authentication is off on an address others can reach.
    ``processes`` (pids, the job each runs) is shown to admin keys only (and to every
    caller where keys are not required)."""

    status: HealthState
    auth: AuthMode
    warning: str | None = None
    version: str
    backend: str
    device: str
    executor: str
    workers: WorkerCounts
    queue_depth: int
    max_queue: int
    active_jobs: int
    uptime_seconds: float
    gpu: dict[str, Any] | None = None
    warmup: dict[str, Any] | None = None  # while no job worker is warm: {"step", "elapsed_seconds"}
    scheduler: dict[str, Any] | None = None  # the Dask executor: address, state, since, error
    processes: list[dict[str, Any]] = []


class ErrorBody(Struct):
    detail: str
    field: str | None = None
    row: int | None = None


class Frame(Progress, kw_only=True):
    """A job's state as a WebSocket frame (server to client). The socket also sends
    :class:`AckFrame`, :class:`ErrorFrame` and :class:`LayoutHeaderFrame`. Documented in
    docs/API.md."""

    type: Literal["snapshot", "progress", "paused", "resumed", "completed", "failed", "cancelled"]
    seq: int
    timestamp: float


class ClientAction(Struct, forbid_unknown_fields=True):
    """A client-to-server WebSocket message."""

    action: Literal["cancel", "pause", "resume"]


class AckFrame(Progress, kw_only=True):
    """The answer to a :class:`ClientAction` (``ok`` false: ``message`` says why)."""

    type: Literal["ack"]
    seq: int
    action: Literal["cancel", "pause", "resume"]
    ok: bool
    message: str


class ErrorFrame(Struct, kw_only=True):
    """A problem with the socket itself: an unknown job (then close code 4404), a
    subscriber too slow to keep up (then 1008), or a client message that is not a
    :class:`ClientAction` (the socket stays open)."""

    type: Literal["error"]
    message: str
    job_id: str | None = None


class LayoutHeaderFrame(Struct, kw_only=True):
    """Sent with ``?live=1``: announces the binary frame that follows it, ``rows`` x
    ``n_components`` little-endian float32 (``bytes`` long), the layout after ``epoch``."""

    type: Literal["layout"]
    job_id: str
    epoch: int
    rows: int
    n_components: int
    bytes: int


class DemoDataSet(Struct, kw_only=True):
    """One entry of ``GET /umap/streaming/demo``."""

    name: str
    rows: int
    dims: int
    classes: int
    description: str


# ---------------------------------------------------------------- validation helpers

_PATH = re.compile(r"`\$\.(\w+)((?:\[\d+\])*)`")


def _field_of(message: str) -> tuple[str | None, int | None]:
    match = _PATH.search(message)
    if not match:
        unknown = re.search(r"unknown field `(\w+)`", message)
        return (unknown.group(1) if unknown else None), None
    indexes = re.findall(r"\[(\d+)\]", match.group(2))
    return match.group(1), (int(indexes[0]) if indexes and match.group(1) == "data" else None)


def invalid_from_msgspec(exc: msgspec.ValidationError) -> InvalidInput:
    """Turn msgspec's message into a 422 that names the field and what it accepts."""
    message = str(exc)
    field, row = _field_of(message)
    if "unknown field" in message:
        allowed = sorted(set(FIELD_RULES))
        return InvalidInput(
            f"{message}; accepted fields are: {', '.join(allowed)}", field=field
        )
    rule = FIELD_RULES.get(field or "")
    detail = f"invalid `{field}`: {message}" if field else message
    if rule:
        detail += f"; expected {rule}"
    if row is not None:
        detail += f" (row {row})"
    return InvalidInput(detail, field=field, row=row)


_MAX_QUOTES = 4096  # a valid request has a few dozen; data rows hold no strings at all


def check_unique_keys(body: bytes | bytearray) -> None:
    """Refuse a JSON object that repeats a key (msgspec, like most decoders, would keep
    the last silently: ``{"data": A, "data": B}`` must not mean B).

    Rows of numbers contain no quotes, so every quoted string of a valid body is a
    top-level key or a parameter's value; they are found with ``bytes.find`` (memchr
    speed, no decode of the rows). A body with very many strings is left to the decoder,
    which refuses it anyway."""
    if body.count(b'"') > _MAX_QUOTES:
        return
    seen: set[str] = set()
    start = body.find(b'"')
    while start != -1:
        end = start + 1
        while True:
            end = body.find(b'"', end)
            if end == -1:
                return  # unterminated: the decoder says so
            backslashes = len(body[start + 1:end]) - len(body[start + 1:end].rstrip(b"\\"))
            if backslashes % 2 == 0:
                break
            end += 1
        if body[end + 1:end + 65].lstrip().startswith(b":"):
            try:
                key = json.loads(body[start:end + 1])  # "d\u0061ta" is "data" too
            except ValueError:
                return  # not a valid string: the decoder says so
            if key in seen:
                raise MalformedBody(f"the JSON object repeats the key {key!r}; send each field once")
            seen.add(key)
        start = body.find(b'"', end + 1)


def decode_request(kind: str, body: bytes | bytearray) -> Request:
    """Decode and type-check a JSON request body (call it off the event loop)."""
    return decode_json(body, REQUEST_TYPE[kind])


T = TypeVar("T")


def decode_json(body: bytes | bytearray, type_: type[T]) -> T:
    """A JSON body as ``type_``: 400 malformed or a repeated key, 422 naming the field."""
    check_unique_keys(body)
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        raise invalid_from_msgspec(exc) from None
    except msgspec.DecodeError as exc:
        raise MalformedBody(f"body is not valid JSON: {exc}") from None


def _nullable_fields(params_type: type) -> tuple[frozenset[str], frozenset[str]]:
    """The fields that may be null, and those of them whose value is text (for which an
    empty value is a value, not "unset")."""
    import msgspec.inspect as mi

    def bare(info: Any) -> Any:
        return bare(info.type) if isinstance(info, mi.Metadata) else info

    nullable = [f for f in msgspec.structs.fields(params_type) if f.default is None]
    texts = [f.name for f in nullable if any(isinstance(bare(t), mi.StrType) for t in
                                             getattr(bare(mi.type_info(f.type)), "types", ()))]
    return frozenset(f.name for f in nullable), frozenset(texts)


def params_from_query(kind: str, query: dict[str, str]) -> Params:
    """Parameters given in a query string (for binary uploads). An empty or ``null`` value
    means "unset" for a field that may be null; for any other field it is refused."""
    nullable, texts = _nullable_fields(PARAMS_TYPE[kind])
    unset = ("null", "None")
    cleaned = {k: v for k, v in query.items()
               if not (k in nullable and (v in unset or (v == "" and k not in texts)))}
    try:
        return msgspec.convert(cleaned, PARAMS_TYPE[kind], strict=False)
    except msgspec.ValidationError as exc:
        raise invalid_from_msgspec(exc) from None


RAW_REQUEST_TYPE: dict[str, type[UMAPRawRequest | ClusterRawRequest | TransformRawRequest]] = {
    "umap": UMAPRawRequest,
    "cluster": ClusterRawRequest,
    "transform": TransformRawRequest,
}


def decode_raw_request(kind: str, body: bytes | bytearray) -> tuple[Params, msgspec.Raw] | None:
    """The parameters and the ``data`` field's JSON text (msgspec checks that it is valid
    JSON), or None for any problem: the caller then decodes the body fully, which names
    the problem precisely."""
    if body.count(b'"data"') != 1:
        return None  # a repeated key: the full decode checks every value it is given
    try:
        request = msgspec.json.decode(body, type=RAW_REQUEST_TYPE[kind])
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None
    fields = msgspec.structs.asdict(request)
    raw = fields.pop("data")
    return PARAMS_TYPE[kind](**fields), raw


def params_of(request: Request) -> Params:
    fields = msgspec.structs.asdict(request)
    fields.pop("data")
    kind = next(k for k, t in REQUEST_TYPE.items() if isinstance(request, t))
    return PARAMS_TYPE[kind](**fields)


def params_to_dict(params: Params) -> dict[str, Any]:
    return msgspec.structs.asdict(params)


def params_from_dict(kind: str, values: dict[str, Any]) -> Params:
    return msgspec.convert(values, PARAMS_TYPE[kind])
