"""``streaming-umap serve``: uvicorn with connection hygiene.

uvicorn alone holds a connection that sends an incomplete head, or nothing at all, for
as long as the client likes, accepts any number of connections from one address, leaves
a WebSocket upgrade whose request line is too long unanswered, and keeps a socket whose
peer stopped reading open as long as its send buffer does not drain. Two protocol
classes (uvicorn takes them as ``http=`` and ``ws=``) add:

* a deadline for the request head (``STREAMING_UMAP_HEADER_TIMEOUT``, also for a
  connection that sends nothing): 408, then the connection is closed;
* a deadline for silence inside a body (``STREAMING_UMAP_BODY_TIMEOUT``; time the server
  itself stops reading while it stores what came does not count): the connection is cut;
* request lines over 8 KiB (414) and heads over 64 KiB (431) answered and closed, for
  WebSocket upgrades too;
* at most ``STREAMING_UMAP_MAX_CONNECTIONS`` open connections in all and
  ``STREAMING_UMAP_MAX_CONNECTIONS_PER_CLIENT`` from one address (503 for the next);
* a WebSocket close that does not wait for a full send buffer to drain: the close frame
  is queued behind what was sent, and the connection is cut if the peer has not read it
  within ``STREAMING_UMAP_WS_SEND_TIMEOUT`` (a dropped slow subscriber sees 1008 if it
  reads again in time, and holds nothing once it does not).

``uvicorn streaming_umap.app:app`` still works, without these (the per-client WebSocket
caps, in the app, apply either way).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from ..config import Settings

log = logging.getLogger(__name__)

MAX_URL_BYTES = 8 << 10
MAX_HEAD_BYTES = 64 << 10


class ConnectionLimits:
    """Open connections, in all and per client address (one count per transport: an
    upgraded connection is still the one connection)."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total, self.per_client = total, per_client
        self._owner: dict[int, str] = {}
        self._by_client: Counter[str] = Counter()

    def admit(self, transport: asyncio.BaseTransport) -> str | None:
        """Count the connection in, or say why it is refused."""
        peer = transport.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        if len(self._owner) >= self.total:
            return f"the server has {self.total} open connections (STREAMING_UMAP_MAX_CONNECTIONS)"
        if self._by_client[client] >= self.per_client:
            return (f"{client} has {self.per_client} open connections "
                    "(STREAMING_UMAP_MAX_CONNECTIONS_PER_CLIENT)")
        self._owner[id(transport)] = client
        self._by_client[client] += 1
        return None

    def release(self, transport: asyncio.BaseTransport) -> None:
        client = self._owner.pop(id(transport), None)
        if client is not None:
            self._by_client[client] -= 1
            if self._by_client[client] <= 0:
                del self._by_client[client]

    def __repr__(self) -> str:
        return f"ConnectionLimits(open={len(self._owner)}, clients={len(self._by_client)})"


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def plain_response(status: int, message: str) -> bytes:
    body = message.encode("ascii", "replace") + b"\n"
    return b"".join([STATUS_LINE[status], b"content-type: text/plain; charset=utf-8\r\n",
                     b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body), body])


