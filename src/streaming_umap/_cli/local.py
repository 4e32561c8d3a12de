"""A throw-away service inside the ``run`` process: uvicorn in a thread on a free
port, a temporary data folder, stopped (workers included) when the run ends."""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def numba_cache() -> Path:
    """A lasting compile cache, so the second run warms up faster than the first."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streaming-umap" / "numba"


def _quiet_logging(log_dir: Path) -> None:
    """Service records go to the temporary log file; only warnings reach the terminal.

    Installed before the app starts, marked as the service's own handlers so that its
    :func:`~streaming_umap.logsetup.configure_logging` leaves them in place.
    """
    from ..logsetup import FORMAT, LOG_FILE

    log_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    file_handler = logging.handlers.RotatingFileHandler(log_dir / LOG_FILE, maxBytes=10 << 20,
                                                        backupCount=1)
    stream_handler = logging.StreamHandler()
    stream_handler.setLevel(logging.WARNING)
    for handler in (file_handler, stream_handler):
        handler.setFormatter(logging.Formatter(FORMAT))
        setattr(handler, "_streaming_umap", True)  # noqa: B010 (a marker logsetup looks for)
        root.addHandler(handler)
    root.setLevel(logging.INFO)


class LocalServiceError(RuntimeError):
    """The in-process service did not start or did not warm up in time."""


class LocalService:
    """``with LocalService() as url:`` a warm service at ``url`` for the block."""

    def __init__(self, workers: int = 1, ready_timeout: float = 600.0) -> None:
        self.workers = workers
        self.ready_timeout = ready_timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        alive = self._thread is not None and self._thread.is_alive()
        return f"LocalService({self.url!r}, workers={self.workers}, running={alive})"

    def start(self) -> str:
        import uvicorn

        from ..config import Settings
        from ..web.app import create_app

        self._tmp = tempfile.TemporaryDirectory(prefix="streaming-umap-run-")
        folder = Path(self._tmp.name)
        _quiet_logging(folder / "logs")
        settings = Settings.from_env().with_overrides(
            host="127.0.0.1", port=self.port, data_dir=folder / "data", log_dir=folder / "logs",
            max_concurrent_jobs=self.workers, numba_cache_dir=numba_cache())
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port,
                                log_level="warning", ws_max_size=16 << 20)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="local-service", daemon=True)
        self._thread.start()
        self._wait_warm()
        return self.url

    def _wait_warm(self) -> None:
        import httpx

        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self._thread is None or not self._thread.is_alive():
                raise LocalServiceError("the local service stopped while starting; see the messages above")
            try:
                health = httpx.get(self.url + "/health", timeout=2).json()
                if health["status"] == "ok" and health["workers"]["warming"] == 0:
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.25)
        raise LocalServiceError(f"the local service was not warm after {self.ready_timeout:.0f} s")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=60)
            if self._thread.is_alive():
                log.warning("the local service did not stop within 60 s")
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> str:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
