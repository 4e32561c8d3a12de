"""REST handlers. Each one validates at the edge and hands over to the supervisor."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from ..errors import InvalidInput, JobStateConflict, ResultGone
from ..jobs.models import Job, Status
from ..jobs.supervisor import Supervisor
from ..jobs.views import status_of
from ..schemas import params_from_query, params_to_dict
from .ingest import (
    NPY_TYPES,
    SPOOL_MIN_BYTES,
    Submission,
    check_media_type,
    declared_length,
    media_type,
    parse_spooled_submission,
    parse_submission,
    read_body,
    spool_body,
)
from .responses import JSON


def _sup(request: Request) -> Supervisor:
    return request.app.state.supervisor  # type: ignore[no-any-return]


async def _parse(request: Request, kind: str) -> Submission:
    media = media_type(request)
    check_media_type(media)
    settings = request.app.state.settings
    query = dict(request.query_params)
    if media in NPY_TYPES and (declared_length(request) or 0) >= SPOOL_MIN_BYTES:
        params_from_query(kind, query)  # a bad parameter is refused before gigabytes arrive
        path = await spool_body(request, settings.max_body_bytes, _sup(request).store.spool_dir)
        _count(request, "npy", declared_length(request) or 0)
        try:
            sub = await asyncio.to_thread(parse_spooled_submission, kind, path, query, settings)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if sub.input_file is None:  # converted to float32 rows in memory: the file is done with
            path.unlink(missing_ok=True)
        return sub
    body = await read_body(request, settings.max_body_bytes)
    _count(request, "npy" if media in NPY_TYPES else media.split("/")[-1], len(body))
    return await asyncio.to_thread(parse_submission, kind, media, body, query, settings)


def _count(request: Request, body_format: str, size: int) -> None:
    request.app.state.metrics.ingested.labels(body_format).inc(size)


def _immediate_body(sub: Submission, result: dict[str, Any]) -> dict[str, Any]:
    warnings = sub.warnings + list(result.get("warnings", []))
    body: dict[str, Any] = {
        "job_id": "immediate",
        "status": "completed",
        "message": f"{sub.kind} computed immediately ({sub.data.shape[0]} x {sub.data.shape[1]})",
        "total_points": int(sub.data.shape[0]),
        "estimated_chunks": 1,
        "processing_time": round(float(result.get("seconds", 0.0)), 4),
        "warning": "; ".join(warnings) or None,
    }
    if sub.kind == "umap":
        body["embeddings"] = result["embedding"].tolist()
    else:
        centers = result.get("centers")
        body.update(labels=result["labels"].tolist(), n_clusters=result["n_clusters"],
                    noise_points=result["noise_points"],
                    centers=None if centers is None else centers.tolist())
    return body


async def submit(request: Request, kind: str) -> Response:
    sub = await _parse(request, kind)
    try:
        return await submit_submission(request, sub)
    finally:
        if sub.input_file is not None:  # not adopted by a job (immediate, refused, failed)
            sub.input_file.unlink(missing_ok=True)


async def submit_submission(request: Request, sub: Submission) -> Response:
    """Answer at once for small inputs; queue a job for the rest."""
    sup, kind = _sup(request), sub.kind
    params = params_to_dict(sub.params)
    if sub.data.shape[0] < request.app.state.settings.immediate_threshold:
        result = await sup.immediate(kind, params, sub.data)
        return JSON(_immediate_body(sub, result))
    job = await sup.submit(kind, params, sub.data, "; ".join(sub.warnings) or None,
                           input_file=sub.input_file)
    body: dict[str, Any] = {
        "job_id": job.id, "status": "started",
        "message": f"{kind} job queued ({job.total_points} x {job.dims})",
        "total_points": job.total_points, "estimated_chunks": job.total_chunks,
        "warning": job.warning, "status_url": f"/umap/streaming/status/{job.id}",
        "ws_url": f"/umap/streaming/ws/{job.id}",
    }
    return JSON(body, status_code=202, headers={"Location": body["status_url"]})


async def submit_umap(request: Request) -> Response:
    return await submit(request, "umap")


async def submit_cluster(request: Request) -> Response:
    return await submit(request, "cluster")


def _result_file(sup: Supervisor, job: Job) -> Path:
    """The completed job's result file, or the 409/410 that says why there is none."""
    if job.status != Status.COMPLETED:
        raise JobStateConflict(
            f"job {job.id} is {job.status.value}; its result exists once it is completed"
        )
    path = sup.store.result_path(job.id, job.kind)
    if job.result_expired or not path.exists():
        raise ResultGone(
            f"the result of job {job.id} has expired (results are kept for "
            f"{sup.settings.result_ttl:.0f} s and within the disk budget)"
        )
    return path


def _load_result(sup: Supervisor, job: Job) -> dict[str, Any]:
    """The completed job's arrays as JSON-ready values (reads the .npy files)."""
    array = np.load(_result_file(sup, job))
    if job.kind == "umap":
        return {"embeddings": array.tolist()}
    summary = job.result or {}
    centers = sup.store.centers_path(job.id)
    return {
        "labels": array.tolist(),
        "n_clusters": summary.get("n_clusters"),
        "noise_points": summary.get("noise_points"),
        "centers": np.load(centers).tolist() if centers.exists() else None,
    }


async def status(request: Request) -> Response:
    sup = _sup(request)
    job = sup.get(request.path_params["job_id"])
    body = status_of(job)
    wanted = request.query_params.get("include_result", "true").lower() not in ("0", "false", "no")
    if wanted and job.status == Status.COMPLETED and not job.result_expired and body["result"]:
        try:
            body["result"].update(await asyncio.to_thread(_load_result, sup, job))
        except ResultGone:
            pass
    return JSON(body)


async def result(request: Request) -> Response:
    sup = _sup(request)
    job = sup.get(request.path_params["job_id"])
    fmt = request.query_params.get("format", "json").lower()
    if fmt not in ("json", "npy"):
        raise InvalidInput(f"format must be json or npy, found {fmt!r}", field="format")
    if fmt == "npy":
        data = await asyncio.to_thread(_result_file(sup, job).read_bytes)
        disposition = f'attachment; filename="{job.id}-{job.kind}.npy"'
        return Response(data, media_type="application/x-npy",
                        headers={"Content-Disposition": disposition})
    body = {"job_id": job.id, "kind": job.kind}
    body.update(await asyncio.to_thread(_load_result, sup, job))
    return JSON(body)


async def cancel(request: Request) -> Response:
    job = _sup(request).cancel(request.path_params["job_id"])
    message = "cancelled" if job.status == Status.CANCELLED else "cancel requested; the job stops at its next checkpoint"
    return JSON({"job_id": job.id, "status": job.status.value, "message": message})


async def pause(request: Request) -> Response:
    job, message = _sup(request).pause(request.path_params["job_id"])
    return JSON({"job_id": job.id, "status": job.status.value, "message": message})


async def resume(request: Request) -> Response:
    job, message = _sup(request).resume(request.path_params["job_id"])
    return JSON({"job_id": job.id, "status": job.status.value, "message": message})


async def jobs(request: Request) -> Response:
    include_all = request.query_params.get("include", "") == "all"
    listed = [status_of(j) for j in _sup(request).list_jobs(include_all)]
    return JSON({"jobs": listed, "count": len(listed)})


async def health(request: Request) -> Response:
    return JSON(_sup(request).health())


async def metrics(request: Request) -> Response:
    """Prometheus text exposition of this server's metrics."""
    from ..jobs.metrics import CONTENT_TYPE

    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
