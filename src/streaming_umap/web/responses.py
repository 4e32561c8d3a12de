"""Responses encoded with msgspec, and the one place errors become HTTP answers."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import QueueFull, RequestError, Unauthorized

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
    if isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": 'Bearer realm="streaming-umap"'}
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
    """A bug: the log has the traceback under a reference the answer gives (and nothing
    else of the server: no paths, no exception text)."""
    reference = secrets.token_hex(4)
    log.exception("unhandled error %s on %s %s", reference, request.method, request.url.path)
    return JSON(
        {"detail": f"internal error (reference {reference} in the server's log)",
         "field": None, "row": None},
        status_code=500,
    )


class InternalErrors:
    """ASGI middleware: an exception nothing else handled becomes :func:`server_error`'s
    JSON 500 here, inside the middleware stack (Starlette's own handler for it runs
    outside every middleware, so its answer would lack the CORS headers). An exception
    after the response has started is raised on, as before."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise
            response = await server_error(Request(scope, receive), exc)
            await response(scope, receive, send)


EXCEPTION_HANDLERS = {
    RequestError: request_error,
    HTTPException: http_error,
    Exception: server_error,
}
