"""The synchronous client: :class:`Client` and the :class:`JobHandle` it returns."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Literal, Self, Unpack, overload

import httpx
import numpy as np

from .errors import (
    ConnectionError,
    InvalidInput,
    JobCancelled,
    JobFailed,
    NotFound,
    StreamingUMAPClientError,
    Unauthorized,
    WaitTimeout,
    check,
    naming_model,
)
from .models import (
    ClusterOptions,
    ClusterResult,
    ControlReply,
    Frame,
    JobStatus,
    LayoutOptions,
    ModelDeleted,
    ModelInfo,
    PlacedResult,
    UMAPOptions,
    UMAPResult,
)
from .progress import ProgressBar
from .wire import (
    API,
    EMBEDDING_KINDS,
    Follower,
    HandleState,
    ResultValue,
    cluster_from_json,
    cluster_result,
    kept,
    load_npy,
    model_id,
    placed_from_json,
    submitted,
    upload,
    ws_base,
)

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8003"
ENV_API_KEY = "STREAMING_UMAP_API_KEY"
CLOSE_UNAUTHORIZED, CLOSE_UNKNOWN_JOB = 4401, 4404
Transport = Literal["auto", "poll"]
RECV_SLICE = 0.5  # seconds; a blocked receive wakes this often (Ctrl-C, deadlines)
POLL_RETRIES = 3


class SocketLost(Exception):
    """The WebSocket could not open or closed before the job ended: poll instead."""


def remaining(deadline: float | None, job_id: str) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise WaitTimeout(f"job {job_id} did not end in time; it is still running on the server")
    return left


def page_query(after: str | None, **extra: str) -> dict[str, str]:
    """One page of a listing: as many as the server sends at once (1000), after ``after``."""
    query = {"limit": "1000", **extra}
    if after:
        query["after"] = after
    return query


def jobs_query(include_all: bool, after: str | None) -> dict[str, str]:
    return page_query(after, include="all") if include_all else page_query(after)


def keep(keep_model: bool) -> dict[str, bool]:
    """``keep_model`` for the query, sent only when asked for (an older server refuses it)."""
    return {"keep_model": True} if keep_model else {}


def socket_refusal(code: int | None, error: str | None, job_id: str, url: str) -> Exception | None:
    """The exception a refusing close code stands for (polling would be refused too)."""
    if code == CLOSE_UNKNOWN_JOB:
        return NotFound(404, error or f"no job with id {job_id!r}", method="GET", url=url)
    if code == CLOSE_UNAUTHORIZED:
        return Unauthorized(401, error or "the server requires an API key", method="GET", url=url)
    return None


def model_path(model: str) -> str:
    return f"{API}/models/{model_id(model)}"


def clustering_path(model: str) -> str:
    return f"{model_path(model)}/clustering"


def attach_body(job_id: str) -> dict[str, str]:
    if not isinstance(job_id, str) or not job_id:
        raise InvalidInput(f"job_id must be the id of a completed cluster job; found {job_id!r}",
                           field="job_id")
    return {"job_id": job_id}


def raise_for_end(frame: Frame) -> Frame:
    if frame.status == "failed":
        raise JobFailed(frame.job_id, frame.error, frame)
    if frame.status == "cancelled":
        raise JobCancelled(frame.job_id, frame)
    return frame


class ClientSettings:
    """Where the service is and how to follow jobs: what Client and AsyncClient share."""

    def __init__(self, url: str = DEFAULT_URL, *, api_key: str | None = None,
                 timeout: float = 300.0, transport: Transport = "auto", poll_interval: float = 0.5,
                 ws_url: str | None = None, headers: dict[str, str] | None = None) -> None:
        if transport not in ("auto", "poll"):
            raise ValueError(f"transport must be 'auto' or 'poll', found {transport!r}")
        key = api_key if api_key is not None else os.environ.get(ENV_API_KEY, "").strip()
        headers = dict(headers or {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.auth_headers = {k: v for k, v in headers.items() if k.lower() == "authorization"}
        self.url = url.rstrip("/")
        self.ws_url = (ws_url or ws_base(self.url)).rstrip("/")
        self.transport: Transport = transport
        self.poll_interval = poll_interval
        self.open_timeout = min(10.0, timeout)
        self._open_http(base_url=self.url, headers=headers,
                        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)))

    def _open_http(self, **options: Any) -> None:
        raise NotImplementedError


class Client(ClientSettings):
    """A connection to one streaming-umap service.

    ``api_key`` (default: ``$STREAMING_UMAP_API_KEY``) goes with every request as
    ``Authorization: Bearer``, on the WebSocket handshake too. ``transport="poll"`` never opens a WebSocket; ``"auto"`` (default) follows jobs over
    the socket and falls back to polling ``/status`` every ``poll_interval`` seconds when
    it cannot open or drops. ``ws_url`` overrides the socket's base (``ws://host:port``).
    ``timeout`` bounds each HTTP request (uploads and immediate answers included).
    """

    def _open_http(self, **options: Any) -> None:
        self._http = httpx.Client(**options)

    def __repr__(self) -> str:
        return f"Client({self.url!r}, transport={self.transport!r})"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One HTTP request; error answers raise their typed exception."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ConnectionError(self.url, exc) from exc
        return check(response)

    # ---------------------------------------------------------------- service

    def health(self) -> dict[str, Any]:
        return self.request("GET", "/health").json()  # type: ignore[no-any-return]

    def jobs(self, include_all: bool = False) -> list[JobStatus]:
        """Active jobs, oldest first; ``include_all`` adds finished ones still stored."""
        out: list[JobStatus] = []
        after: str | None = None
        while True:  # page by page (the server sends at most 1000 at a time)
            body = self.request("GET", f"{API}/jobs", params=jobs_query(include_all, after)).json()
            out += [JobStatus.from_dict(job) for job in body["jobs"]]
            after = body.get("next_after")
            if not after:
                return out

    def job(self, job_id: str) -> JobHandle:
        """A handle on an existing job (nothing is checked until it is used)."""
        return JobHandle(self, job_id)

    # ---------------------------------------------------------------- models

    def models(self) -> list[ModelInfo]:
        """The kept models (those of this API key, where the server requires keys), oldest first."""
        out: list[ModelInfo] = []
        after: str | None = None
        while True:
            body = self.request("GET", f"{API}/models", params=page_query(after)).json()
            out += [ModelInfo.from_dict(model) for model in body["models"]]
            after = body.get("next_after")
            if not after:
                return out

    def model(self, model_id: str) -> ModelInfo:
        """One kept model; :class:`NotFound` if there is none with this id."""
        with naming_model(model_id):
            return ModelInfo.from_dict(self.request("GET", model_path(model_id)).json())

    def delete_model(self, model_id: str) -> ModelDeleted:
        """Remove a kept model and its files; :class:`NotFound` if there is none (any more)."""
        with naming_model(model_id):
            body = self.request("DELETE", model_path(model_id)).json()
        return ModelDeleted(str(body["model_id"]), str(body.get("message", "")))

    def attach_clustering(self, model_id: str, job_id: str) -> ModelInfo:
        """Attach the completed cluster job ``job_id`` (of the model's layout, or of its
        training rows) to the model: ``transform_labelled`` then labels the rows it places.
        Replaces a clustering attached before; the answer's ``clustering`` describes it."""
        body = self.request("POST", clustering_path(model_id), json=attach_body(job_id)).json()
        return ModelInfo.from_dict(body)

    def detach_clustering(self, model_id: str) -> ModelInfo:
        """Remove the model's clustering: later transforms carry no labels."""
        with naming_model(model_id):
            return ModelInfo.from_dict(self.request("DELETE", clustering_path(model_id)).json())

    # ---------------------------------------------------------------- work

    def _submit(self, kind: str, data: Any, options: dict[str, Any],
                model: str | None = None) -> JobHandle:
        up = upload(kind, data, options, model)
        with naming_model(model or options.get("init_from")):
            body = self.request("POST", up.path, params=up.params, headers=up.headers,
                                content=up.chunks).json()
        return JobHandle(self, str(body["job_id"]), submitted(kind, up.params, body))

    def submit_umap(self, data: Any, **options: Unpack[UMAPOptions]) -> JobHandle:
        """Upload ``data`` (rows x columns) as ``.npy`` and start a UMAP job.

        ``keep_model=True`` keeps the fitted layout on the server as a model, whose id is
        ``handle.model_id`` (usable once the job has completed)."""
        return self._submit("umap", data, dict(options))

    def submit_transform(self, model_id: str, data: Any, chunk_size: int | None = None) -> JobHandle:
        """Upload ``data`` (rows x the model's columns) and start placing it into the
        layout of the kept model ``model_id`` (``chunk_size`` rows per step)."""
        return self._submit("transform", data, {"chunk_size": chunk_size}, model_id)

    def submit_cluster(self, data: Any, **options: Unpack[ClusterOptions]) -> JobHandle:
        """Upload ``data`` (rows x columns) as ``.npy`` and start a clustering job."""
        return self._submit("cluster", data, dict(options))

    @overload
    def umap(self, data: Any, *, keep_model: Literal[False] = False, progress: bool = True,
             timeout: float | None = None, **options: Unpack[LayoutOptions]) -> np.ndarray: ...

    @overload
    def umap(self, data: Any, *, keep_model: Literal[True], progress: bool = True,
             timeout: float | None = None, **options: Unpack[LayoutOptions]) -> UMAPResult: ...

    @overload
    def umap(self, data: Any, *, keep_model: bool, progress: bool = True,
             timeout: float | None = None,
             **options: Unpack[LayoutOptions]) -> np.ndarray | UMAPResult: ...

    def umap(self, data: Any, *, keep_model: bool = False, progress: bool = True,
             timeout: float | None = None,
             **options: Unpack[LayoutOptions]) -> np.ndarray | UMAPResult:
        """The UMAP embedding of ``data`` (float32, rows x ``n_components``); with
        ``keep_model=True``, a :class:`UMAPResult`: that embedding and the kept model's id."""
        with self.submit_umap(data, **keep(keep_model), **options) as job:
            out = job.result(progress=progress, timeout=timeout)
        assert isinstance(out, np.ndarray)
        return kept(job, out) if keep_model else out

    def transform(self, model_id: str, data: Any, *, progress: bool = True,
                  timeout: float | None = None, chunk_size: int | None = None) -> np.ndarray:
        """``data`` placed into the layout of the kept model ``model_id`` (float32, rows x
        the model's ``n_components``); the model's layout itself does not change."""
        with self.submit_transform(model_id, data, chunk_size) as job:
            out = job.result(progress=progress, timeout=timeout)
        assert isinstance(out, np.ndarray)
        return out

    def transform_labelled(self, model_id: str, data: Any, *, progress: bool = True,
                           timeout: float | None = None, chunk_size: int | None = None) -> PlacedResult:
        """:meth:`transform`, with the placed rows' cluster labels (int32, -1 = noise) where
        the model has a clustering attached (:meth:`attach_clustering`; else ``labels`` is None)."""
        with self.submit_transform(model_id, data, chunk_size) as job:
            return job.placed(progress=progress, timeout=timeout)

    def cluster(self, data: Any, *, progress: bool = True, timeout: float | None = None,
                **options: Unpack[ClusterOptions]) -> ClusterResult:
        """Cluster labels of ``data`` (``algorithm`` = dbscan, kmeans or hdbscan)."""
        with self.submit_cluster(data, **options) as job:
            out = job.result(progress=progress, timeout=timeout)
        assert isinstance(out, ClusterResult)
        return out

    # ---------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class JobHandle(HandleState[Client]):
    """One job on the server (or an immediate answer, ``job_id == "immediate"``).

    Used as a context manager, a block left by an exception (Ctrl-C included) cancels
    the job if it has not ended.
    """

    # ---------------------------------------------------------------- state

    def status(self) -> JobStatus:
        if self.immediate:
            assert self.last is not None
            return self.last
        return self._status_from(self.client.request("GET", f"{API}/status/{self.job_id}",
                                                     params={"include_result": "false"}).json())

    def _control(self, method: str, action: str) -> ControlReply:
        self._check_is_job()
        return self._reply(self.client.request(method, f"{API}/{action}/{self.job_id}").json())

    def cancel(self) -> ControlReply:
        return self._control("DELETE", "cancel")

    def pause(self) -> ControlReply:
        return self._control("POST", "pause")

    def resume(self) -> ControlReply:
        return self._control("POST", "resume")

    # ---------------------------------------------------------------- following

    def frames(self, timeout: float | None = None) -> Iterator[Frame]:
        """Progress frames until (and including) the terminal one.

        Over the WebSocket when it can (``frame.source == "websocket"``), else by polling.
        Raises :class:`WaitTimeout` after ``timeout`` seconds without an end.
        """
        if self.immediate:
            assert self.last is not None
            yield self.last
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        follower = Follower(self.job_id)
        if self.client.transport == "auto":
            try:
                for frame in self._socket_frames(follower, deadline):
                    self._seen(frame)
                    yield frame
            except SocketLost as exc:
                log.info("job %s: %s; following by polling instead", self.job_id, exc)
            if follower.done:
                return
        for frame in self._poll_frames(follower, deadline):
            self._seen(frame)
            yield frame

    def _socket_frames(self, follower: Follower, deadline: float | None) -> Iterator[Frame]:
        from websockets.exceptions import ConnectionClosed, WebSocketException
        from websockets.sync.client import connect

        url = f"{self.client.ws_url}{API}/ws/{self.job_id}"
        try:
            socket = connect(url, open_timeout=self.client.open_timeout, max_size=1 << 26,
                             additional_headers=self.client.auth_headers)
        except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
            raise SocketLost(f"cannot open {url} ({type(exc).__name__}: {exc})") from exc
        with socket:
            while not follower.done:
                left = remaining(deadline, self.job_id)
                try:
                    message = socket.recv(timeout=RECV_SLICE if left is None else min(RECV_SLICE, left))
                except TimeoutError:
                    continue
                except ConnectionClosed as exc:
                    code = exc.rcvd.code if exc.rcvd else None
                    refused = socket_refusal(code, follower.socket_error, self.job_id, url)
                    if refused is not None:
                        raise refused from None
                    raise SocketLost(f"the WebSocket closed (code {code}) before the job ended") from exc
                if isinstance(message, str):
                    frame = follower.from_socket(json.loads(message))
                    if frame is not None:
                        yield frame

    def _poll_frames(self, follower: Follower, deadline: float | None) -> Iterator[Frame]:
        failures = 0
        while not follower.done:
            remaining(deadline, self.job_id)
            try:
                status = self.status()
                failures = 0
            except ConnectionError:
                failures += 1
                if failures > POLL_RETRIES:
                    raise
                time.sleep(self.client.poll_interval * 2 ** failures)
                continue
            frame = follower.from_poll(status)
            if frame is not None:
                yield frame
            if not follower.done:
                left = remaining(deadline, self.job_id)
                time.sleep(self.client.poll_interval if left is None else min(self.client.poll_interval, left))

    def wait(self, progress: bool = False, timeout: float | None = None) -> Frame:
        """Follow the job to its end; returns the terminal frame.

        Raises :class:`JobFailed` or :class:`JobCancelled` when it ends without a result.
        ``progress=True`` draws a progress bar (stage and ETA).
        """
        bar = ProgressBar(self.kind or "job") if progress and not self.immediate else None
        try:
            for frame in self.frames(timeout):
                if bar is not None:
                    bar.update(frame)
        finally:
            if bar is not None:
                bar.close()
        assert self.last is not None and self.last.terminal
        return raise_for_end(self.last)

    def result(self, progress: bool = False, timeout: float | None = None) -> ResultValue:
        """Wait for the job, then fetch its result: the embedding (``np.ndarray``) for
        UMAP and transform, a :class:`ClusterResult` for clustering."""
        if self.submitted is not None and self.submitted.immediate is not None:
            return self.submitted.immediate
        final = self.wait(progress, timeout)
        if (self.kind or self.status().kind) in EMBEDDING_KINDS:
            return self._npy()
        params = self.status().params or {}
        if params.get("algorithm") == "kmeans":
            return cluster_from_json(self.client.request("GET", f"{API}/result/{self.job_id}").json())
        return cluster_result(self._npy(), final.result)

    def placed(self, progress: bool = False, timeout: float | None = None) -> PlacedResult:
        """A transform's result with its labels (see :meth:`Client.transform_labelled`)."""
        if self.submitted is not None and self.submitted.immediate is not None:
            return placed_from_json(self.submitted.body)
        final = self.wait(progress, timeout)
        if (final.result or {}).get("n_clusters") is None:  # no clustering: the .npy alone
            return PlacedResult(self._npy())
        return placed_from_json(self.client.request("GET", f"{API}/result/{self.job_id}").json())

    def _npy(self) -> np.ndarray:
        response = self.client.request("GET", f"{API}/result/{self.job_id}", params={"format": "npy"})
        return load_npy(response.content)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._cancel_on_exit(exc):
            return
        try:
            self.cancel()
        except StreamingUMAPClientError as err:
            log.warning("could not cancel job %s while unwinding: %s", self.job_id, err)
