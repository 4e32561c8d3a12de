"""Figure 7: how honest the ETA is over a job's life.

For every UMAP job this run completed: at the first frame with progress >= 10 %,
50 % and 90 %, the predicted seconds left (``estimated_completion`` minus the
frame's time) against the seconds that were actually left (``finished_at`` minus
the frame's time). Ratio 1.0 = exact; error = (predicted - actual completion) as a
share of the job's compute time. Also when each mark was reached, as a share of
the job's time (0.1, 0.5, 0.9 if progress moves evenly with time).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..context import Context
from ..jobs import JobRun

MARKS = (10.0, 50.0, 90.0)


def eta_points(run: JobRun) -> list[dict[str, Any]]:
    started, finished = run.record.get("started_at"), run.record.get("finished_at")
    if started is None or finished is None or finished <= started:
        return []
    duration = finished - started
    frames = [f for _, f in run.frames
              if f.get("estimated_completion") is not None and f.get("timestamp") is not None
              and f.get("status") == "processing"]
    out = []
    for mark in MARKS:
        frame = next((f for f in frames if f.get("progress_percentage", 0.0) >= mark), None)
        if frame is None:
            continue
        at, predicted = float(frame["timestamp"]), float(frame["estimated_completion"])
        actual_left = finished - at
        out.append({
            "mark": mark,
            "progress": frame["progress_percentage"],
            "time_share": round((at - started) / duration, 3),
            "predicted_left_s": round(predicted - at, 3),
            "actual_left_s": round(actual_left, 3),
            "ratio": None if actual_left <= 0 else round((predicted - at) / actual_left, 3),
            "error_share": round((predicted - finished) / duration, 3),
        })
    return out


def run(ctx: Context) -> dict[str, Any]:
    jobs = []
    for job in ctx.runs:
        if job.kind != "umap" or job.status != "completed":
            continue
        points = eta_points(job)
        if points:
            jobs.append({"job_id": job.job_id, "rows": job.rows, "tag": job.tag,
                         "compute_s": job.breakdown()["compute_s"], "points": points})
    return {"jobs": jobs, "by_mark": _by_mark([j for j in jobs if j["tag"] == "alone"]),
            "by_mark_concurrent": _by_mark([j for j in jobs if j["tag"] != "alone"]),
            "baseline": "the actual completion time of the same job"}


def _by_mark(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median and worst error at each mark over ``jobs``."""
    by_mark = []
    for mark in MARKS:
        errors = [abs(p["error_share"]) for j in jobs for p in j["points"] if p["mark"] == mark]
        ratios = [p["ratio"] for j in jobs for p in j["points"]
                  if p["mark"] == mark and p["ratio"] is not None]
        by_mark.append({
            "mark": mark, "jobs": len(errors),
            "median_abs_error_share": None if not errors else round(float(np.median(errors)), 3),
            "max_abs_error_share": None if not errors else round(max(errors), 3),
            "median_ratio": None if not ratios else round(float(np.median(ratios)), 3),
        })
    return by_mark
