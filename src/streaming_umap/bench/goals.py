"""Issue 2's goals, checked against a run's figures (a figure not measured: no row).

* the service end to end <= 1.1x the warm bare library, per size;
* the first WebSocket frame <= 100 ms after the upload is answered. Two readings:
  the first frame (the snapshot: every status field, progress and ETA included) and
  the first frame of type ``progress`` (the next change the server pushes);
* ``/health`` p99 <= 50 ms while at least 3 jobs run.
"""

from __future__ import annotations

from typing import Any

RATIO = 1.1
FIRST_FRAME_MS = 100.0
HEALTH_P99_MS = 50.0


def _row(goal: str, value: float | None, unit: str, limit: float, **extra: Any) -> dict[str, Any]:
    return {"goal": goal, "value": value, "unit": unit,
            "met": None if value is None else value <= limit, **extra}


def goals(figures: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for size in figures.get("service", {}).get("sizes", []):
        rows, job = size["rows"], size["job"]
        out.append(_row(f"service <= {RATIO}x warm library ({rows} rows)", size["ratio"], "x",
                        RATIO))
        out.append(_row(f"first frame (snapshot) <= {FIRST_FRAME_MS:.0f} ms after the upload "
                        f"is answered ({rows} rows)", job["first_frame_ms"], "ms", FIRST_FRAME_MS))
        out.append(_row(f"first progress frame <= {FIRST_FRAME_MS:.0f} ms after the upload "
                        f"is answered ({rows} rows)", job["first_progress_ms"], "ms",
                        FIRST_FRAME_MS))
    health = figures.get("concurrency", {}).get("health_busy")
    if health:
        out.append(_row(f"/health p99 <= {HEALTH_P99_MS:.0f} ms while >= 3 jobs run",
                        health["p99_ms"], "ms", HEALTH_P99_MS, samples=health["samples"]))
    return out
