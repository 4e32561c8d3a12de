"""One local worker process and both ends of its pipe.

Server side, :class:`WorkerProcess`: the event loop never writes to the pipe itself. It
:meth:`~WorkerProcess.post`\\ s messages into an outbox that a writer thread drains;
controls are keyed, so a flood of pause/resume requests for one job is one pending
message (the latest wins) however long the worker takes to read (it reads only at its
checkpoints). A reader thread turns what the worker sends into calls on the loop.

Worker side, :class:`PipeChannel` is the job's :class:`~..channel.Channel` over the same
pipe, and :func:`worker_main` is the process's entry point.

Arrays of immediate requests do not go through pickle: the message travels without them
and the rows follow as one raw byte message, written from the writer thread straight out
of the array's memory (no copy in the server, nothing held on the loop).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from .. import protocol as msg
from ..worker import WorkerConfig, load_backend, run_immediate, run_job, setup_process, warm

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RowsFollow:
    """Stands in for an immediate request's rows: they follow as raw bytes."""

    shape: tuple[int, ...]
    dtype: str


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def send_message(conn: Connection, message: object) -> None:
    """Write one message (blocking: call it from a writer thread, never the loop)."""
    from ._template import ForkRequest

    if isinstance(message, ForkRequest):  # the new worker's end of its pipe travels along
        from multiprocessing.reduction import send_handle

        conn.send(message)
        send_handle(conn, message.fd, 0)
        os.close(message.fd)
    elif isinstance(message, msg.RunImmediate):
        rows = np.ascontiguousarray(message.data)
        conn.send(replace(message, data=RowsFollow(rows.shape, rows.dtype.str)))  # type: ignore[arg-type]
        conn.send_bytes(rows.data.cast("B"))
    else:
        conn.send(message)


def receive_message(conn: Connection) -> object:
    message = conn.recv()
    if isinstance(message, msg.RunImmediate) and isinstance(message.data, RowsFollow):
        spec = message.data
        rows = np.frombuffer(conn.recv_bytes(), dtype=np.dtype(spec.dtype)).reshape(spec.shape)
        message = replace(message, data=rows)
    return message


class Outbox:
    """Messages waiting for the writer thread, in order; a keyed message replaces the
    pending one with the same key where it stands."""

    def __init__(self) -> None:
        self._items: dict[Hashable, object] = {}
        self._ids = itertools.count()
        self._cond = threading.Condition()
        self.closed = False

    def put(self, message: object, key: Hashable | None = None) -> None:
        with self._cond:
            self._items[key if key is not None else ("seq", next(self._ids))] = message
            self._cond.notify()

    def take(self) -> object | None:
        """The oldest message, waiting for one; None once closed."""
        with self._cond:
            while not self._items and not self.closed:
                self._cond.wait()
            if not self._items:
                return None
            key = next(iter(self._items))
            return self._items.pop(key)

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._items)


