"""Connection hygiene through ``streaming-umap serve``: deadlines for heads and bodies,
answers to oversized requests, caps on connections and sockets per client and in all, a
real 1008 close for a dropped slow subscriber, and binary frames answered.

Clients come from their own loopback addresses (127.0.0.x) where a test counts what one
client holds, so that tests do not share a count."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import numpy as np
import pytest
from websockets.sync.client import connect

from streaming_umap.datasets import labelled_mixture

from .conftest import Service
from .helpers import drain_frames, raw_handshake, start_job, wait_for, wait_status

ENV = {
    "STREAMING_UMAP_WARMUP": "light",
    "GPU_UMAP_MAX_CONCURRENT_JOBS": "2",  # one is held by the paused job of `held`
    "STREAMING_UMAP_HEADER_TIMEOUT": "3",
    "STREAMING_UMAP_BODY_TIMEOUT": "3",
    "STREAMING_UMAP_MAX_CONNECTIONS_PER_CLIENT": "4",
    "STREAMING_UMAP_MAX_SOCKETS_PER_CLIENT": "3",
    "STREAMING_UMAP_MAX_SOCKETS": "5",
    "STREAMING_UMAP_WS_SEND_TIMEOUT": "5",
}
UPGRADE = (b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n")
LONG = 35.0  # far beyond every deadline above: a test that waits this long has failed


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = Service(tmp_path_factory.mktemp("hygiene"), dict(ENV))
    try:
        yield service.start()
    finally:
        service.stop()


@pytest.fixture(scope="module")
def held(svc: Service) -> Iterator[str]:
    """A job that stays active (paused) for sockets to follow."""
    data, _ = labelled_mixture(1500, 8, seed=1)
    with svc.client() as c:
        job_id = start_job(c, "umap", data, n_epochs=5000)
        assert c.post(f"/umap/streaming/pause/{job_id}").status_code == 200
        wait_status(c, job_id, ("paused",), timeout=60)
        yield job_id
        c.delete(f"/umap/streaming/cancel/{job_id}")


def _open(svc: Service, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", svc.port), timeout=LONG, source_address=(source, 0))
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes; fails (socket.timeout) if it never does."""
    data = b""
    while True:
        try:
            part = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not part:
            return data
        data += part


def _head(svc: Service) -> bytes:
    return f"Host: 127.0.0.1:{svc.port}\r\n".encode()


def test_a_connection_that_sends_nothing_is_closed(svc: Service) -> None:
    with _open(svc) as sock:
        assert _read_all(sock) == b""


def test_an_incomplete_head_gets_408(svc: Service) -> None:
    with _open(svc) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\n" + _head(svc))  # and never the blank line
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 3 s" in answer


def test_a_stalled_body_is_cut_and_leaves_nothing(svc: Service) -> None:
    for length, media in ((1000, b"application/json"), (20 << 20, b"application/x-npy")):  # in memory, spooled
        with _open(svc) as sock:
            sock.sendall(b"POST /umap/streaming/umap HTTP/1.1\r\n" + _head(svc) +
                         b"Content-Type: " + media + b"\r\nContent-Length: %d\r\n\r\n{\"data\"" % length)
            assert b"HTTP/1.1 2" not in _read_all(sock)
    wait_for(lambda: not any((svc.data_dir / "spool").iterdir()), timeout=LONG)
    with svc.client() as c:
        assert c.get("/health").status_code == 200


