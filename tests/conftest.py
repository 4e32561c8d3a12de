"""Shared fixtures: a real service (uvicorn in a subprocess on a free port)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
NUMBA_CACHE = ROOT / ".cache" / "numba"
READY_TIMEOUT = float(os.environ.get("STREAMING_UMAP_TEST_READY_TIMEOUT", "400"))

# The tests that fit in this process (tests/pipeline) load umap-learn's and pynndescent's
# compiled code from the cache `make test` fills first, as workers do, instead of
# compiling it: numba reads NUMBA_CACHE_DIR at import, and umap-learn marks most of its
# functions uncached unless enable_numba_cache() runs before umap is imported.
os.environ.setdefault("NUMBA_CACHE_DIR", str(NUMBA_CACHE))
from streaming_umap.backends.cpu import enable_numba_cache  # noqa: E402

enable_numba_cache()


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the test process dies (Linux), so an
    interrupted test run leaves no server behind."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


PORT_ATTEMPTS = 3  # a server whose port was taken before it bound starts again on another


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    """A running server process and clients to talk to it."""

    data_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    api_key: str | None = None  # sent by client() and wait_ready (a server that requires keys)
    out_dir: Path | None = None  # where server.out goes (default: the data folder)
    proc: subprocess.Popen[bytes] | None = None
    _out: Any = None

    @property
    def backend(self) -> str:
        return self.env.get("STREAMING_UMAP_BACKEND", "cpu")

    @property
    def executor(self) -> str:
        return "dask" if self.env.get("STREAMING_UMAP_DASK_SCHEDULER") else "local"

    def skip_on_gpu(self, why: str) -> None:
        """For contract tests whose timing assumes CPU speed: the GPU finishes such a job
        before the test can act on it; tests/test_gpu.py covers the same with GPU sizes."""
        if self.backend == "gpu":
            pytest.skip(f"GPU: {why} (see tests/test_gpu.py)")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "umap_service.log"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def client(self, **kwargs: Any) -> httpx.Client:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 120.0),
                            headers=headers, **kwargs)

    def start(self, wait_warm: bool = True) -> Service:
        env = dict(os.environ)
        env.update(
            STREAMING_UMAP_DATA_DIR=str(self.data_dir),
            STREAMING_UMAP_LOG_DIR=str(self.data_dir / "logs"),
            NUMBA_CACHE_DIR=str(NUMBA_CACHE),
            STREAMING_UMAP_BACKEND=env.get("STREAMING_UMAP_TEST_BACKEND", "cpu"),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.env)
        for attempt in range(PORT_ATTEMPTS):
            if self._out is not None:  # restarting after a crash the test caused
                self._out.close()
            self._out = out = open((self.out_dir or self.data_dir) / "server.out", "ab")
            began = out.tell()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streaming_umap.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port)],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            try:
                self.wait_ready(wait_warm)
                return self
            except BaseException:
                self.stop()
                # free_port() only names a port that was free: another process (a Dask
                # worker, another test process's server) may bind it before this server
                if attempt + 1 == PORT_ATTEMPTS or not self._port_was_taken(began):
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")

    def _port_was_taken(self, since: int) -> bool:
        """Whether the server that wrote server.out from byte ``since`` on exited because
        its port was in use."""
        with open((self.out_dir or self.data_dir) / "server.out", "rb") as fh:
            fh.seek(since)
            return b"address already in use" in fh.read()

    def wait_ready(self, wait_warm: bool = True, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.tail()
            try:
                health = httpx.get(self.url + "/health", timeout=2, headers=self.headers).json()
                if not wait_warm or (health["workers"]["warming"] == 0 and health["status"] == "ok"):
                    return health
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"service not ready in {timeout} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        path = (self.out_dir or self.data_dir) / "server.out"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, timeout: float = 20.0) -> int | None:
        try:
            if self.proc is None or self.proc.poll() is not None:
                return None if self.proc is None else self.proc.returncode
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                return self.proc.wait(5)
        finally:
            if self._out is not None:
                self._out.close()
                self._out = None


@pytest.fixture
def make_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Factory: ``make_service(**env)`` starts a fresh service; all are stopped after."""
    started: list[Service] = []

    def make(wait_warm: bool = True, data_dir: Path | None = None, out_dir: Path | None = None,
             **env: str) -> Service:
        folder = data_dir or tmp_path_factory.mktemp("service")
        service = Service(folder, {k: str(v) for k, v in env.items()}, out_dir=out_dir)
        started.append(service)
        return service.start(wait_warm)

    yield make
    for service in started:
        service.stop()


def gpu_present() -> bool:
    """cuML installed and an NVIDIA driver visible (checked without importing cuML)."""
    import importlib.util
    import shutil

    return importlib.util.find_spec("cuml") is not None and shutil.which("nvidia-smi") is not None


# backend on the local executor's worker processes, the CPU backend on a Dask cluster
# (scheduler and two workers as separate processes), and the GPU where present
BACKENDS = ["cpu", "dask", pytest.param("gpu", marks=pytest.mark.gpu)]


@pytest.fixture(scope="session")
def _shared_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Service]]:
    """The services behind :func:`service`, one per backend, each started when a test first
    asks for it and stopped when the session ends. (A session-scoped parametrized fixture
    was started again for every test file: pytest keeps one of its instances at a time,
    and under ``--dist loadfile`` each file ran its cpu, dask and gpu tests in turn, so a
    Dask cluster and two servers were started and stopped per file.)"""
    services: dict[str, Service] = {}
    clusters: list[Any] = []

    def get(kind: str) -> Service:
        if kind in services:
            return services[kind]
        env = {
            "STREAMING_UMAP_BACKEND": "cpu" if kind == "dask" else kind,
            "GPU_UMAP_MAX_CONCURRENT_JOBS": "2",
            "STREAMING_UMAP_CANCEL_GRACE": "3",
            "STREAMING_UMAP_WS_SEND_TIMEOUT": "2",
        }
        if kind == "dask":
            from .dask_cluster import start_cluster

            clusters.append(start_cluster(tmp_path_factory.mktemp("dask-cluster"), workers=2))
            env.update(STREAMING_UMAP_DASK_SCHEDULER=clusters[-1].address, STREAMING_UMAP_WARMUP="light")
        svc = Service(tmp_path_factory.mktemp(f"shared-service-{kind}"), env)
        try:
            services[kind] = svc.start()
        except BaseException:
            svc.stop()
            raise
        return services[kind]

    yield get
    for svc in services.values():
        svc.stop()
    for cluster in clusters:
        cluster.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def service(request: pytest.FixtureRequest, _shared_services: Callable[[str], Service]) -> Service:
    """One service per backend and executor, shared by the tests that do not restart or
    break it. The GPU one is skipped where there is no CUDA device with cuML."""
    kind = request.param
    if kind == "gpu" and not gpu_present():
        pytest.skip("no CUDA device with cuML here")
    return _shared_services(kind)
