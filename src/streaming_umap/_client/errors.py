"""The client's exceptions, and the one place HTTP answers become them.

The tree is drawn in :mod:`streaming_umap.client`'s docstring.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx


class StreamingUMAPClientError(Exception):
    """Base of every error the client raises on purpose."""


class InvalidInput(StreamingUMAPClientError, ValueError):
    """The data was refused before anything was sent (e.g. ragged rows)."""

    def __init__(self, detail: str, *, field: str | None = None, row: int | None = None) -> None:
        super().__init__(detail)
        self.detail, self.field, self.row = detail, field, row


class ConnectionError(StreamingUMAPClientError, builtins.ConnectionError):
    """The service could not be reached, or the connection broke mid-request."""

    def __init__(self, url: str, cause: BaseException) -> None:
        super().__init__(f"cannot reach the service at {url}: {type(cause).__name__}: {cause}")
        self.url = url
        self.__cause__ = cause


class WaitTimeout(StreamingUMAPClientError, builtins.TimeoutError):
    """``wait(timeout=...)`` ran out before the job ended (the job keeps running)."""


class ServerError(StreamingUMAPClientError):
    """The service answered with an error status; its JSON body is kept as attributes."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field: str | None = None,
        row: int | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        where = f" from {method} {url}" if method and url else ""
        extra = "".join(
            f", {name}={value!r}" for name, value in (("field", field), ("row", row)) if value is not None
        )
        super().__init__(f"HTTP {status}{where}: {detail}{extra}")
        self.status, self.detail, self.field, self.row = status, detail, field, row
        self.method, self.url = method, url


class InvalidRequest(ServerError):
    """400, 415 or 422: the request or its data was refused (``field``/``row`` say where)."""


class PayloadTooLarge(ServerError):
    """413: the body or rows x columns is over the server's limit (stated in ``detail``)."""


class Unauthorized(ServerError):
    """401: the server requires an API key and none, or not a valid one, was sent
    (``Client(api_key=...)`` or ``$STREAMING_UMAP_API_KEY``); 403: a cross-site request."""


class NotFound(ServerError):
    """404: no such job or model (or route)."""


class Conflict(ServerError):
    """409: the job is not in a state that allows this (e.g. cancelling a finished job),
    or the model is still being fitted."""


class Gone(ServerError):
    """410: the job's result has expired on the server."""


class QueueFull(ServerError):
    """429: the server's queue is full; try again after ``retry_after`` seconds."""

    def __init__(self, status: int, detail: str, *, retry_after: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(status, detail, **kwargs)
        self.retry_after = retry_after


class Unavailable(ServerError):
    """503: no worker could take the request in time; 507: the server's disk is full."""


class JobError(StreamingUMAPClientError):
    """A job ended without a result. ``frame`` is its last frame."""

    def __init__(self, job_id: str, message: str, frame: Any = None) -> None:
        super().__init__(message)
        self.job_id, self.frame = job_id, frame


class JobFailed(JobError):
    """The job failed on the server; ``error`` is the server's reason."""

    def __init__(self, job_id: str, error: str | None, frame: Any = None) -> None:
        super().__init__(job_id, f"job {job_id} failed: {error or 'no reason given'}", frame)
        self.error = error


class JobCancelled(JobError):
    """The job was cancelled (by this client or anyone else)."""

    def __init__(self, job_id: str, frame: Any = None) -> None:
        super().__init__(job_id, f"job {job_id} was cancelled", frame)


_BY_STATUS: dict[int, type[ServerError]] = {
    400: InvalidRequest, 415: InvalidRequest, 422: InvalidRequest, 401: Unauthorized,
    403: Unauthorized,
    404: NotFound, 409: Conflict, 410: Gone, 413: PayloadTooLarge,
    429: QueueFull, 503: Unavailable, 507: Unavailable,
}


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        return body
    text = response.text.strip()[:500] or response.reason_phrase
    return {"detail": text}


def error_from_response(response: httpx.Response) -> ServerError:
    """The typed exception for an error answer (status >= 400)."""
    body = _body(response)
    kwargs: dict[str, Any] = {
        "field": body.get("field"), "row": body.get("row"),
        "method": response.request.method, "url": response.request.url.path,
    }
    cls = _BY_STATUS.get(response.status_code, ServerError)
    if cls is QueueFull:
        raw = response.headers.get("retry-after")
        kwargs["retry_after"] = float(raw) if raw and raw.replace(".", "", 1).isdigit() else None
    return cls(response.status_code, str(body["detail"]), **kwargs)


def check(response: httpx.Response) -> httpx.Response:
    """The response itself if it succeeded, else its typed exception."""
    if response.status_code >= 400:
        raise error_from_response(response)
    return response


@contextmanager
def naming_model(model_id: str | None) -> Iterator[None]:
    """A 404 met in the block is about ``model_id`` (if one is given): its message says so."""
    try:
        yield
    except NotFound as exc:
        if model_id is None or model_id in exc.detail:
            raise
        raise NotFound(exc.status, f"no model with id {model_id!r} ({exc.detail})", field=exc.field,
                       row=exc.row, method=exc.method, url=exc.url) from exc
