"""The profile's time budget: what is left, what the next measurement is predicted to
take, and the list of what was skipped (with the reason) to stay within it."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

FALLBACK_SECONDS_PER_ROW = 2e-3  # before anything was measured in this run


@dataclass
class Budget:
    deadline: float  # time.monotonic() by which the profile should be done
    profile: str
    skipped: list[dict[str, str]] = field(default_factory=list)
    # rows -> (service seconds, library seconds), measured in this run
    timings: dict[int, tuple[float, float]] = field(default_factory=dict)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def skip(self, figure: str, item: str, reason: str) -> None:
        log.info("skipping %s %s: %s", figure, item, reason)
        self.skipped.append({"figure": figure, "item": item, "reason": reason})

    def over(self, figure: str, item: str, predicted: float, run_anyway: bool = False) -> bool:
        """True (and noted) when ``predicted`` seconds do not fit what is left.
        With ``run_anyway`` the note says it ran regardless and False is returned."""
        left = self.left()
        if predicted <= left:
            return False
        reason = (f"predicted {predicted:.0f} s, {max(0.0, left):.0f} s left in the "
                  f"{self.profile} budget")
        self.skip(figure, item, reason + (": ran anyway" if run_anyway else ""))
        return not run_anyway

    def record(self, rows: int, service_s: float, library_s: float) -> None:
        self.timings[rows] = (service_s, library_s)

    def predict_pair(self, rows: int) -> float:
        """Predicted seconds for service + library at ``rows``, scaled from the
        nearest size measured in this run (linearly in rows: a little pessimistic
        for the layout, optimistic for exact kNN, which only runs below 4096 rows)."""
        if not self.timings:
            return rows * FALLBACK_SECONDS_PER_ROW
        near = min(self.timings, key=lambda n: abs(math.log(n / rows)))
        service, library = self.timings[near]
        return (service + library) * rows / near

    def single(self, rows: int) -> float | None:
        """The service's end-to-end seconds for one job of ``rows``, if measured."""
        return self.timings.get(rows, (None, None))[0]
