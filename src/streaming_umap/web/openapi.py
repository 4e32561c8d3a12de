"""``/openapi.json``, built from the msgspec types that validate requests, and
``/docs``, Swagger UI 5 (which reads OpenAPI 3.1) served from files shipped in this
package (``static/docs``, copied from the swagger-ui-dist npm package by
``web/scripts/docs-assets.mjs``): no CDN, so the page works offline."""

from __future__ import annotations

import inspect
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from .. import __version__
from ..schemas import (
    AckFrame,
    ClientAction,
    ClusteringRequest,
    ClusterParams,
    ClusterRequest,
    ControlResponse,
    DemoDataSet,
    ErrorBody,
    ErrorFrame,
    Frame,
    Health,
    HealthStatus,
    JobList,
    JobStatus,
    LayoutHeaderFrame,
    ModelClustering,
    ModelDeleted,
    ModelInfo,
    ModelList,
    ResultBody,
    SubmitResponse,
    TransformParams,
    TransformRequest,
    UMAPParams,
    UMAPRequest,
)
from .responses import JSON

_TYPES = (UMAPRequest, ClusterRequest, UMAPParams, ClusterParams, SubmitResponse, JobStatus,
          JobList, ControlResponse, ResultBody, Health, HealthStatus, ErrorBody, Frame, AckFrame,
          ErrorFrame, LayoutHeaderFrame, ClientAction, DemoDataSet, TransformRequest, TransformParams,
          ModelInfo, ModelList, ModelDeleted, ModelClustering, ClusteringRequest)
# Every /umap/streaming operation: a key where the server requires them ({}: or none, where
# it does not); /health is open either way.
KEYED: list[dict[str, list[str]]] = [{"bearerAuth": []}, {}]
SECURITY_SCHEMES = {"bearerAuth": {
    "type": "http", "scheme": "bearer",
    "description": "An API key (sumap_<id>_<secret>, from `streaming-umap keys create NAME`) "
                   "as Authorization: Bearer <key>. Required when the server listens beyond "
                   "loopback (or STREAMING_UMAP_AUTH=required). On the WebSocket, browsers send "
                   "it as a Sec-WebSocket-Protocol entry streaming-umap.bearer.<key> next to "
                   "streaming-umap.v1 (close code 4401 when it is missing or not valid)."}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*codes: int, not_found: str = "unknown job",
            conflict: str = "the job is in the wrong state") -> dict[str, Any]:
    text = {400: "malformed body", 404: not_found, 409: conflict,
            401: "no API key, or not a valid one, where the server requires keys "
                 "(WWW-Authenticate: Bearer)",
            403: "a cross-site request: a foreign Origin",
            410: "the result expired", 413: "body or rows x dims over the limit (the server's "
                 "or the API key's)",
            415: "unsupported Content-Type (text/plain and form types on any state change)",
            422: "invalid field or value",
            429: "queue full, or the API key's jobs or stored bytes at its quota (see Retry-After)",
            503: "no worker could answer in time",
            507: "the server's disk is full (nothing was kept)"}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": _ref("ErrorBody")}}}
            for c in sorted({*codes, 401})}


