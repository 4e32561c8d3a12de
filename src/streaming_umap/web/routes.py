"""REST handlers. Each one validates at the edge and hands over to the supervisor."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..auth import Principal
from ..errors import (
    InvalidInput,
    JobStateConflict,
    PayloadTooLarge,
    ResultGone,
    UnsupportedMediaType,
)
from ..jobs.kinds import kind_of
from ..jobs.models import Job, Status
from ..jobs.supervisor import MAX_PAGE, Supervisor
from ..jobs.views import status_of
from ..schemas import (
    ClusteringRequest,
    UMAPParams,
    decode_json,
    invalid_from_msgspec,
    params_from_query,
    params_to_dict,
)
from .auth import principal_of
from .ingest import (
    CSV_TYPES,
    JSON_TYPES,
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

DEFAULT_PAGE = 100
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


def flag(request: Request, name: str, default: bool) -> bool:
    """A boolean query parameter: true/false, 1/0 or yes/no; anything else is a 422."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw.lower() not in _TRUE + _FALSE:
        raise InvalidInput(f"{name} must be true or false, found {raw!r}", field=name)
    return raw.lower() in _TRUE


def result_format(request: Request) -> str:
    fmt = request.query_params.get("format", "json").lower()
    if fmt not in ("json", "npy"):
        raise InvalidInput(f"format must be json or npy, found {fmt!r}", field="format")
    return fmt


def by_method(**handlers: Any) -> Any:
    """One endpoint for a path that answers several methods, each by its own handler."""
    async def endpoint(request: Request) -> Response:
        handler = handlers.get(request.method) or handlers["GET"]  # HEAD: as GET, the body dropped
        return await handler(request)  # type: ignore[no-any-return]

    endpoint.__name__ = "_".join(h.__name__ for h in handlers.values())
    return endpoint


def _sup(request: Request) -> Supervisor:
    return request.app.state.supervisor  # type: ignore[no-any-return]


def upload_limit(request: Request, principal: Principal) -> int:
    """The body limit of this request: the server's, or the key's own if lower (413 here
    when a declared Content-Length is already over the key's)."""
    limit = request.app.state.settings.max_body_bytes
    own = principal.quota.max_upload_bytes
    if own is None or own >= limit:
        return int(limit)
    declared = declared_length(request)
    if declared is not None and declared > own:
        raise PayloadTooLarge(
            f"request body is {declared} bytes; API key {principal.name!r} may upload at most "
            f"{own} bytes at once (STREAMING_UMAP_KEY_MAX_UPLOAD_MB, or keys create --max-upload-mb)")
    return own


async def _parse(request: Request, kind: str) -> Submission:
    media = media_type(request)
    check_media_type(media)
    settings = request.app.state.settings
    limit = upload_limit(request, principal_of(request))
    query = dict(request.query_params)
    if media in NPY_TYPES and (declared_length(request) or 0) >= SPOOL_MIN_BYTES:
        params_from_query(kind, query)  # a bad parameter is refused before gigabytes arrive
        path = await spool_body(request, limit, _sup(request).store.spool_dir)
        _count(request, "npy", declared_length(request) or 0)
        try:
            sub = await asyncio.to_thread(parse_spooled_submission, kind, path, query, settings)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if sub.input_file is None:  # converted to float32 rows in memory: the file is done with
            path.unlink(missing_ok=True)
        return sub
    either = {k: query.pop(k) for k in EITHER_PLACE.get(kind, ()) if k in query}
    if media in NPY_TYPES + CSV_TYPES:
        query.update(either)
        either = {}
    elif query:  # a JSON body names its own parameters
        raise InvalidInput(f"with a JSON body the parameters go in the body, not the query string "
                           f"(found {', '.join(sorted(query))})", field=min(query))
    if either:
        params_from_query(kind, either)  # a bad value is refused before the body is read
    body = await read_body(request, limit)
    _count(request, "npy" if media in NPY_TYPES else media.split("/")[-1], len(body))
    sub = await asyncio.to_thread(parse_submission, kind, media, body, query, settings)
    if either:
        sub.params = _with_query(sub.params, either)
    return sub


# Parameters a JSON body may also take from the query string (POST /umap?init_from=...).
EITHER_PLACE: dict[str, tuple[str, ...]] = {"umap": ("keep_model", "init_from")}