class ForkedProcess:
    """A worker forked by the template and adopted by this (subreaper) process: the
    few things of ``multiprocessing.Process`` the executor uses, by pid. The pid is
    known once the worker says hello."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.exitcode: int | None = None

    def _reap(self, block: bool) -> bool:
        if self.exitcode is not None:
            return True
        if self.pid is None:
            return False
        try:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # not ours (yet) or already reaped elsewhere
            return not os.path.exists(f"/proc/{self.pid}")
        if pid == 0:
            return False
        self.exitcode = os.waitstatus_to_exitcode(status)
        return True

    def is_alive(self) -> bool:
        return not self._reap(block=False)

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._reap(block=False):
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(0.01)

    def kill(self) -> None:
        if self.pid is not None and self.is_alive():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class WorkerProcess:
    """The server's view of one worker process: its state, its job, its pipe."""

    def __init__(
        self,
        cfg: WorkerConfig,
        loop: asyncio.AbstractEventLoop,
        on_message: Callable[[WorkerProcess, object], None],
        on_exit: Callable[[WorkerProcess], None],
        launched: tuple[Any, Connection],
    ) -> None:
        self.cfg = cfg
        self.state = "warming"  # warming | idle | busy | dead
        self.job_id: str | None = None
        self.request_id: int | None = None
        self.backend: str | None = None
        self.info: dict[str, Any] = {}
        self.started_at = time.time()
        self.jobs_done = 0
        self.stopped = False  # held by SIGSTOP
        self.warmup_seconds: float | None = None
        self._loop = loop
        self._on_message = on_message
        self._on_exit = on_exit
        self.process, self.conn = launched
        self.outbox = Outbox()
        name = f"su-{cfg.role}-{cfg.index}"
        self._writer = threading.Thread(target=self._write, name=f"write-{name}", daemon=True)
        self._reader = threading.Thread(target=self._read, name=f"read-{name}", daemon=True)
        self._writer.start()
        self._reader.start()

    @property
    def role(self) -> str:
        return self.cfg.role

    @property
    def pid(self) -> int | None:
        return self.process.pid  # type: ignore[no-any-return]

    @property
    def name(self) -> str:
        return f"{self.cfg.role}-{self.cfg.index}"

    @property
    def alive(self) -> bool:
        return self.state != "dead" and bool(self.process.is_alive())

    def post(self, message: object, key: Hashable | None = None) -> None:
        """Queue a message for the worker; never blocks."""
        self.outbox.put(message, key)

    def _write(self) -> None:
        while (message := self.outbox.take()) is not None:
            try:
                send_message(self.conn, message)
            except (BrokenPipeError, OSError, EOFError, ValueError, TypeError):
                # the worker is gone (TypeError: its connection was closed under this
                # thread, multiprocessing then writes to a None handle); the reader reports it
                return

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                break
            except Exception:  # an unpicklable message: log it, keep reading
                log.exception("unreadable message from worker %s", self.name)
                continue
            try:
                self._loop.call_soon_threadsafe(self._on_message, self, message)
            except RuntimeError:  # the loop is closed: the server is going away
                return
        self.outbox.close()
        self.process.join(timeout=5)
        try:
            self._loop.call_soon_threadsafe(self._on_exit, self)
        except RuntimeError:
            pass

    def signal(self, sig: signal.Signals) -> bool:
        """Send a signal to the process; False if it is gone."""
        if self.pid is None or not self.process.is_alive():
            return False
        try:
            os.kill(self.pid, sig)
            return True
        except ProcessLookupError:
            return False

    def hold(self) -> bool:
        self.stopped = self.signal(signal.SIGSTOP) or self.stopped
        return self.stopped

    def release(self) -> bool:
        if self.stopped and self.signal(signal.SIGCONT):
            self.stopped = False
            return True
        return False

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()

    def exit_description(self) -> str:
        return describe_exit(self.process.exitcode)

    def __repr__(self) -> str:
        return (f"WorkerProcess({self.name}, pid={self.pid}, state={self.state}, job={self.job_id}, "
                f"done={self.jobs_done}, outbox={len(self.outbox)}, stopped={self.stopped})")


# ------------------------------------------------------------------ the worker's side


class PipeChannel:
    """A job's channel over the worker's pipe (worker side)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.backlog: list[object] = []  # non-control messages read while a job ran

    def send(self, message: object) -> None:
        with self.lock:
            self.conn.send(message)

    def controls(self, timeout: float | None = 0.0) -> list[msg.Control]:
        found: list[msg.Control] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self.conn.poll(0.0 if found else left):
                return found
            message = receive_message(self.conn)
            if isinstance(message, msg.Control):
                found.append(message)
            else:
                self.backlog.append(message)

    def next_message(self) -> object:
        """The next run request or shutdown (blocking)."""
        if self.backlog:
            return self.backlog.pop(0)
        return receive_message(self.conn)


def serve(backend: Any, channel: PipeChannel) -> int:
    """Run what arrives until told to stop; the process's exit code."""
    while True:
        try:
            message = channel.next_message()
        except (EOFError, OSError):
            return 0  # the server is gone
        if isinstance(message, msg.Shutdown):
            return 0
        if isinstance(message, msg.RunJob):
            if not run_job(backend, channel, message):
                return 3  # retired (a device fault): the executor starts another
        elif isinstance(message, msg.RunImmediate):
            run_immediate(backend, channel, message)


def worker_main(conn: Connection, cfg: WorkerConfig) -> None:
    """Entry point of a spawned worker process: warm up once, then run what arrives."""
    from ._template import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server owns Ctrl-C and tells us
    die_with_parent()
    channel = PipeChannel(conn)
    setup_process(cfg, channel)
    started = time.perf_counter()
    backend = load_backend(cfg.backend, cfg)
    channel.send(warm(backend, cfg, started))
    sys.exit(serve(backend, channel))
