"""Small helpers for tests that talk to a real service."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import time
from typing import Any

import httpx
import numpy as np
from websockets.sync.client import connect

TERMINAL = ("completed", "failed", "cancelled")


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def submit(client: httpx.Client, kind: str, data: np.ndarray, **params: Any) -> httpx.Response:
    query = {k: str(v) for k, v in params.items() if v is not None}
    return client.post(f"/umap/streaming/{kind}", params=query, content=npy_bytes(data),
                       headers={"Content-Type": "application/x-npy"})


def start_job(client: httpx.Client, kind: str, data: np.ndarray, **params: Any) -> str:
    response = submit(client, kind, data, **params)
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def frames(ws_url: str, job_id: str, timeout: float = 300.0, query: str = "",
           on_frame: Any = None) -> list[dict[str, Any]]:
    """Every JSON frame of a job's socket, until the server closes it."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    with connect(f"{ws_url}/umap/streaming/ws/{job_id}{query}", open_timeout=30) as ws:
        while time.monotonic() < deadline:
            try:
                message = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            except Exception:  # closed by the server (after the terminal frame) or timed out
                break
            if isinstance(message, bytes):
                out.append({"type": "binary", "bytes": len(message)})
                continue
            frame = json.loads(message)
            out.append(frame)
            if on_frame is not None:
                on_frame(ws, frame)
    return out


def wait_status(client: httpx.Client, job_id: str, wanted: tuple[str, ...] = TERMINAL,
                timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/umap/streaming/status/{job_id}", params={"include_result": "false"}).json()
        if body["status"] in wanted:
            return dict(body)
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} did not reach {wanted} in {timeout} s")


def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")


def stalled_subscriber(port: int, path: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads again
    (a raw socket with a tiny receive buffer, so the server's sends back up)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    return sock


def drain_frames(sock: socket.socket, timeout: float = 30.0) -> tuple[list[dict[str, Any]], int | None]:
    """Read what a stalled subscriber was sent: its JSON frames and the close code
    (None if the server ended the connection without a close frame)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            part = sock.recv(1 << 20)
        except OSError:
            break
        if not part:
            break
        data += part
    out: list[dict[str, Any]] = []
    i = 0
    while i + 2 <= len(data):
        opcode, length = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if length == 126:
            length, i = int.from_bytes(data[i:i + 2], "big"), i + 2
        elif length == 127:
            length, i = int.from_bytes(data[i:i + 8], "big"), i + 8
        payload, i = data[i:i + length], i + length
        if opcode == 1:
            out.append(json.loads(payload))
        elif opcode == 8:
            return out, int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
    return out, None


def raw_handshake(port: int, path: str, headers: dict[str, str] | None = None,
                  source: str | None = None) -> tuple[socket.socket, bytes]:
    """A WebSocket upgrade written by hand (any Host, any header, from any loopback
    address): the open socket and the answer's head (status line and headers)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30,
                                    source_address=(source, 0) if source else None)
    fields = {"Host": f"127.0.0.1:{port}", "Upgrade": "websocket", "Connection": "Upgrade",
              "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
              "Sec-WebSocket-Version": "13", **(headers or {})}
    head = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    sock.sendall(head.encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        part = sock.recv(1)
        if not part:
            break
        answer += part
    return sock, answer
