"""The service under test: a real ``streaming-umap serve`` in a child process, or a
server that is already running (``--server URL``)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_pid(port: int) -> int | None:
    """The local process listening on ``port`` (None when it is not ours to see)."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                return None if conn.pid is None else int(conn.pid)
    except psutil.AccessDenied:
        return None
    return None


class BenchServer:
    """A service to benchmark. :meth:`launch` starts one; :meth:`attach` uses one that
    runs already (its memory is sampled only when its process is visible here)."""

    def __init__(self, url: str, data_dir: Path | None, proc: subprocess.Popen[bytes] | None,
                 pid: int | None, log_file: Path | None = None) -> None:
        self.url = url.rstrip("/")
        self.data_dir = data_dir
        self.proc = proc
        self.pid = pid
        self.health: dict[str, Any] = {}
        if log_file is None and data_dir is not None:
            log_file = data_dir / "logs" / "umap_service.log"
        self.log_file = log_file  # per-stage seconds of each job, when readable here

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http"):]

    @classmethod
    def launch(cls, data_dir: Path, env: dict[str, str] | None = None) -> BenchServer:
        data_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        full_env = dict(os.environ)
        full_env.update(
            STREAMING_UMAP_DATA_DIR=str(data_dir),
            STREAMING_UMAP_LOG_DIR=str(data_dir / "logs"),
            PYTHONUNBUFFERED="1",
        )
        full_env.update(env or {})
        with open(data_dir / "server.out", "ab") as out:  # the child keeps its own copy
            proc = subprocess.Popen(
                [sys.executable, "-m", "streaming_umap.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(port)],
                env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        log.info("started a server (pid %d) on port %d, data in %s", proc.pid, port, data_dir)
        return cls(f"http://127.0.0.1:{port}", data_dir, proc, proc.pid)

    @classmethod
    def attach(cls, url: str, log_file: Path | None = None) -> BenchServer:
        port = urlsplit(url).port or 80
        server = cls(url, None, None, _listening_pid(port), log_file)
        server.wait_ready(timeout=30.0)
        return server

    def wait_ready(self, timeout: float = 900.0) -> dict[str, Any]:
        """Wait until every worker is warm; returns /health."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.proc.returncode}:\n"
                                   f"{self.tail()}")
            try:
                health: dict[str, Any] = httpx.get(self.url + "/health", timeout=5).json()
                if health["status"] == "ok" and health["workers"]["warming"] == 0:
                    self.health = health
                    return health
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"the server at {self.url} was not ready after {timeout:.0f} s")

    def tail(self, lines: int = 30) -> str:
        if self.data_dir is None:
            return ""
        path = self.data_dir / "server.out"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def worker_pids(self) -> list[int]:
        if self.pid is None:
            return []
        try:
            children = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        pids = []
        for child in children:
            try:
                if "spawn_main" in " ".join(child.cmdline()):
                    pids.append(child.pid)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return pids

    def pids(self) -> dict[str, list[int]]:
        """For the memory sampler: the server process and its workers."""
        if self.pid is None:
            return {}
        return {"server": [self.pid], "worker": self.worker_pids()}

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def __repr__(self) -> str:
        return f"BenchServer(url={self.url!r}, pid={self.pid}, launched={self.proc is not None})"