def _with_query(params: Any, given: dict[str, str]) -> Any:
    """``params`` of a JSON body with ``given`` query parameters; one set differently in
    both places is a 422."""
    import msgspec

    from_query = params_from_query("umap", given)
    default = UMAPParams()
    changes: dict[str, Any] = {}
    for name in given:
        body_value, query_value = getattr(params, name), getattr(from_query, name)
        if body_value != getattr(default, name) and body_value != query_value:
            raise InvalidInput(f"{name} is given in both the body ({body_value!r}) and the query "
                               f"string ({query_value!r}); give it once", field=name)
        changes[name] = query_value
    try:
        return msgspec.structs.replace(params, **changes)
    except msgspec.ValidationError as exc:
        raise invalid_from_msgspec(exc) from None


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
        "model_id": result.get("model_id"),
        **kind_of(sub.kind).body(result),
    }
    return body


async def submit(request: Request, kind: str, extra: dict[str, Any] | None = None) -> Response:
    sub = await _parse(request, kind)
    try:
        return await submit_submission(request, sub, extra)
    finally:
        if sub.input_file is not None:  # not adopted by a job (immediate, refused, failed)
            sub.input_file.unlink(missing_ok=True)


def _check_models(request: Request, sub: Submission, params: dict[str, Any]) -> None:
    """What a model-using submission can be told before it is queued: the model exists
    (404), is not still being fitted (409), and fits the rows (422)."""
    settings = request.app.state.settings
    if (params.get("keep_model") or params.get("init_from") or sub.kind == "transform") and settings.artifacts:
        raise InvalidInput("kept models need the data folder shared with the workers; this server "
                           f"moves files through STREAMING_UMAP_ARTIFACTS ({settings.artifacts})",
                           field="keep_model" if sub.kind == "umap" else None)
    rows, dims = sub.data.shape
    if sub.kind == "transform":
        meta = _sup(request).model_record(params["model_id"], principal_of(request)).meta
        if dims != meta["dims"]:
            raise InvalidInput(f"model {params['model_id']} was fitted on rows of {meta['dims']} "
                               f"columns; these have {dims}", field="data")
        return
    model_id = params.get("init_from")
    if not model_id:
        return
    meta = _sup(request).model_record(model_id, principal_of(request), field="init_from").meta
    if dims != meta["dims"]:
        raise InvalidInput(f"init_from: model {model_id} was fitted on rows of {meta['dims']} "
                           f"columns; these have {dims}", field="data")
    if rows < meta["rows"]:
        raise InvalidInput(f"init_from: model {model_id} has {meta['rows']} training rows; the data "
                           f"must start with them and has only {rows} rows", field="data")
    if params.get("n_components") != meta["n_components"]:
        raise InvalidInput(f"init_from: model {model_id}'s layout has {meta['n_components']} "
                           f"components; this refit asks for {params.get('n_components')}",
                           field="n_components")


async def submit_submission(request: Request, sub: Submission,
                            extra: dict[str, Any] | None = None) -> Response:
    """Answer at once for small inputs; queue a job for the rest. ``extra``: parameters
    from the path (a transform's model_id)."""
    sup, kind = _sup(request), sub.kind
    params = {**params_to_dict(sub.params), **(extra or {})}
    _check_models(request, sub, params)
    principal = principal_of(request)
    if sub.data.shape[0] < request.app.state.settings.immediate_threshold:
        result = await sup.immediate(kind, params, sub.data, principal)
        return JSON(_immediate_body(sub, result))
    job = await sup.submit(kind, params, sub.data, "; ".join(sub.warnings) or None,
                           principal, input_file=sub.input_file)
    body: dict[str, Any] = {
        "job_id": job.id, "status": "started",
        "message": f"{kind} job queued ({job.total_points} x {job.dims})",
        "total_points": job.total_points, "estimated_chunks": job.total_chunks,
        "warning": job.warning, "status_url": f"/umap/streaming/status/{job.id}",
        "ws_url": f"/umap/streaming/ws/{job.id}",
        "model_id": job.id if params.get("keep_model") else None,
    }
    return JSON(body, status_code=202, headers={"Location": body["status_url"]})


async def submit_umap(request: Request) -> Response:
    return await submit(request, "umap")


async def submit_cluster(request: Request) -> Response:
    return await submit(request, "cluster")


async def submit_transform(request: Request) -> Response:
    """Place new rows into a kept model's layout."""
    model_id = request.path_params["model_id"]
    _sup(request).model_record(model_id, principal_of(request))  # 404/409 before the body arrives
    return await submit(request, "transform", {"model_id": model_id})


async def models(request: Request) -> Response:
    _, limit, after = _page_query(request)
    sup = _sup(request)
    page, total, cursor = sup.list_models(principal_of(request), limit=limit, after=after)
    listed = [sup.model_info(r) for r in page]
    return JSON({"models": listed, "count": len(listed), "total": total, "next_after": cursor})


