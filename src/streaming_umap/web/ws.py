"""``/umap/streaming/ws/{job_id}``: a snapshot, then coalesced frames, then the end.

Two tasks per socket: the sender drains the subscriber's mailbox (at most
~10 progress frames a second, every important frame, live layouts when asked for),
and the receiver turns ``{"action": ...}`` messages into cancel/pause/resume. A send
that does not complete within ``ws_send_timeout`` (settings) means the client stopped reading: it
is dropped (close code 1008) and nobody else notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import RequestError
from ..jobs.hub import Mailbox
from ..jobs.models import Job
from ..jobs.supervisor import Supervisor
from ..jobs.views import progress_fields, snapshot_of
from ..schemas import ClientAction
from .responses import encode

log = logging.getLogger(__name__)

FRAME_INTERVAL = 0.1
TERMINAL_TYPES = frozenset({"completed", "failed", "cancelled"})
CLOSE_NORMAL, CLOSE_POLICY, CLOSE_UNKNOWN_JOB = 1000, 1008, 4404


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
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(CLOSE_POLICY, "subscriber too slow"), 1.0)
        return False


async def _sender(ws: WebSocket, box: Mailbox, last_seq: int) -> None:
    while True:
        await box.wait()
        if box.overflowed:
            await _send(ws, encode({"type": "error", "message": "subscriber too slow"}).decode())
            await ws.close(CLOSE_POLICY, "subscriber too slow")
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


async def _receiver(ws: WebSocket, sup: Supervisor, job_id: str) -> None:
    decoder = msgspec.json.Decoder(ClientAction)
    while True:
        try:
            text = await ws.receive_text()
        except (WebSocketDisconnect, RuntimeError):
            return
        try:
            action = decoder.decode(text).action
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            await _send(ws, encode({"type": "error", "message": f"expected "
                                    f'{{"action": "cancel"|"pause"|"resume"}}: {exc}'}).decode())
            continue
        try:
            if action == "cancel":
                job, message = sup.cancel(job_id), "cancel requested"
            elif action == "pause":
                job, message = sup.pause(job_id)
            else:
                job, message = sup.resume(job_id)
            frame = _ack(job, action, True, message)
        except RequestError as exc:
            frame = _ack(sup.get(job_id), action, False, exc.detail)
        await _send(ws, encode(frame).decode())


async def job_socket(ws: WebSocket) -> None:
    sup: Supervisor = ws.app.state.supervisor
    job_id = ws.path_params["job_id"]
    await ws.accept()
    job = sup.jobs.get(job_id)
    if job is None:
        await ws.send_text(encode({"type": "error", "job_id": job_id,
                                   "message": f"no job with id {job_id!r}"}).decode())
        await ws.close(CLOSE_UNKNOWN_JOB)
        return
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
                 asyncio.create_task(_receiver(ws, sup, job_id))}
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
