"""Worker processes: start them (spawn), read their pipes, notice when they die."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import signal
import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Any

from .worker import WorkerConfig, worker_main

log = logging.getLogger(__name__)


class WorkerState(str, Enum):
    WARMING = "warming"
    IDLE = "idle"
    BUSY = "busy"
    DEAD = "dead"


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class WorkerHandle:
    """The supervisor's view of one worker process."""

    def __init__(
        self,
        cfg: WorkerConfig,
        loop: asyncio.AbstractEventLoop,
        on_message: Callable[[WorkerHandle, object], None],
        on_exit: Callable[[WorkerHandle], None],
    ) -> None:
        self.cfg = cfg
        self.state = WorkerState.WARMING
        self.job_id: str | None = None
        self.request_id: int | None = None
        self.backend: str | None = None
        self.info: dict[str, Any] = {}
        self.started_at = time.time()
        self.jobs_done = 0
        self._loop = loop
        self._on_message = on_message
        self._on_exit = on_exit
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=worker_main, args=(child, cfg), name=f"su-{cfg.role}-{cfg.index}", daemon=True
        )
        self.process.start()
        child.close()
        self._reader = threading.Thread(target=self._read, name=f"read-{self.process.name}", daemon=True)
        self._reader.start()

    @property
    def role(self) -> str:
        return self.cfg.role

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                break
            except Exception:  # an unpicklable message: log it, keep reading
                log.exception("unreadable message from %s", self.process.name)
                continue
            try:
                self._loop.call_soon_threadsafe(self._on_message, self, message)
            except RuntimeError:  # the loop is closed: the server is going away
                return
        self.process.join(timeout=5)
        try:
            self._loop.call_soon_threadsafe(self._on_exit, self)
        except RuntimeError:
            pass

    def send(self, message: object) -> bool:
        """Send to the worker; False if its pipe is already broken."""
        try:
            self.conn.send(message)
            return True
        except (BrokenPipeError, OSError, EOFError):
            return False

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()

    def exit_description(self) -> str:
        return describe_exit(self.process.exitcode)

    def __repr__(self) -> str:
        return (
            f"WorkerHandle({self.process.name}, pid={self.pid}, state={self.state.value}, "
            f"job={self.job_id}, done={self.jobs_done})"
        )