def http_protocol(settings: Settings, limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with the deadlines and limits of the module docstring."""

    class GuardedHttpProtocol(HttpToolsProtocol):
        _head_timer: asyncio.TimerHandle | None = None
        _body_timer: asyncio.TimerHandle | None = None
        _head_bytes = 0  # bytes received while the head is incomplete (a head sent slowly)
        _header_bytes = 0  # the parsed head's size (a head sent at once)
        _in_head = True
        _refusal: _Refused | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            refusal = limits.admit(transport)
            if refusal is not None:
                log.warning("refused a connection: %s", refusal)
                self._answer(503, f"too many connections: {refusal}")
                return
            self._arm_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            limits.release(self.transport)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                self._head_bytes += len(data)
            elif self._body_timer is not None:
                self._arm_body()
            super().data_received(data)
            # still no end of the head (a head that ended in this data reset the count)
            if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
                self._answer(431, f"the request head is over {MAX_HEAD_BYTES} bytes")

        def send_400_response(self, msg: str) -> None:
            # httptools turns an exception in a parser callback into a parser error, which
            # uvicorn answers with 400: ours carry their own status.
            current = self._refusal
            if current is not None:
                self._refusal = None
                self._answer(current.status, current.message)
                return
            super().send_400_response(msg)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head, self._header_bytes = True, 0
            if self._head_timer is None:
                self._arm_head()

        def on_url(self, url: bytes) -> None:
            super().on_url(url)
            if len(self.url) > MAX_URL_BYTES:
                self._refuse(414, f"the request line is over {MAX_URL_BYTES} bytes")

        def on_header(self, name: bytes, value: bytes) -> None:
            super().on_header(name, value)
            self._header_bytes += len(name) + len(value) + 4
            if self._header_bytes > MAX_HEAD_BYTES:
                self._refuse(431, f"the request head is over {MAX_HEAD_BYTES} bytes")

        def _refuse(self, status: int, message: str) -> None:
            """Stop parsing (an exception in a parser callback) and answer ``status``."""
            self._refusal = _Refused(status, message)
            raise self._refusal

        def on_headers_complete(self) -> None:
            self._in_head, self._head_bytes = False, 0
            self._cancel("_head_timer")
            super().on_headers_complete()
            if not (self.parser.should_upgrade() and self._should_upgrade()):
                self._arm_body()

        def on_message_complete(self) -> None:
            self._cancel("_body_timer")
            self._in_head, self._head_bytes = True, 0  # what comes next is the next request's head
            super().on_message_complete()
            if self.cycle is not None and self.cycle.response_complete:
                self._next_head()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.cycle is not None and not self.cycle.more_body:  # not while a body still comes
                self._next_head()

        def _next_head(self) -> None:
            """The deadline of the next request's head, once this request and its answer
            are both done (the keep-alive timeout is shorter; this covers a slow head)."""
            if not self.transport.is_closing() and self._head_timer is None and not self.pipeline:
                self._arm_head()

        def handle_websocket_upgrade(self) -> None:
            self._disarm()
            super().handle_websocket_upgrade()

        def _arm_head(self) -> None:
            self._cancel("_head_timer")
            self._head_timer = self.loop.call_later(settings.header_timeout, self._head_late)

        def _arm_body(self) -> None:
            self._cancel("_body_timer")
            self._body_timer = self.loop.call_later(settings.body_timeout, self._body_late)

        def _head_late(self) -> None:
            self._head_timer = None
            busy = self.cycle is not None and not self.cycle.response_complete
            if self._in_head and not busy and not self.transport.is_closing():
                if self._head_bytes:
                    log.warning("closed a connection from %s: no complete request head within "
                                "%.0f s", self.client, settings.header_timeout)
                    self._answer(408, f"the request head did not arrive within "
                                      f"{settings.header_timeout:g} s")
                else:
                    self.transport.close()  # an idle connection: nothing to answer

        def _body_late(self) -> None:
            self._body_timer = None
            if self.transport.is_closing() or self.cycle is None or not self.cycle.more_body:
                return
            if self.flow.read_paused:  # the server is behind, not the client
                self._arm_body()
                return
            log.warning("cut a connection from %s: its request body stalled for %.0f s",
                        self.client, settings.body_timeout)
            self.transport.abort()

        def _answer(self, status: int, message: str) -> None:
            self._disarm()
            if not self.transport.is_closing():
                self.transport.write(plain_response(status, message))
                self.transport.close()

        def _cancel(self, name: str) -> None:
            timer = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)

        def _disarm(self) -> None:
            self._cancel("_head_timer")
            self._cancel("_body_timer")

    return GuardedHttpProtocol


def ws_protocol(settings: Settings, limits: ConnectionLimits) -> type[WebSocketsSansIOProtocol]:
    """uvicorn's WebSocket protocol: bad handshakes answered, closes that never wait."""

    class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.close_timeout = settings.ws_send_timeout

        def connection_lost(self, exc: Exception | None) -> None:
            limits.release(self.transport)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if not self.handshake_initiated and self.conn.handshake_exc is not None:
                # websockets wrote its answer (414, 400...) but raised no event for it
                log.warning("refused a WebSocket handshake: %s", self.conn.handshake_exc)
                self.transport.write(b"".join(self.conn.data_to_send()))
                self.handshake_initiated = self.handshake_complete = self.close_sent = True
                self.transport.close()

        async def send(self, message: Any) -> None:
            if (message["type"] == "websocket.close" and self.handshake_complete
                    and not self.close_sent and self.initial_response is None
                    and not self.disconnected):
                self._close_now(message.get("code", 1000), message.get("reason") or "")
                return
            await super().send(message)

        def _close_now(self, code: int, reason: str) -> None:
            """The close frame behind whatever is queued, without waiting for a full
            buffer to drain; cut the connection if the peer does not answer in time."""
            if self.transport.is_closing():
                return
            self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
            self.conn.send_close(code, reason)
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
            if self.read_paused:
                self.read_paused = False
                self.transport.resume_reading()
            self.close_timer = self.loop.call_later(self.close_timeout, self._cut)

        def _cut(self) -> None:
            if not self.disconnected:
                log.warning("cut a WebSocket from %s: it did not read the close frame within "
                            "%.0f s", self.client, self.close_timeout)
                self.transport.abort()

        def keepalive_timeout(self) -> None:
            super().keepalive_timeout()
            self.loop.call_later(self.close_timeout, self._cut)

    return GuardedWebSocketProtocol


def uvicorn_config(app: Any, settings: Settings, **options: Any) -> Any:
    """The uvicorn Config ``streaming-umap serve`` runs."""
    import uvicorn

    limits = ConnectionLimits(settings.max_connections, settings.max_connections_per_client)
    return uvicorn.Config(app, host=settings.host, port=settings.port,
                          http=http_protocol(settings, limits), ws=ws_protocol(settings, limits),
                          limit_concurrency=settings.max_connections + 16, **options)


def serve(app: Any, settings: Settings, **options: Any) -> None:
    import uvicorn

    uvicorn.Server(uvicorn_config(app, settings, **options)).run()
