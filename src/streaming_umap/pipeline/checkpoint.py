"""Checkpoints: where compute code reports progress and honours pause and cancel.

Compute code (backends, pipeline stages) only ever talks to a :class:`Checkpoint`.
The worker process gives it one wired to the supervisor; immediate requests and
tests get :class:`NullCheckpoint`.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np

from ..errors import JobCancelled

Verdict = Literal["go", "cancel"]


class Checkpoint(Protocol):
    """What compute code may call while a job runs."""

    def stage(self, name: str, total: int, **info: int) -> None:
        """A new stage begins, made of ``total`` steps (chunks, epochs, iterations)."""

    def advance(self, done: int, **counters: int) -> None:
        """``done`` of the stage's steps are finished; raise JobCancelled if asked to stop.

        ``counters`` may carry ``processed_points``, ``current_chunk``, ``total_chunks``,
        ``epoch`` and ``total_epochs``. Blocks while the job is paused.
        """

    def poll(self) -> Verdict:
        """Like :meth:`advance` without reporting, and never raises.

        For callbacks that must not raise (cuML's): returns "cancel" when the job
        should stop, after blocking while paused.
        """

    def wants_layout(self, epoch: int) -> bool:
        """Whether the caller should offer the live embedding at this epoch."""

    def layout(self, epoch: int, embedding: np.ndarray) -> None:
        """Offer an intermediate embedding (rows x n_components)."""


class NullCheckpoint:
    """A checkpoint that records the stages it saw and can be told to cancel."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.stages: list[tuple[str, int]] = []
        self.steps = 0
        self.cancel_after = cancel_after
        self.layouts: list[int] = []

    def stage(self, name: str, total: int, **info: int) -> None:
        self.stages.append((name, total))

    def advance(self, done: int, **counters: int) -> None:
        if self.poll() == "cancel":
            raise JobCancelled("cancelled at a checkpoint")

    def poll(self) -> Verdict:
        self.steps += 1
        if self.cancel_after is not None and self.steps > self.cancel_after:
            return "cancel"
        return "go"

    def wants_layout(self, epoch: int) -> bool:
        return False

    def layout(self, epoch: int, embedding: np.ndarray) -> None:
        self.layouts.append(epoch)
