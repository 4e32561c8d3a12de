"""Responses encoded with msgspec, and the one place errors become HTTP answers."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..errors import QueueFull, RequestError

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return encode(content)


async def request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, QueueFull) else None
    return JSON(exc.to_dict(), status_code=exc.status_code, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail
    if exc.status_code == 404:
        detail = f"no route {request.method} {request.url.path}; see /docs"
    elif exc.status_code == 405:
        detail = f"method {request.method} is not allowed on {request.url.path}; see /docs"
    return JSON({"detail": detail, "field": None, "row": None}, status_code=exc.status_code,
                headers=getattr(exc, "headers", None))


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSON(
        {"detail": f"internal error ({type(exc).__name__}); see logs/umap_service.log",
         "field": None, "row": None},
        status_code=500,
    )


EXCEPTION_HANDLERS = {
    RequestError: request_error,
    HTTPException: http_error,
    Exception: server_error,
}
