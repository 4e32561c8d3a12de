"""The asyncio client: :class:`AsyncClient` and :class:`AsyncJobHandle`, mirroring
:mod:`.sync` method for method (``async for frame in handle.frames()``)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, Literal, Self, Unpack, overload

import httpx
import numpy as np

from .errors import ConnectionError, StreamingUMAPClientError, check, naming_model
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
from .sync import (
    POLL_RETRIES,
    ClientSettings,
    SocketLost,
    attach_body,
    clustering_path,
    jobs_query,
    keep,
    model_path,
    page_query,
    raise_for_end,
    remaining,
    socket_refusal,
)
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
    placed_from_json,
    submitted,
    upload,
)

log = logging.getLogger(__name__)


async def _stream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class AsyncClient(ClientSettings):
    """The asyncio twin of :class:`~streaming_umap.client.Client` (same arguments)."""

    def _open_http(self, **options: Any) -> None:
        self._http = httpx.AsyncClient(**options)

    def __repr__(self) -> str:
        return f"AsyncClient({self.url!r}, transport={self.transport!r})"

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ConnectionError(self.url, exc) from exc
        return check(response)

    async def health(self) -> dict[str, Any]:
        return (await self.request("GET", "/health")).json()  # type: ignore[no-any-return]

    async def jobs(self, include_all: bool = False) -> list[JobStatus]:
        out: list[JobStatus] = []
        after: str | None = None
        while True:
            body = (await self.request("GET", f"{API}/jobs", params=jobs_query(include_all, after))).json()
            out += [JobStatus.from_dict(job) for job in body["jobs"]]
            after = body.get("next_after")
            if not after:
                return out

    def job(self, job_id: str) -> AsyncJobHandle:
        return AsyncJobHandle(self, job_id)

    async def models(self) -> list[ModelInfo]:
        out: list[ModelInfo] = []
        after: str | None = None
        while True:
            body = (await self.request("GET", f"{API}/models", params=page_query(after))).json()
            out += [ModelInfo.from_dict(model) for model in body["models"]]
            after = body.get("next_after")
            if not after:
                return out

    async def model(self, model_id: str) -> ModelInfo:
        with naming_model(model_id):
            return ModelInfo.from_dict((await self.request("GET", model_path(model_id))).json())

    async def delete_model(self, model_id: str) -> ModelDeleted:
        with naming_model(model_id):
            body = (await self.request("DELETE", model_path(model_id))).json()
        return ModelDeleted(str(body["model_id"]), str(body.get("message", "")))

    async def attach_clustering(self, model_id: str, job_id: str) -> ModelInfo:
        response = await self.request("POST", clustering_path(model_id), json=attach_body(job_id))
        return ModelInfo.from_dict(response.json())

    async def detach_clustering(self, model_id: str) -> ModelInfo:
        with naming_model(model_id):
            return ModelInfo.from_dict((await self.request("DELETE", clustering_path(model_id))).json())

    async def _submit(self, kind: str, data: Any, options: dict[str, Any],
                      model: str | None = None) -> AsyncJobHandle:
        up = upload(kind, data, options, model)
        with naming_model(model or options.get("init_from")):
            response = await self.request("POST", up.path, params=up.params, headers=up.headers,
                                          content=_stream(up.chunks))
        body = response.json()
        return AsyncJobHandle(self, str(body["job_id"]), submitted(kind, up.params, body))

    async def submit_umap(self, data: Any, **options: Unpack[UMAPOptions]) -> AsyncJobHandle:
        return await self._submit("umap", data, dict(options))

    async def submit_transform(self, model_id: str, data: Any,
                               chunk_size: int | None = None) -> AsyncJobHandle:
        return await self._submit("transform", data, {"chunk_size": chunk_size}, model_id)

    async def submit_cluster(self, data: Any, **options: Unpack[ClusterOptions]) -> AsyncJobHandle:
        return await self._submit("cluster", data, dict(options))

    @overload
    async def umap(self, data: Any, *, keep_model: Literal[False] = False, progress: bool = True,
                   timeout: float | None = None,
                   **options: Unpack[LayoutOptions]) -> np.ndarray: ...

    @overload
    async def umap(self, data: Any, *, keep_model: Literal[True], progress: bool = True,
                   timeout: float | None = None,
                   **options: Unpack[LayoutOptions]) -> UMAPResult: ...

    @overload
    async def umap(self, data: Any, *, keep_model: bool, progress: bool = True,
                   timeout: float | None = None,
                   **options: Unpack[LayoutOptions]) -> np.ndarray | UMAPResult: ...

    async def umap(self, data: Any, *, keep_model: bool = False, progress: bool = True,
                   timeout: float | None = None,
                   **options: Unpack[LayoutOptions]) -> np.ndarray | UMAPResult:
        async with await self.submit_umap(data, **keep(keep_model), **options) as job:
            out = await job.result(progress=progress, timeout=timeout)
        assert isinstance(out, np.ndarray)
        return kept(job, out) if keep_model else out

    async def transform(self, model_id: str, data: Any, *, progress: bool = True,
                        timeout: float | None = None, chunk_size: int | None = None) -> np.ndarray:
        async with await self.submit_transform(model_id, data, chunk_size) as job:
            out = await job.result(progress=progress, timeout=timeout)
        assert isinstance(out, np.ndarray)
        return out

    async def transform_labelled(self, model_id: str, data: Any, *, progress: bool = True,
                                 timeout: float | None = None,
                                 chunk_size: int | None = None) -> PlacedResult:
        async with await self.submit_transform(model_id, data, chunk_size) as job:
            return await job.placed(progress=progress, timeout=timeout)

    async def cluster(self, data: Any, *, progress: bool = True, timeout: float | None = None,
                      **options: Unpack[ClusterOptions]) -> ClusterResult:
        async with await self.submit_cluster(data, **options) as job:
            out = await job.result(progress=progress, timeout=timeout)
        assert isinstance(out, ClusterResult)
        return out

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


class AsyncJobHandle(HandleState[AsyncClient]):
    """The asyncio twin of :class:`~streaming_umap.client.JobHandle`."""

    async def status(self) -> JobStatus:
        if self.immediate:
            assert self.last is not None
            return self.last
        response = await self.client.request("GET", f"{API}/status/{self.job_id}",
                                             params={"include_result": "false"})
        return self._status_from(response.json())

    async def _control(self, method: str, action: str) -> ControlReply:
        self._check_is_job()
        return self._reply((await self.client.request(method, f"{API}/{action}/{self.job_id}")).json())

    async def cancel(self) -> ControlReply:
        return await self._control("DELETE", "cancel")

    async def pause(self) -> ControlReply:
        return await self._control("POST", "pause")

    async def resume(self) -> ControlReply:
        return await self._control("POST", "resume")

    async def frames(self, timeout: float | None = None) -> AsyncIterator[Frame]:
        """Progress frames until (and including) the terminal one; see the sync twin."""
        if self.immediate:
            assert self.last is not None
            yield self.last
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        follower = Follower(self.job_id)
        if self.client.transport == "auto":
            try:
                async for frame in self._socket_frames(follower, deadline):
                    self._seen(frame)
                    yield frame
            except SocketLost as exc:
                log.info("job %s: %s; following by polling instead", self.job_id, exc)
            if follower.done:
                return
        async for frame in self._poll_frames(follower, deadline):
            self._seen(frame)
            yield frame

    async def _socket_frames(self, follower: Follower, deadline: float | None) -> AsyncIterator[Frame]:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, WebSocketException

        url = f"{self.client.ws_url}{API}/ws/{self.job_id}"
        try:
            socket = await connect(url, open_timeout=self.client.open_timeout, max_size=1 << 26,
                                   additional_headers=self.client.auth_headers)
        except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
            raise SocketLost(f"cannot open {url} ({type(exc).__name__}: {exc})") from exc
        async with socket:
            while not follower.done:
                left = remaining(deadline, self.job_id)
                try:
                    message = await asyncio.wait_for(socket.recv(), left)
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

    async def _poll_frames(self, follower: Follower, deadline: float | None) -> AsyncIterator[Frame]:
        failures = 0
        while not follower.done:
            remaining(deadline, self.job_id)
            try:
                status = await self.status()
                failures = 0
            except ConnectionError:
                failures += 1
                if failures > POLL_RETRIES:
                    raise
                await asyncio.sleep(self.client.poll_interval * 2 ** failures)
                continue
            frame = follower.from_poll(status)
            if frame is not None:
                yield frame
            if not follower.done:
                left = remaining(deadline, self.job_id)
                await asyncio.sleep(self.client.poll_interval if left is None
                                    else min(self.client.poll_interval, left))

    async def wait(self, progress: bool = False, timeout: float | None = None) -> Frame:
        bar = ProgressBar(self.kind or "job") if progress and not self.immediate else None
        try:
            async for frame in self.frames(timeout):
                if bar is not None:
                    bar.update(frame)
        finally:
            if bar is not None:
                bar.close()
        assert self.last is not None and self.last.terminal
        return raise_for_end(self.last)

    async def result(self, progress: bool = False, timeout: float | None = None) -> ResultValue:
        if self.submitted is not None and self.submitted.immediate is not None:
            return self.submitted.immediate
        final = await self.wait(progress, timeout)
        if (self.kind or (await self.status()).kind) in EMBEDDING_KINDS:
            return await self._npy()
        params = (await self.status()).params or {}
        if params.get("algorithm") == "kmeans":
            response = await self.client.request("GET", f"{API}/result/{self.job_id}")
            return cluster_from_json(response.json())
        return cluster_result(await self._npy(), final.result)

    async def placed(self, progress: bool = False, timeout: float | None = None) -> PlacedResult:
        if self.submitted is not None and self.submitted.immediate is not None:
            return placed_from_json(self.submitted.body)
        final = await self.wait(progress, timeout)
        if (final.result or {}).get("n_clusters") is None:
            return PlacedResult(await self._npy())
        response = await self.client.request("GET", f"{API}/result/{self.job_id}")
        return placed_from_json(response.json())

    async def _npy(self) -> np.ndarray:
        response = await self.client.request("GET", f"{API}/result/{self.job_id}",
                                             params={"format": "npy"})
        return load_npy(response.content)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if not self._cancel_on_exit(exc):
            return
        try:
            await asyncio.shield(self.cancel())
        except (StreamingUMAPClientError, asyncio.CancelledError) as err:
            log.warning("could not cancel job %s while unwinding: %s", self.job_id, err)