def _ok(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _job_param() -> dict[str, Any]:
    return {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _query_params(params_type: type) -> list[dict[str, Any]]:
    _, components = msgspec.json.schema_components([params_type])
    props = components[params_type.__name__]["properties"]
    return [_query_param(name, prop) for name, prop in props.items()]


def _query_param(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    """A parameter of a .npy or CSV body. Its default is said in words, not as the schema's
    ``default``: Swagger UI fills a default into "Try it out" and sends it, which puts a query
    string next to the JSON example (a 422); the body's schema keeps its defaults."""
    schema = {key: value for key, value in prop.items() if key != "default"}
    out: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
    if "default" in prop:
        out["description"] = f"Default: {json.dumps(prop['default'])}."
    return out


# What "Try it out" on /docs sends unless edited: the README's debug calls, answered at once.
UMAP_EXAMPLE = {"data": [[0.1, 0.2], [0.3, 0.4]], "n_components": 2}
CLUSTER_EXAMPLE = {"data": [[0.1, 0.2], [0.3, 0.4], [5.0, 5.1], [5.2, 4.9]], "algorithm": "kmeans",
                   "n_clusters": 2}


TRANSFORM_EXAMPLE = {"data": [[0.1, 0.2], [0.3, 0.4]]}
SUBMIT_TEXT = ("Fewer rows than the immediate threshold are answered at once (200, job_id "
               "'immediate'); larger inputs start a background job (202). A .npy "
               "(application/x-npy) or CSV body takes the parameters from the query string; a "
               "JSON body takes them in the body, and a query string next to it is refused (422)")
UMAP_TEXT = (SUBMIT_TEXT + ", except keep_model and init_from, which may be given in either place. "
             "keep_model=true keeps the fitted layout as a model: the answer's model_id (of a job: "
             "once it has completed) is what /umap/streaming/transform/{model_id} places new rows "
             "into. init_from=MODEL_ID refits on data whose first rows are that model's training rows.")
TRANSFORM_TEXT = (SUBMIT_TEXT + ". The rows must have the model's number of columns. The answer, "
                  "or the completed job's result (kind transform), holds their positions in the "
                  "model's layout; when a clustering is attached to the model, also their labels "
                  "(-1 = noise) and n_clusters.")
ATTACH_TEXT = ("Attach a completed cluster job of the model's layout (rows x n_components, e.g. "
               "its result embedding clustered) or of its training rows (rows x dims): its labels "
               "are copied beside the model, and transforms into the model then label the rows "
               "they place (kmeans: the nearest centre; dbscan, hdbscan: the label of the nearest "
               "clustered training point, -1 past eps or the cluster's radius). Replaces a "
               "clustering attached before.")


def _model_param() -> dict[str, Any]:
    return {"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _submit(request: str, params: type, summary: str, example: dict[str, Any],
            description: str = SUBMIT_TEXT + ".", path: list[dict[str, Any]] | None = None,
            codes: tuple[int, ...] = (), **errors: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "description": description,
            "parameters": [*(path or []), *_query_params(params)],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref(request), "example": example},
                "application/x-npy": {"schema": {"type": "string", "format": "binary"}},
                # any text: whether it is numbers in rows is ingest's to say (422, with the row)
                "text/csv": {"schema": {"description": "rows of comma-separated numbers, one "
                                                       "optional header line"}},
            }},
            "responses": {"200": _ok("SubmitResponse", "computed immediately"),
                          "202": _ok("SubmitResponse", "job started"),
                          **_errors(400, 403, 413, 415, 422, 429, 503, 507, *codes, **errors)},
            "security": KEYED,
        }
    }