def test_a_slow_but_steady_body_is_not_cut(svc: Service) -> None:
    """The body deadline is for silence, not for the whole upload."""
    body = json.dumps({"data": np.ones((40, 3)).tolist()}).encode()
    with _open(svc) as sock:
        sock.sendall(b"POST /umap/streaming/umap HTTP/1.1\r\n" + _head(svc) + b"Content-Type: "
                     b"application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
        pieces = [body[i:i + len(body) // 5 + 1] for i in range(0, len(body), len(body) // 5 + 1)]
        for piece in pieces:  # about 6 s in all, 1.2 s apart: longer than the 3 s deadline
            sock.sendall(piece)
            time.sleep(1.2)
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


@pytest.mark.parametrize(("request_line", "extra", "status"), [
    (b"GET /health?" + b"a" * 9000 + b" HTTP/1.1", b"", b"414"),
    (b"GET /health HTTP/1.1", b"X-Big: " + b"b" * 70000 + b"\r\n", b"431"),
    (b"GET /umap/streaming/ws/" + b"a" * 9000 + b" HTTP/1.1", UPGRADE, b"414"),
    (b"GET /umap/streaming/ws/x HTTP/1.1", UPGRADE + b"X-Big: " + b"b" * 9000 + b"\r\n", b"431"),
])
def test_oversized_requests_are_answered_and_closed(svc: Service, request_line: bytes, extra: bytes,
                                                      status: bytes) -> None:
    with _open(svc) as sock:
        sock.sendall(request_line + b"\r\n" + _head(svc) + extra + b"\r\n")
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]


def _socket(svc: Service, job_id: str, source: str) -> socket.socket:
    sock, answer = raw_handshake(svc.port, f"/umap/streaming/ws/{job_id}", source=source)
    assert b" 101 " in answer.split(b"\r\n")[0], answer
    return sock


def _first_frame(sock: socket.socket) -> tuple[dict[str, object], int | None]:
    sock.settimeout(LONG)
    frames, code = drain_frames(sock, timeout=3.0)  # what came within 3 s
    return (frames[0] if frames else {}), code


def test_sockets_per_client_are_capped(svc: Service, held: str) -> None:
    with ExitStack() as stack:
        for _ in range(3):
            stack.callback(_socket(svc, held, "127.0.0.6").close)
        extra = _socket(svc, held, "127.0.0.6")
        frame, code = _first_frame(extra)
        extra.close()
        assert code == 1013 and "STREAMING_UMAP_MAX_SOCKETS_PER_CLIENT" in str(frame["message"])
        other = _socket(svc, held, "127.0.0.7")  # another client is not affected
        frame, code = _first_frame(other)
        other.close()
        assert frame["type"] == "snapshot", frame
    with connect(f"{svc.ws_url}/umap/streaming/ws/{held}", open_timeout=10) as ws:  # released again
        assert json.loads(ws.recv(timeout=LONG))["type"] == "snapshot"


def test_sockets_in_all_are_capped(svc: Service, held: str) -> None:
    with ExitStack() as stack:
        for source in ("127.0.0.8", "127.0.0.8", "127.0.0.8", "127.0.0.9", "127.0.0.9"):
            stack.callback(_socket(svc, held, source).close)
        extra = _socket(svc, held, "127.0.0.10")
        frame, code = _first_frame(extra)
        extra.close()
    assert code == 1013 and "STREAMING_UMAP_MAX_SOCKETS)" in str(frame["message"])


def test_connections_per_client_are_capped(svc: Service, held: str) -> None:
    with ExitStack() as stack:
        for _ in range(3):  # sockets hold their connection
            stack.callback(_socket(svc, held, "127.0.0.11").close)
        pending = _open(svc, "127.0.0.11")  # a fourth connection, in the middle of its head
        stack.callback(pending.close)
        pending.sendall(b"GET /health HTTP/1.1\r\n")
        with _open(svc, "127.0.0.11") as fifth:
            fifth.sendall(b"GET /health HTTP/1.1\r\n" + _head(svc) + b"\r\n")
            answer = _read_all(fifth)
        with _open(svc, "127.0.0.12") as elsewhere:
            elsewhere.sendall(b"GET /health HTTP/1.1\r\n" + _head(svc) + b"Connection: close\r\n\r\n")
            assert _read_all(elsewhere).startswith(b"HTTP/1.1 200")
    assert answer.startswith(b"HTTP/1.1 503") and b"STREAMING_UMAP_MAX_CONNECTIONS_PER_CLIENT" in answer


def test_binary_frames_get_an_error_frame_and_the_socket_stays(svc: Service, held: str) -> None:
    with connect(f"{svc.ws_url}/umap/streaming/ws/{held}", open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=LONG))["type"] == "snapshot"
        ws.send(b"\x00\x01binary")
        error = json.loads(ws.recv(timeout=LONG))
        assert error["type"] == "error" and "binary messages are not accepted" in error["message"]
        ws.send(json.dumps({"action": "pause"}))
        ack = json.loads(ws.recv(timeout=LONG))
        assert ack["type"] == "ack" and ack["ok"] and ack["message"] == "the job is already paused"
    assert "KeyError" not in svc.log_file.read_text()


def _layout_job(svc: Service) -> str:
    data, _ = labelled_mixture(3000, 16, seed=5)  # the exact kNN path of the light warm-up
    with svc.client() as c:
        job_id = start_job(c, "umap", data, n_epochs=5000, n_components=60, random_state=1)
        wait_for(lambda: c.get(f"/umap/streaming/status/{job_id}").json()["stage"] == "layout",
                 timeout=120)
    return job_id


def _stalled(svc: Service, job_id: str, source: str) -> socket.socket:
    """A subscriber of 720 KB live layouts that never reads (a tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", svc.port))
    sock.sendall(f"GET /umap/streaming/ws/{job_id}?live=1&live_every=1 HTTP/1.1\r\nHost: 127.0.0.1:"
                 f"{svc.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
                 "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:  # the 101 answer, then nothing is read again
        head += sock.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    return sock


def test_a_dropped_slow_subscriber_gets_a_real_1008_and_holds_nothing(svc: Service) -> None:
    job_id = _layout_job(svc)
    log_before = svc.log_file.read_text().count("dropping a WebSocket subscriber")
    reader, silent = _stalled(svc, job_id, "127.0.0.13"), _stalled(svc, job_id, "127.0.0.14")
    try:
        wait_for(lambda: svc.log_file.read_text().count("dropping a WebSocket subscriber")
                 >= log_before + 2, timeout=120)
        # one starts reading again at once: behind what was queued, it finds the close frame
        frames, code = drain_frames(reader, timeout=LONG)
        assert code == 1008 and frames and frames[0]["type"] == "snapshot"
        # the other never reads: the server cuts it (its queue is dropped, not kept)
        wait_for(lambda: "cut a WebSocket from ('127.0.0.14'" in svc.log_file.read_text(), timeout=LONG)
        silent.settimeout(LONG)
        _read_all(silent)  # ends (reset or end of stream) instead of timing out
    finally:
        reader.close()
        silent.close()
    with svc.client() as c:
        c.delete(f"/umap/streaming/cancel/{job_id}")
        assert wait_status(c, job_id)["status"] == "cancelled"