async def model(request: Request) -> Response:
    sup = _sup(request)
    return JSON(sup.model_info(sup.model_record(request.path_params["model_id"], principal_of(request))))


async def delete_model(request: Request) -> Response:
    model_id = request.path_params["model_id"]
    await _sup(request).delete_model(model_id, principal_of(request))
    return JSON({"model_id": model_id, "message": f"model {model_id} and its files were removed"})


CLUSTERING_BODY_BYTES = 4096  # {"job_id": "..."}


async def attach_clustering(request: Request) -> Response:
    """Attach a completed cluster job of the model's layout or training rows."""
    if media_type(request) not in JSON_TYPES:
        raise UnsupportedMediaType(f"send the body as application/json, found {media_type(request)!r}")
    body = await read_body(request, CLUSTERING_BODY_BYTES)
    wanted = decode_json(body, ClusteringRequest)
    sup = _sup(request)
    record = await sup.attach_clustering(request.path_params["model_id"], wanted.job_id, principal_of(request))
    return JSON(sup.model_info(record))


async def detach_clustering(request: Request) -> Response:
    sup = _sup(request)
    record = await sup.detach_clustering(request.path_params["model_id"], principal_of(request))
    return JSON(sup.model_info(record))


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
    return kind_of(job.kind).load(_result_file(sup, job).parent, job.result or {})


def _job(request: Request) -> Job:
    """The job of the path, if the caller may see it (404 otherwise)."""
    return _sup(request).get(request.path_params["job_id"], principal_of(request))


async def status(request: Request) -> Response:
    sup = _sup(request)
    wanted = flag(request, "include_result", True)
    job = _job(request)
    body = status_of(job)
    if wanted and job.status == Status.COMPLETED and not job.result_expired and body["result"]:
        try:
            body["result"].update(await asyncio.to_thread(_load_result, sup, job))
        except ResultGone:
            pass
    return JSON(body)


async def result(request: Request) -> Response:
    sup = _sup(request)
    fmt = result_format(request)
    job = _job(request)
    if fmt == "npy":
        data = await asyncio.to_thread(_result_file(sup, job).read_bytes)
        disposition = f'attachment; filename="{job.id}-{job.kind}.npy"'
        return Response(data, media_type="application/x-npy",
                        headers={"Content-Disposition": disposition})
    body = {"job_id": job.id, "kind": job.kind}
    body.update(await asyncio.to_thread(_load_result, sup, job))
    return JSON(body)


async def cancel(request: Request) -> Response:
    job = _sup(request).cancel(request.path_params["job_id"], principal_of(request))
    message = "cancelled" if job.status == Status.CANCELLED else "cancel requested; the job stops at its next checkpoint"
    return JSON({"job_id": job.id, "status": job.status.value, "message": message})


async def pause(request: Request) -> Response:
    job, message = _sup(request).pause(request.path_params["job_id"], principal_of(request))
    return JSON({"job_id": job.id, "status": job.status.value, "message": message})


async def resume(request: Request) -> Response:
    job, message = _sup(request).resume(request.path_params["job_id"], principal_of(request))
    return JSON({"job_id": job.id, "status": job.status.value, "message": message})


def _page_query(request: Request) -> tuple[bool, int, str | None]:
    """``include`` (only ``all``), ``limit`` (1..1000, default 100) and ``after``."""
    query = request.query_params
    include = query.get("include")
    if include not in (None, "all"):
        raise InvalidInput(f"include must be 'all' (or left out), found {include!r}", field="include")
    raw = query.get("limit", str(DEFAULT_PAGE))
    after = query.get("after")
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE):
        raise InvalidInput(f"limit must be an integer in 1..{MAX_PAGE}, found {raw!r}", field="limit")
    return include == "all", int(raw), after


async def jobs(request: Request) -> Response:
    include_all, limit, after = _page_query(request)
    page, total, cursor = _sup(request).list_jobs(principal_of(request), include_all,
                                                  limit=limit, after=after)
    listed = [status_of(j) for j in page]
    return JSON({"jobs": listed, "count": len(listed), "total": total, "next_after": cursor})


async def health(request: Request) -> Response:
    principal = principal_of(request)
    settings = request.app.state.settings
    auth = "required" if settings.auth_required else "off"
    if not principal.authenticated:  # keys are required and none was sent: the status only
        return JSON({"status": _sup(request).health(principal)["status"], "auth": auth})
    body = _sup(request).health(principal)
    body.update(auth=auth, warning=settings.auth_warning)
    return JSON(body)


async def metrics(request: Request) -> Response:
    """Prometheus text exposition of this server's metrics."""
    from ..jobs.metrics import CONTENT_TYPE

    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