def _model_paths(limit: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    unknown = {"not_found": "unknown model"}
    return {
        "/umap/streaming/transform/{model_id}": _submit(
            "TransformRequest", TransformParams, "Place new rows into a kept model's layout",
            TRANSFORM_EXAMPLE, TRANSFORM_TEXT, [_model_param()], (404, 409),
            not_found="unknown model", conflict="the model is still being fitted"),
        "/umap/streaming/models": {"get": {
            "summary": "The caller's kept models, a page at a time (oldest first)",
            "parameters": [{**limit, "description": "models per page (default 100)"}, after],
            "security": KEYED, "responses": {"200": _ok("ModelList"), **_errors(422)}}},
        "/umap/streaming/models/{model_id}": {
            "get": {"summary": "One kept model", "parameters": [_model_param()], "security": KEYED,
                    "responses": {"200": _ok("ModelInfo"), **_errors(404, **unknown)}},
            "delete": {"summary": "Remove a kept model and its files", "parameters": [_model_param()],
                       "security": KEYED,
                       "responses": {"200": _ok("ModelDeleted"),
                                     **_errors(403, 404, 415, 507, **unknown)}}},
        "/umap/streaming/models/{model_id}/clustering": _clustering_ops(),
    }


def _clustering_ops() -> dict[str, Any]:
    example = {"job_id": "3f2c0d9e6b1a4c8f9e7d5b3a1c0e2f4d"}
    return {
        "post": {"summary": "Attach a clustering to a kept model: transforms into it then label "
                            "the rows they place", "description": ATTACH_TEXT,
                 "parameters": [_model_param()], "security": KEYED,
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": _ref("ClusteringRequest"), "example": example}}},
                 "responses": {"200": _ok("ModelInfo"), **_errors(
                     400, 403, 404, 409, 410, 415, 422, 507, not_found="unknown model or job",
                     conflict="the cluster job has not completed")}},
        "delete": {"summary": "Remove the clustering attached to a kept model",
                   "parameters": [_model_param()], "security": KEYED,
                   "responses": {"200": _ok("ModelInfo"),
                                 **_errors(403, 404, 415, 507, not_found="unknown model")}},
    }


def _job_op(method: str, summary: str, schema: str, *codes: int, query: list[Any] | None = None) -> dict[str, Any]:
    """A job's operation; a state change may also meet the cross-site refusals (403, 415)
    and a full disk (507)."""
    if method != "get":
        codes = (*codes, 403, 415, 507)
    return {method: {"summary": summary, "parameters": [_job_param(), *(query or [])],
                     "responses": {"200": _ok(schema), **_errors(*codes)}, "security": KEYED}}


def _with_npy(operation: dict[str, Any]) -> dict[str, Any]:
    """The 200 of ``format=npy``: float32 rows or int32 labels as ``.npy``."""
    content = operation["get"]["responses"]["200"]["content"]
    content["application/x-npy"] = {"schema": {"type": "string", "format": "binary"}}
    return operation


def _demo_paths() -> dict[str, Any]:
    name = {"name": "name", "in": "path", "required": True,
            "schema": {"type": "string", "enum": ["digits", "mixture"]}}
    sizes = [{"name": n, "in": "query", "required": False, "description": f"mixture only: {n}",
              "schema": {"type": "integer", "minimum": 2, "maximum": high}}
             for n, high in (("rows", 1_000_000), ("dims", 1024))]
    npy = {"description": "float32 rows (or int32 labels) as .npy",
           "content": {"application/x-npy": {"schema": {"type": "string", "format": "binary"}}}}
    return {
        "/umap/streaming/demo": {"get": {
            "summary": "The built-in demo data sets", "security": KEYED,
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"datasets": {"type": "array", "items": _ref("DemoDataSet")}},
                "required": ["datasets"]}}}}, **_errors()}}},
        "/umap/streaming/demo/{name}/data": {"get": {
            "summary": "A demo data set's rows (streamed as it is made)", "parameters": [name, *sizes],
            "security": KEYED,
            "responses": {"200": npy, **_errors(404, 413, 422, not_found="unknown data set")}}},
        "/umap/streaming/demo/{name}/labels": {"get": {
            "summary": "A demo data set's true labels: JSON {\"labels\": [...]}, or .npy int32 with format=npy",
            "parameters": [name, *sizes, {"name": "format", "in": "query", "required": False,
                                          "schema": {"type": "string", "enum": ["json", "npy"]}}],
            "responses": {"200": {"description": "the labels", "content": {
                "application/json": {"schema": {"type": "object", "required": ["labels"], "properties": {
                    "labels": {"type": "array", "items": {"type": "integer"}}}}},
                "application/x-npy": {"schema": {"type": "string", "format": "binary"}}}},
                **_errors(404, 422, not_found="unknown data set")}, "security": KEYED}},
        "/umap/streaming/demo/{name}/{kind}": {"post": {
            "summary": "Start a job on a demo data set",
            "description": "The job's parameters go in the query string, as for a .npy upload "
                           "to /umap/streaming/umap or /umap/streaming/cluster.",
            "parameters": [name, {"name": "kind", "in": "path", "required": True,
                                  "schema": {"type": "string", "enum": ["umap", "cluster"]}}, *sizes],
            "security": KEYED,
            "responses": {"200": _ok("SubmitResponse", "computed immediately"),
                          "202": _ok("SubmitResponse", "job started"),
                          **_errors(403, 404, 413, 415, 422, 429, 503, 507,
                                    not_found="unknown data set or job kind")}}},
    }


