"""Fan-out of job frames to subscribers, one bounded, coalescing mailbox each.

Publishing never blocks and never waits for a subscriber. Each mailbox keeps every
"important" frame (state changes, stage changes, the terminal frame) in order, but
only the newest progress frame and the newest live layout: a subscriber that reads
slowly simply sees fewer intermediate frames. One that lets important frames pile up
past ``max_important`` is marked overflowed and is dropped by its sender.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from typing import Any

Frame = dict[str, Any]


class Mailbox:
    def __init__(self, job_id: str, *, live_every: int = 0, max_important: int = 256) -> None:
        self.job_id = job_id
        self.live_every = live_every
        self.max_important = max_important
        self.important: deque[Frame] = deque()
        self.progress: Frame | None = None
        self.layout: tuple[Frame, bytes] | None = None
        self.overflowed = False
        self.closed = False
        self._ready = asyncio.Event()

    def offer(self, frame: Frame, important: bool) -> None:
        if self.closed:
            return
        if important:
            if len(self.important) >= self.max_important:
                self.overflowed = True
            else:
                self.important.append(frame)
            if self.progress is not None and self.progress["seq"] <= frame["seq"]:
                self.progress = None
        else:
            self.progress = frame
        self._ready.set()

    def offer_layout(self, header: Frame, payload: bytes) -> None:
        if not self.closed and self.live_every > 0:
            self.layout = (header, payload)
            self._ready.set()

    async def wait(self) -> None:
        await self._ready.wait()

    def take(self) -> tuple[list[Frame], tuple[Frame, bytes] | None]:
        """Everything waiting, in order: important frames plus the newest progress."""
        frames = list(self.important)
        self.important.clear()
        if self.progress is not None:
            frames.append(self.progress)
            self.progress = None
        frames.sort(key=lambda f: f["seq"])
        layout, self.layout = self.layout, None
        self._ready.clear()
        return frames, layout

    def __repr__(self) -> str:
        return (
            f"Mailbox(job={self.job_id!r}, important={len(self.important)}, "
            f"progress={'yes' if self.progress else 'no'}, overflowed={self.overflowed})"
        )


class Hub:
    def __init__(self) -> None:
        self._boxes: dict[str, set[Mailbox]] = defaultdict(set)

    def subscribe(self, job_id: str, *, live_every: int = 0) -> Mailbox:
        box = Mailbox(job_id, live_every=live_every)
        self._boxes[job_id].add(box)
        return box

    def unsubscribe(self, box: Mailbox) -> None:
        box.closed = True
        boxes = self._boxes.get(box.job_id)
        if boxes is not None:
            boxes.discard(box)
            if not boxes:
                del self._boxes[box.job_id]

    def publish(self, job_id: str, frame: Frame, important: bool = False) -> None:
        for box in tuple(self._boxes.get(job_id, ())):
            box.offer(frame, important)

    def publish_layout(self, job_id: str, header: Frame, payload: bytes) -> None:
        for box in tuple(self._boxes.get(job_id, ())):
            box.offer_layout(header, payload)

    def live_every(self, job_id: str) -> int:
        """The finest live-layout interval any subscriber of the job asked for (0: none)."""
        wanted = [b.live_every for b in self._boxes.get(job_id, ()) if b.live_every > 0]
        return min(wanted) if wanted else 0

    def subscribers(self, job_id: str) -> int:
        return len(self._boxes.get(job_id, ()))

    def __repr__(self) -> str:
        total = sum(len(b) for b in self._boxes.values())
        return f"Hub(jobs={len(self._boxes)}, subscribers={total})"
