"""The warm template (a zygote): compile once, fork warm workers from it.

Every CPU worker used to import umap-learn and compile its numba code for itself
(pynndescent's NN-descent cannot be cached on disk): N workers paid N warm-ups, and a
respawn after a crash or a cancel-kill paid a full one. Now one template process, a
fresh interpreter started with ``spawn``, warms the CPU backend once and then forks a
worker for each request, in milliseconds; the workers share the compiled code's
memory pages with it.

Fork safety (measured with numba 0.68 on Linux): numba's default threading layer here
is GNU OpenMP, and a process that has run OpenMP code cannot fork ("fork() called from
a process already using GNU OpenMP, this is unsafe": the child is terminated). The
``workqueue`` layer is fork-safe: a forked child starts its own threads on its first
parallel call. The template and its workers therefore use ``workqueue``, and nothing in
the template starts other threads. GPU workers keep being spawned: CUDA does not survive
a fork.

Parentage: the worker is forked twice (the middle process exits at once), so it is
re-parented to the server, which makes itself a child subreaper
(``PR_SET_CHILD_SUBREAPER``) at start: the server then waits for its workers itself and
sees how each one ended (``killed by signal SIGKILL``), and a worker dies with the
server (``PR_SET_PDEATHSIG``) instead of computing on for nothing.
"""

from __future__ import annotations

import ctypes
import logging
import os
import random
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from .. import protocol as msg
from ..worker import WorkerConfig, load_backend, setup_process, warm

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
THREADING_LAYER = "workqueue"  # the fork-safe one (see the module docstring)


@dataclass(frozen=True)
class ForkRequest:
    """Fork a worker; its end of a new pipe follows as a passed file descriptor."""

    cfg: WorkerConfig
    fd: int = -1  # the server's number for it; the template receives its own


@dataclass(frozen=True)
class WarmupStep:
    """The template is at this step of its warm-up (shown by /health)."""

    step: str
    elapsed: float


@dataclass(frozen=True)
class Declined:
    """The template will not fork workers (the backend is the GPU): spawn them."""

    backend: str
    reason: str


@dataclass(frozen=True)
class Hello:
    """A forked worker's first message: its pid, and how long its fork took."""

    pid: int
    seconds: float


def _prctl(option: int, value: int) -> bool:
    if sys.platform != "linux":
        return False
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl(option, value, 0, 0, 0) == 0  # type: ignore[no-any-return]
    except OSError:
        return False


def become_subreaper() -> bool:
    """Orphaned descendants (the forked workers) become this process's children."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent() -> None:
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def fork_supported() -> bool:
    return sys.platform == "linux" and hasattr(os, "fork")


def template_main(conn: Connection, cfg: WorkerConfig, server_pid: int) -> None:
    """Entry point of the template process (started with ``spawn``)."""
    from ._process import PipeChannel, receive_message

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    os.environ["NUMBA_THREADING_LAYER"] = THREADING_LAYER
    channel = PipeChannel(conn)
    setup_process(cfg, channel)
    started = time.perf_counter()
    if cfg.backend in ("auto", "gpu"):
        from ...backends.gpu import gpu_available

        if cfg.backend == "gpu" or gpu_available():
            channel.send(Declined("gpu", "CUDA does not survive a fork: GPU workers are spawned"))
            return
    backend = load_backend("cpu", cfg)

    def progress(step: str) -> None:
        channel.send(WarmupStep(step, time.perf_counter() - started))

    ready = warm(backend, cfg, started, progress=progress, split=True)
    channel.send(ready)
    while True:
        try:
            if backend.helper is not None:  # a first start's warm-up helper is still compiling
                if backend.helper.poll() is not None:
                    backend.adopt_helper()  # its steps, loaded from disk into what workers inherit
                elif not conn.poll(2.0):
                    continue
            message = receive_message(conn)
        except (EOFError, OSError):
            return
        if isinstance(message, ForkRequest):
            from multiprocessing.reduction import recv_handle

            _fork(backend, ready, message.cfg, recv_handle(conn), conn, server_pid)
        elif isinstance(message, msg.Shutdown):
            return


def _fork(backend: Any, ready: msg.Ready, cfg: WorkerConfig, fd: int, template_conn: Connection,
          server_pid: int) -> None:
    asked = time.perf_counter()
    middle = os.fork()
    if middle == 0:
        try:
            if os.fork() == 0:
                template_conn.close()
                _run_forked(backend, ready, cfg, fd, server_pid, asked)
        finally:
            os._exit(0)
    os.waitpid(middle, 0)
    os.close(fd)


def _run_forked(backend: Any, ready: msg.Ready, cfg: WorkerConfig, fd: int, server_pid: int,
                asked: float) -> None:
    from ._process import PipeChannel, serve

    deadline = time.monotonic() + 5.0
    while os.getppid() != server_pid and time.monotonic() < deadline:
        time.sleep(0.001)  # until the middle process is gone and the server adopted us
    die_with_parent()
    if os.getppid() != server_pid:
        os._exit(1)  # the server is gone
    random.seed()  # not the template's sequence in every worker
    import numpy as np

    np.random.seed()
    channel = PipeChannel(Connection(fd))
    setup_process(cfg, channel)
    channel.send(Hello(os.getpid(), time.perf_counter() - asked))
    channel.send(msg.Ready(ready.backend, ready.info, ready.calibration, ready.warmup_seconds))
    serve(backend, channel)
    os._exit(0)
