"""A real Dask cluster for tests: ``dask scheduler`` and ``dask worker`` as separate
processes, started with Dask's own commands (as a user would), that a test can break:
kill a worker, stop and restart the scheduler, add a worker later."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .conftest import NUMBA_CACHE, free_port

BIN = Path(sys.executable).parent


@dataclass
class DaskCluster:
    folder: Path
    port: int = field(default_factory=free_port)
    scheduler: subprocess.Popen[bytes] | None = None
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[Any] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        out = open(self.folder / f"{name}.log", "ab")
        self._logs.append(out)
        env = dict(os.environ, NUMBA_CACHE_DIR=str(NUMBA_CACHE), PYTHONUNBUFFERED="1",
                   DASK_DISTRIBUTED__WORKER__DAEMON="False")
        return subprocess.Popen([str(BIN / "dask"), *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def start_scheduler(self) -> None:
        self.scheduler = self._start("scheduler", "scheduler", "--host", "127.0.0.1",
                                     "--port", str(self.port), "--no-dashboard")
        self._wait_port()

    def _wait_port(self, timeout: float = 60.0) -> None:
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"the Dask scheduler did not listen on {self.port}")

    def add_worker(self, name: str) -> subprocess.Popen[bytes]:
        proc = self._start(name, "worker", self.address, "--nthreads", "1", "--name", name,
                           "--no-dashboard", "--no-nanny")
        self.workers[name] = proc
        return proc

    def kill_worker(self, name: str) -> None:
        proc = self.workers.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_scheduler(self) -> None:
        assert self.scheduler is not None
        os.killpg(self.scheduler.pid, signal.SIGKILL)
        self.scheduler.wait(10)
        self.scheduler = None

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        """Workers first, while their scheduler still answers (a worker told to close says
        goodbye to it, and waited ~15 s for one already gone), then the scheduler; what has
        not exited 5 s after SIGTERM is killed."""
        groups = [list(self.workers.values()), [self.scheduler] if self.scheduler else []]
        for procs in groups:
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            for proc in procs:
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
        for out in self._logs:
            out.close()


def start_cluster(folder: Path, workers: int = 2) -> DaskCluster:
    cluster = DaskCluster(folder)
    cluster.start_scheduler()
    for i in range(workers):
        cluster.add_worker(f"w{i + 1}")
    return cluster
