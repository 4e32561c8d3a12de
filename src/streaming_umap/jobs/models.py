"""Job states, the transitions between them, and the job record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..errors import JobStateConflict


class Status(str, Enum):
    PENDING = "pending"
    PROCESSING = "processing"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATUSES = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})
ACTIVE_STATUSES = frozenset(set(Status) - TERMINAL_STATUSES)

# Every legal move. A terminal state has none: it never changes.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset(
        {Status.PROCESSING, Status.PAUSED, Status.CANCELLED, Status.FAILED}
    ),
    Status.PROCESSING: frozenset(
        {Status.PAUSED, Status.CANCELLING, Status.COMPLETED, Status.FAILED, Status.CANCELLED}
    ),
    Status.PAUSED: frozenset(
        {Status.PROCESSING, Status.PENDING, Status.CANCELLING, Status.CANCELLED, Status.FAILED}
    ),
    Status.CANCELLING: frozenset({Status.CANCELLED, Status.FAILED}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}


@dataclass
class Job:
    """A job's record: what the store persists and the status endpoint shows.

    ``progress`` is the percentage of the whole job's predicted cost that is done
    (0-100, never decreasing); ``eta_seconds`` the predicted seconds left.
    """

    id: str
    kind: str
    params: dict[str, Any]
    total_points: int
    dims: int
    total_chunks: int
    status: Status = Status.PENDING
    stage: str = "queued"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    processed_points: int = 0
    current_chunk: int = 0
    epoch: int | None = None
    total_epochs: int | None = None
    progress: float = 0.0
    eta_seconds: float | None = None
    error: str | None = None
    warning: str | None = None
    result: dict[str, Any] | None = None
    result_expired: bool = False
    seq: int = 0
    paused_seconds: float = 0.0
    paused_since: float | None = None
    worker: str | None = None  # which worker ran it (a local worker, or a Dask worker's address)
    waiting_for: str | None = None  # what a pending job waits for (not stored: re-derived)
    owner: str | None = None  # the id of the API key that created it (None: no key)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def move_to(self, new: Status, now: float | None = None) -> None:
        """Change state, or raise JobStateConflict naming both states."""
        if new == self.status:
            return
        if new not in TRANSITIONS[self.status]:
            raise JobStateConflict(
                f"job {self.id} is {self.status.value}; it cannot become {new.value}"
            )
        now = time.time() if now is None else now
        if self.paused_since is not None and self.started_at is not None:
            self.paused_seconds += now - self.paused_since
        self.paused_since = now if new == Status.PAUSED else None
        if new == Status.PROCESSING and self.started_at is None:
            self.started_at = now
        self.status = new
        if new != Status.PENDING:
            self.waiting_for = None
        if new in TERMINAL_STATUSES:
            self.finished_at = now
            self.eta_seconds = 0.0 if new == Status.COMPLETED else None

    def processing_time(self, now: float | None = None) -> float:
        """Seconds spent computing: from start to now (or the end), pauses excluded."""
        if self.started_at is None:
            return 0.0
        end = self.finished_at if self.finished_at is not None else (now or time.time())
        paused = self.paused_seconds
        if self.paused_since is not None and self.finished_at is None:
            paused += end - self.paused_since
        return max(0.0, end - self.started_at - paused)

    def estimated_completion(self, now: float | None = None) -> float | None:
        if self.status == Status.COMPLETED:
            return self.finished_at
        if self.terminal or self.status == Status.PAUSED or self.eta_seconds is None:
            return None
        return (now or time.time()) + self.eta_seconds

    @property
    def held_in_queue(self) -> bool:
        """Paused before it ever started: no worker holds it, its input waits on disk."""
        return self.status == Status.PAUSED and self.started_at is None

    def stored_bytes(self) -> int:
        """What the job keeps on disk: its float32 input while active, its result once
        completed (until it expires), nothing once failed or cancelled. A kept model is
        counted on its own (:class:`~.model_store.ModelRecord`)."""
        if self.status in ACTIVE_STATUSES:
            return self.total_points * self.dims * 4
        if self.status != Status.COMPLETED or self.result_expired:
            return 0
        from .kinds import kind_of

        return kind_of(self.kind).result_bytes(self.total_points, self.dims, self.params, self.result or {})

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def __repr__(self) -> str:
        return (
            f"Job(id={self.id!r}, kind={self.kind}, status={self.status.value}, "
            f"stage={self.stage}, rows={self.total_points}x{self.dims}, "
            f"progress={self.progress:.1f}%, seq={self.seq}, owner={self.owner})"
        )
