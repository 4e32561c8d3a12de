"""Python client for the streaming-umap service: numpy in, numpy out, live progress.

    >>> from streaming_umap.client import Client
    >>> emb = Client("http://localhost:8003").umap(X, n_neighbors=15, metric="cosine")
    >>> Client("https://gpu-box:8003", api_key="sumap_...")   # or $STREAMING_UMAP_API_KEY
    >>> labels = Client("http://localhost:8003").cluster(emb, algorithm="hdbscan").labels

Data travels as ``.npy`` (``Content-Type: application/x-npy``, parameters in the query
string), results come back as ``.npy``. Jobs are followed over the WebSocket and, when
it cannot open or drops, by polling ``/status``. Inputs smaller than the server's
immediate threshold are answered in the submit response; the client hides the
difference (``handle.job_id == "immediate"``).

:class:`Client` (sync) and :class:`AsyncClient` (asyncio) offer the same methods:
``umap``, ``cluster``, ``transform`` (submit, wait with a progress bar, fetch),
``submit_umap``, ``submit_cluster`` and ``submit_transform`` (return a :class:`JobHandle`),
``job(id)``, ``jobs()``, ``health()``, and for kept models ``models()``, ``model(id)``,
``delete_model(id)``, ``attach_clustering(id, job_id)``, ``detach_clustering(id)`` and
``transform_labelled``. A :class:`JobHandle` has ``frames()``, ``wait()``, ``result()``,
``status()``, ``cancel()``, ``pause()``, ``resume()`` and ``model_id``.

Kept models: ``umap(X, keep_model=True)`` returns a :class:`UMAPResult` (``embedding``,
``model_id``); ``transform(model_id, X_new)`` places new rows into that layout::

    >>> fitted = client.umap(X, keep_model=True)
    >>> placed = client.transform(fitted.model_id, X_new)    # float32, rows x n_components
    >>> clusters = client.submit_cluster(fitted.embedding, algorithm="hdbscan")  # a job: >= 1000 rows
    >>> clusters.wait()
    >>> client.attach_clustering(fitted.model_id, clusters.job_id)
    >>> labelled = client.transform_labelled(fitted.model_id, X_new) # .embedding, .labels

Only numpy, httpx, websockets and tqdm are needed (``pip install streaming-umap[client]``);
nothing of the server side is imported.

Exceptions::

    StreamingUMAPClientError
    ├── InvalidInput (ValueError)       refused before sending (ragged rows, non-numbers,
    │                                   a model id that is not 32 hex digits)
    ├── ConnectionError (builtins.ConnectionError)   service unreachable / connection broke
    ├── WaitTimeout (builtins.TimeoutError)          wait(timeout=...) ran out; job still runs
    ├── ServerError(status, detail, field, row)      any error answer from the service
    │   ├── InvalidRequest                400, 415, 422: bad parameter or data (field, row)
    │   ├── PayloadTooLarge               413
    │   ├── Unauthorized                  401: no or a wrong API key; 403: cross-site
    │   ├── NotFound                      404: unknown job or model
    │   ├── Conflict                      409: wrong state (e.g. cancel a finished job,
    │   │                                      transform into a model still being fitted)
    │   ├── Gone                          410: result expired
    │   ├── QueueFull                     429 (retry_after, seconds)
    │   └── Unavailable                   503, 507
    └── JobError(job_id, frame)           the job ended without a result
        ├── JobFailed (error)             the server's reason
        └── JobCancelled
"""

from __future__ import annotations

from ._client.aio import AsyncClient, AsyncJobHandle
from ._client.errors import (
    Conflict,
    ConnectionError,
    Gone,
    InvalidInput,
    InvalidRequest,
    JobCancelled,
    JobError,
    JobFailed,
    NotFound,
    PayloadTooLarge,
    QueueFull,
    ServerError,
    StreamingUMAPClientError,
    Unauthorized,
    Unavailable,
    WaitTimeout,
)
from ._client.models import (
    TERMINAL_STATUSES,
    ClusterOptions,
    ClusterResult,
    ControlReply,
    Frame,
    JobStatus,
    LayoutOptions,
    ModelDeleted,
    ModelInfo,
    PlacedResult,
    UMAPOptions,
    UMAPResult,
)
from ._client.sync import DEFAULT_URL, ENV_API_KEY, Client, JobHandle

__all__ = [
    "DEFAULT_URL",
    "ENV_API_KEY",
    "TERMINAL_STATUSES",
    "AsyncClient",
    "AsyncJobHandle",
    "Client",
    "ClusterOptions",
    "ClusterResult",
    "Conflict",
    "ConnectionError",
    "ControlReply",
    "Frame",
    "Gone",
    "InvalidInput",
    "InvalidRequest",
    "JobCancelled",
    "JobError",
    "JobFailed",
    "JobHandle",
    "JobStatus",
    "LayoutOptions",
    "ModelDeleted",
    "ModelInfo",
    "NotFound",
    "PayloadTooLarge",
    "PlacedResult",
    "QueueFull",
    "ServerError",
    "StreamingUMAPClientError",
    "UMAPOptions",
    "UMAPResult",
    "Unauthorized",
    "Unavailable",
    "WaitTimeout",
]
