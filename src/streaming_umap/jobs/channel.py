"""How a running job talks to whoever started it: a :class:`Channel`, and the checkpoint
that compute code sees over it.

A job reports events (:mod:`.protocol`: StageStarted, Progress, Held, Layout, Done, ...)
and receives controls (pause, resume, cancel, live, threads) through a channel. The
local executor's channel is the worker process's pipe; the Dask executor's is the Dask
worker's event log and a ``distributed`` Variable. The same pipeline code runs over
either: it only ever calls a :class:`~streaming_umap.pipeline.checkpoint.Checkpoint`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from ..errors import JobCancelled
from . import protocol as msg

PROGRESS_INTERVAL = 0.05  # seconds between progress messages (the hub coalesces further)
LAYOUT_BYTES_PER_SECOND = 40e6  # live layouts: at most this much data per second


class Channel(Protocol):
    def send(self, message: object) -> None:
        """Report an event to the executor (safe from any thread)."""

    def controls(self, timeout: float | None = 0.0) -> list[msg.Control]:
        """The controls that arrived since the last call. When there are none, wait up
        to ``timeout`` seconds for one (``None``: until one arrives)."""


class ChannelLogHandler(logging.Handler):
    """Log records of the worker, sent to the server's log through the channel."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.channel.send(msg.LogRecord(record.name, record.levelno, self.format(record)))
        except Exception:  # the channel is gone: nowhere left to log to
            pass


def set_compute_threads(threads: int) -> None:
    """Let numba's parallel code use ``threads`` threads from now on (where numba is in
    use: it is never imported here for this)."""
    numba = sys.modules.get("numba")
    if numba is not None and threads > 0:
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


class ChannelCheckpoint:
    """Reports a running job's progress and holds it while paused."""

    def __init__(self, channel: Channel, job_id: str,
                 on_threads: Callable[[int], None] = set_compute_threads) -> None:
        self.channel = channel
        self.job_id = job_id
        self.on_threads = on_threads
        self.cancelled = False
        self.paused = False
        self.live_every = 0
        self.total = 1
        self.last_sent = 0.0
        self.next_layout_at = 0.0

    def stage(self, name: str, total: int, **info: int) -> None:
        self.total = max(1, total)
        self.channel.send(msg.StageStarted(self.job_id, name, self.total, time.time(), dict(info)))
        self.last_sent = 0.0
        self._apply(self.channel.controls())

    def advance(self, done: int, **counters: int) -> None:
        now = time.monotonic()
        if done >= self.total or now - self.last_sent >= PROGRESS_INTERVAL:
            self.channel.send(msg.Progress(self.job_id, done, counters, time.time()))
            self.last_sent = now
        if self.poll() == "cancel":
            raise JobCancelled(f"job {self.job_id} cancelled at a checkpoint")

    def poll(self) -> str:
        self._apply(self.channel.controls())
        if self.paused and not self.cancelled:
            self.channel.send(msg.Held(self.job_id, True, time.time()))
            while self.paused and not self.cancelled:
                self._apply(self.channel.controls(timeout=None))
            if not self.cancelled:
                self.channel.send(msg.Held(self.job_id, False, time.time()))
        return "cancel" if self.cancelled else "go"

    def wants_layout(self, epoch: int) -> bool:
        return (
            self.live_every > 0
            and epoch % self.live_every == 0
            and time.monotonic() >= self.next_layout_at
        )

    def layout(self, epoch: int, embedding: np.ndarray) -> None:
        array = np.array(embedding, dtype=np.float32, copy=True)
        self.channel.send(msg.Layout(self.job_id, epoch, array))
        self.next_layout_at = time.monotonic() + max(0.1, array.nbytes / LAYOUT_BYTES_PER_SECOND)

    def _apply(self, controls: list[msg.Control]) -> None:
        for control in controls:
            if control.job_id != self.job_id:
                continue  # meant for a job that already ended here
            if control.action == "pause":
                self.paused = True
            elif control.action == "resume":
                self.paused = False
            elif control.action == "cancel":
                self.cancelled = True
            elif control.action == "live":
                self.live_every = max(0, control.every)
            elif control.action == "threads":
                self.on_threads(control.every)

    def __repr__(self) -> str:
        return (f"ChannelCheckpoint(job={self.job_id!r}, paused={self.paused}, "
                f"cancelled={self.cancelled}, live_every={self.live_every})")
