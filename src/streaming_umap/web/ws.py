"""``/umap/streaming/ws/{job_id}``: a snapshot, then coalesced frames, then the end.

Two tasks per socket: the sender drains the subscriber's mailbox (at most
~10 progress frames a second, every important frame, live layouts when asked for),
and the receiver turns ``{"action": ...}`` messages into cancel/pause/resume (a binary
message gets an error frame; the socket stays open). A send that does not complete
within ``ws_send_timeout`` (settings) means the client stopped reading: it is dropped
(close code 1008) and nobody else notices.

Before any of that (close codes, after the handshake, so that browsers can read them):
1013 when the client or the server has too many sockets open
(``STREAMING_UMAP_MAX_SOCKETS_PER_CLIENT``, ``STREAMING_UMAP_MAX_SOCKETS``), 4401 without
a valid API key where one is required, 4404 for a job that does not exist or that the
key may not see. A foreign ``Origin`` never gets that far (``guard.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..auth import Principal
from ..errors import RequestError
from ..jobs.hub import Mailbox
from ..jobs.models import Job
from ..jobs.supervisor import Supervisor
from ..jobs.views import progress_fields, snapshot_of
from ..schemas import ClientAction
from .auth import WS_PROTOCOL, principal_of
from .responses import encode

log = logging.getLogger(__name__)

FRAME_INTERVAL = 0.1
TERMINAL_TYPES = frozenset({"completed", "failed", "cancelled"})
CLOSE_NORMAL, CLOSE_POLICY, CLOSE_TRY_LATER = 1000, 1008, 1013
CLOSE_UNAUTHORIZED, CLOSE_UNKNOWN_JOB = 4401, 4404


class SocketLimits:
    """Open sockets, in all and per client address; the app's own count, so that the
    caps hold under any ASGI server."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total, self.per_client = total, per_client
        self.open: dict[str, int] = {}

    def admit(self, client: str) -> str | None:
        """Count a socket in, or say why it may not open."""
        if sum(self.open.values()) >= self.total:
            return f"the server has {self.total} WebSockets open (STREAMING_UMAP_MAX_SOCKETS)"
        if self.open.get(client, 0) >= self.per_client:
            return (f"{client} has {self.per_client} WebSockets open "
                    "(STREAMING_UMAP_MAX_SOCKETS_PER_CLIENT)")
        self.open[client] = self.open.get(client, 0) + 1
        return None

    def release(self, client: str) -> None:
        left = self.open.get(client, 0) - 1
        if left > 0:
            self.open[client] = left
        else:
            self.open.pop(client, None)

    def __repr__(self) -> str:
        return f"SocketLimits(open={sum(self.open.values())}, clients={len(self.open)})"


def _live_every(ws: WebSocket) -> int:
    if ws.query_params.get("live", "").lower() not in ("1", "true", "yes"):
        return 0
    try:
        return max(1, min(1000, int(ws.query_params.get("live_every", "10"))))
    except ValueError:
        return 10