def normalise_text(node: Any) -> Any:
    """``node`` with every ``description`` cleaned as :func:`inspect.cleandoc` does.

    Struct docstrings reach the schema through msgspec, whose dedent changed between
    releases (0.22 kept the indentation of continuation lines, 0.23 strips it). The
    document, and the TypeScript types generated from it, must be the same for the same
    code whatever msgspec is installed, so the text is normalised here, once."""
    if isinstance(node, dict):
        return {key: inspect.cleandoc(value) if key == "description" and isinstance(value, str)
                else normalise_text(value) for key, value in node.items()}
    if isinstance(node, list):
        return [normalise_text(item) for item in node]
    return node


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(_TYPES, ref_template="#/components/schemas/{name}")
    fmt = {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "npy"]}}
    include_result = {"name": "include_result", "in": "query", "schema": {"type": "boolean", "default": True}}
    include = {"name": "include", "in": "query", "schema": {"type": "string", "enum": ["all"]}}
    limit = {"name": "limit", "in": "query", "description": "jobs per page (default 100)",
             "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}
    after = {"name": "after", "in": "query", "description": "the next_after of the previous page",
             "schema": {"type": "string", "minLength": 1}}
    paths = {
        "/umap/streaming/umap": _submit("UMAPRequest", UMAPParams, "Start a UMAP layout", UMAP_EXAMPLE,
                                        UMAP_TEXT, codes=(404, 409), not_found="init_from: unknown model",
                                        conflict="init_from: the model is still being fitted"),
        "/umap/streaming/cluster": _submit("ClusterRequest", ClusterParams, "Start a clustering", CLUSTER_EXAMPLE),
        "/umap/streaming/status/{job_id}": _job_op("get", "A job's status and progress", "JobStatus", 404, 422, query=[include_result]),
        "/umap/streaming/result/{job_id}": _with_npy(_job_op("get", "A completed job's result (JSON or .npy)", "ResultBody", 404, 409, 410, 422, query=[fmt])),
        "/umap/streaming/cancel/{job_id}": _job_op("delete", "Cancel a job", "ControlResponse", 404, 409),
        "/umap/streaming/pause/{job_id}": _job_op("post", "Pause a job at its next checkpoint", "ControlResponse", 404, 409),
        "/umap/streaming/resume/{job_id}": _job_op("post", "Resume a paused job", "ControlResponse", 404, 409),
        "/umap/streaming/jobs": {"get": {
            "summary": "The caller's active jobs (include=all adds finished ones), a page at a time",
            "parameters": [include, limit, after], "security": KEYED,
            "responses": {"200": _ok("JobList"), **_errors(422)}}},
        "/health": {"get": {
            "summary": "Service health, backend and workers (the status alone for a caller "
                       "without a key where keys are required)",
            "security": [{}, {"bearerAuth": []}],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                "anyOf": [_ref("Health"), _ref("HealthStatus")]}}}},
                **_errors()}}},
        "/metrics": {"get": {"summary": "Prometheus metrics: jobs by kind, backend and status, queue "
                                        "depth, job and stage durations, workers by state, bytes ingested",
                             "security": KEYED,
                             "responses": {"200": {"description": "Prometheus text format",
                                                   "content": {"text/plain": {"schema": {"type": "string"}}}},
                                           **_errors()}}},
        **_model_paths(limit, after),
        **_demo_paths(),
    }
    document: dict[str, Any] = normalise_text({
        "openapi": "3.1.0",
        "info": {"title": "streaming-umap", "version": __version__,
                 "description": "UMAP layouts and clustering as background jobs. The WebSocket "
                                "/umap/streaming/ws/{job_id} (add ?live=1&live_every=N for live "
                                "layouts) sends Frame objects (type ack: AckFrame; error: "
                                "ErrorFrame; layout: LayoutHeaderFrame, then one binary frame) "
                                "and takes ClientAction messages; see docs/API.md. Close codes: "
                                "1000 after the terminal frame, 1008 a subscriber too slow, "
                                "1013 too many sockets, 4401 no valid API key, 4404 no such job "
                                "(or another key's)."},
        "paths": paths,
        "components": {"schemas": _data_rules(components), "securitySchemes": SECURITY_SCHEMES},
    })
    return document


def _data_rules(components: dict[str, Any]) -> dict[str, Any]:
    """What the server checks of ``data`` that the decoding types leave to ingest (which
    names the row in its message): at least one row, every row non-empty."""
    for name in ("UMAPRequest", "ClusterRequest", "TransformRequest"):
        data = components[name]["properties"]["data"]
        data["minItems"] = 1
        data["items"]["minItems"] = 1
    return components


async def openapi_json(request: Request) -> Response:
    return JSON(openapi_document())


DOCS_ASSETS = Path(__file__).parent / "static" / "docs"

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>streaming-umap API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>"""

# validatorUrl null: Swagger UI would otherwise send the document to an online validator.
DOCS_INIT = """window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#swagger-ui',
  presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout', deepLinking: true,
  validatorUrl: null, displayRequestDuration: true});"""


async def docs(request: Request) -> Response:
    return HTMLResponse(DOCS_PAGE)


async def docs_init(request: Request) -> Response:
    return Response(DOCS_INIT, media_type="application/javascript")


def docs_assets() -> StaticFiles:
    return StaticFiles(directory=DOCS_ASSETS)
