"""What clients see of a job: status bodies and WebSocket frames."""

from __future__ import annotations

import time
from typing import Any

from .models import Job


def result_urls(job: Job) -> dict[str, str]:
    base = f"/umap/streaming/result/{job.id}"
    return {"result_url": base, "npy_url": f"{base}?format=npy"}


def result_summary(job: Job) -> dict[str, Any] | None:
    """The completed job's result without its arrays."""
    if job.result is None:
        return None
    summary = {k: v for k, v in job.result.items() if k != "has_centers"}
    summary.update(result_urls(job))
    return summary


def progress_fields(job: Job, now: float) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "status": job.status.value,
        "stage": job.stage,
        "total_points": job.total_points,
        "processed_points": job.processed_points,
        "current_chunk": job.current_chunk,
        "total_chunks": job.total_chunks,
        "progress_percentage": round(job.progress, 2),
        "estimated_completion": job.estimated_completion(now),
        "eta_seconds": None if job.eta_seconds is None else round(job.eta_seconds, 2),
        "processing_time": round(job.processing_time(now), 3),
        "waiting_for": job.waiting_for,
        "model_id": (job.result or {}).get("model_id"),
    }


def status_of(job: Job, now: float | None = None) -> dict[str, Any]:
    """Every status field (``result`` holds the summary; the caller may add arrays)."""
    now = time.time() if now is None else now
    out = progress_fields(job, now)
    out.update(
        kind=job.kind,
        result=result_summary(job),
        error=job.error,
        warning=job.warning,
        params=job.params,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        epoch=job.epoch,
        total_epochs=job.total_epochs,
        result_expired=job.result_expired,
        worker=job.worker,
    )
    return out


def frame_of(job: Job, kind: str, now: float | None = None) -> dict[str, Any]:
    """A WebSocket frame; takes the next ``seq`` of the job."""
    now = time.time() if now is None else now
    frame: dict[str, Any] = {"type": kind, "seq": job.next_seq()}
    frame.update(progress_fields(job, now))
    frame["timestamp"] = now
    if job.epoch is not None:
        frame["epoch"], frame["total_epochs"] = job.epoch, job.total_epochs
    if kind == "completed":
        frame["result"] = result_summary(job)
        frame["result_url"] = result_urls(job)["result_url"]
        frame["warning"] = job.warning
    elif kind == "failed" or kind == "cancelled":
        frame["error"] = job.error
    return frame


def snapshot_of(job: Job, now: float | None = None) -> dict[str, Any]:
    """The first frame a subscriber gets: every status field, at the job's current seq."""
    now = time.time() if now is None else now
    frame = status_of(job, now)
    frame.update(type="snapshot", seq=job.seq, timestamp=now)
    return frame