async def _send(ws: WebSocket, payload: bytes | str) -> bool:
    timeout = ws.app.state.settings.ws_send_timeout
    try:
        if isinstance(payload, bytes):
            await asyncio.wait_for(ws.send_bytes(payload), timeout)
        else:
            await asyncio.wait_for(ws.send_text(payload), timeout)
        return True
    except TimeoutError:
        log.warning("dropping a WebSocket subscriber that stopped reading")
        await _close(ws, CLOSE_POLICY, "subscriber too slow")
        return False


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    """Close; ``streaming-umap serve`` queues the close frame at once and cuts the
    connection if the peer never reads it (another server may wait for the buffer)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(code, reason), 1.0)


async def _sender(ws: WebSocket, box: Mailbox, last_seq: int) -> None:
    while True:
        await box.wait()
        if box.overflowed:
            await _send(ws, _error("subscriber too slow", box.job_id))
            await _close(ws, CLOSE_POLICY, "subscriber too slow")
            return
        frames, layout = box.take()
        for frame in frames:
            if frame["seq"] <= last_seq:
                continue
            if not await _send(ws, encode(frame).decode()):
                return
            last_seq = frame["seq"]
            if frame["type"] in TERMINAL_TYPES:
                await ws.close(CLOSE_NORMAL)
                return
        if layout is not None:
            header, payload = layout
            if not (await _send(ws, encode(header).decode()) and await _send(ws, payload)):
                return
        await asyncio.sleep(FRAME_INTERVAL)


def _ack(job: Job, action: str, ok: bool, message: str) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "ack", "seq": job.seq, "action": action, "ok": ok, "message": message}
    frame.update(progress_fields(job, time.time()))
    return frame


def _error(message: str, job_id: str | None = None) -> str:
    frame: dict[str, Any] = {"type": "error", "message": message}
    if job_id is not None:
        frame["job_id"] = job_id
    return encode(frame).decode()


async def _receiver(ws: WebSocket, sup: Supervisor, job_id: str, principal: Principal) -> None:
    decoder = msgspec.json.Decoder(ClientAction)
    while True:
        try:
            message = await ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            await _send(ws, _error('binary messages are not accepted: send a JSON text message '
                                   '{"action": "cancel"|"pause"|"resume"}', job_id))
            continue
        try:
            action = decoder.decode(text).action
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            await _send(ws, _error(f'expected {{"action": "cancel"|"pause"|"resume"}}: {exc}', job_id))
            continue
        try:
            if action == "cancel":
                job, reply = sup.cancel(job_id, principal), "cancel requested"
            elif action == "pause":
                job, reply = sup.pause(job_id, principal)
            else:
                job, reply = sup.resume(job_id, principal)
            frame = _ack(job, action, True, reply)
        except RequestError as exc:
            frame = _ack(sup.jobs[job_id], action, False, exc.detail)
        await _send(ws, encode(frame).decode())


async def _refuse(ws: WebSocket, code: int, message: str, job_id: str) -> None:
    await ws.send_text(_error(message, job_id))
    await ws.close(code, message.encode()[:120].decode("utf-8", "ignore"))  # 123 bytes at most


async def job_socket(ws: WebSocket) -> None:
    limits: SocketLimits = ws.app.state.sockets
    client = ws.client.host if ws.client else "unknown"
    full = limits.admit(client)
    try:
        await _serve(ws, full)
    finally:
        if full is None:
            limits.release(client)


async def _serve(ws: WebSocket, full: str | None) -> None:
    sup: Supervisor = ws.app.state.supervisor
    job_id = ws.path_params["job_id"]
    offered = ws.scope.get("subprotocols", [])
    await ws.accept(subprotocol=WS_PROTOCOL if WS_PROTOCOL in offered else None)
    if full is not None:
        log.warning("refused a WebSocket: %s", full)
        await _refuse(ws, CLOSE_TRY_LATER, f"too many WebSockets: {full}", job_id)
        return
    principal = principal_of(ws)
    if not principal.authenticated:
        error = ws.scope["state"].get("auth_error")
        await _refuse(ws, CLOSE_UNAUTHORIZED, error.detail if error is not None else
                      "this server requires an API key: send it as a Sec-WebSocket-Protocol "
                      f"entry streaming-umap.bearer.<key> next to {WS_PROTOCOL}, or as "
                      "Authorization: Bearer <key>", job_id)
        return
    job = sup.jobs.get(job_id)
    if job is None or not principal.may_see(job.owner):
        await _refuse(ws, CLOSE_UNKNOWN_JOB, f"no job with id {job_id!r}", job_id)
        return
    await _follow(ws, sup, job, principal)


async def _follow(ws: WebSocket, sup: Supervisor, job: Job, principal: Principal) -> None:
    job_id = job.id
    live = _live_every(ws)
    box = sup.hub.subscribe(job_id, live_every=live)
    try:
        if live:
            sup.set_live(job_id)
        snapshot = snapshot_of(job)
        await ws.send_text(encode(snapshot).decode())
        if job.terminal:
            final = dict(snapshot, type=job.status.value)
            await ws.send_text(encode(final).decode())
            await ws.close(CLOSE_NORMAL)
            return
        tasks = {asyncio.create_task(_sender(ws, box, snapshot["seq"])),
                 asyncio.create_task(_receiver(ws, sup, job_id, principal))}
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            if task.exception() and not isinstance(task.exception(), (WebSocketDisconnect, RuntimeError)):
                log.error("WebSocket task failed", exc_info=task.exception())
    except WebSocketDisconnect:
        pass
    finally:
        sup.hub.unsubscribe(box)
        if live:
            sup.set_live(job_id)
