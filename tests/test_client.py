"""The Python client against a real service: arrays in and out, frames, control,
typed errors, the polling fallback, and the asyncio twin."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import io
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import NearestNeighbors

from streaming_umap._client.progress import ProgressBar, format_eta
from streaming_umap.client import (
    AsyncClient,
    Client,
    ClusterResult,
    Conflict,
    ConnectionError,
    Frame,
    InvalidInput,
    InvalidRequest,
    JobCancelled,
    NotFound,
    ServerError,
    StreamingUMAPClientError,
    WaitTimeout,
)
from streaming_umap.datasets import labelled_mixture

from .conftest import Service, free_port

ROWS, DIMS, CLUSTERS = 1500, 32, 4  # just above the immediate threshold of 1000 rows
LONG_EPOCHS = 5000  # keeps a 1500-row job in its layout stage for many seconds


@pytest.fixture(scope="module")
def mixture() -> tuple[np.ndarray, np.ndarray]:
    return labelled_mixture(ROWS, DIMS, clusters=CLUSTERS, seed=3)


@pytest.fixture
def client(service: Service) -> Iterator[Client]:
    with Client(service.url, timeout=120) as c:
        yield c


def neighbour_agreement(embedding: np.ndarray, labels: np.ndarray) -> float:
    """Share of points whose nearest neighbour in the layout has the same label."""
    _, idx = NearestNeighbors(n_neighbors=2).fit(embedding).kneighbors(embedding)
    return float(np.mean(labels[idx[:, 1]] == labels))


def assert_well_ordered(frames: list[Frame]) -> None:
    assert frames, "no frames"
    progress = [f.progress_percentage for f in frames]
    assert progress == sorted(progress), progress
    assert all(not f.terminal for f in frames[:-1]) and frames[-1].terminal
    assert frames[-1].type == frames[-1].status


def test_client_imports_no_server_side_module() -> None:
    code = ("import sys, streaming_umap.client\n"
            "bad = [m for m in ('starlette', 'uvicorn', 'umap', 'numba', 'sklearn', 'msgspec',"
            " 'streaming_umap.config', 'streaming_umap.jobs') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_umap_job_over_websocket(client: Client, mixture: tuple[np.ndarray, np.ndarray]) -> None:
    data, labels = mixture
    job = client.submit_umap(data, n_neighbors=15, metric="cosine", random_state=1)
    assert job.job_id != "immediate" and job.kind == "umap"
    frames = list(job.frames())
    assert_well_ordered(frames)
    assert frames[0].type == "snapshot" and frames[-1].type == "completed"
    assert {f.source for f in frames} == {"websocket"}
    seqs = [f.seq for f in frames[1:] if f.seq is not None]
    assert len(seqs) == len(frames) - 1 and seqs == sorted(set(seqs)), "seq repeats or goes back"
    assert frames[-1].progress_percentage == 100
    if frames[0].status != "completed":  # a fast GPU may finish before the socket opens
        assert "layout" in {f.stage for f in frames}
    embedding = job.result()
    assert isinstance(embedding, np.ndarray)
    assert embedding.shape == (ROWS, 2) and embedding.dtype == np.float32
    assert np.isfinite(embedding).all()
    assert neighbour_agreement(embedding, labels) > 0.9


def test_umap_one_call_draws_a_progress_bar(
    client: Client, mixture: tuple[np.ndarray, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    embedding = client.umap(mixture[0], n_components=3, n_epochs=100)
    assert embedding.shape == (ROWS, 3)
    bar = capsys.readouterr().err
    assert "umap [" in bar and "100.0%" in bar and "completed" in bar
    client.umap(mixture[0], n_epochs=50, progress=False)
    assert capsys.readouterr().err == ""


def test_progress_bar_shows_stage_eta_and_pause() -> None:
    out = io.StringIO()
    frame = {"job_id": "j", "status": "processing", "stage": "layout", "type": "progress",
             "progress_percentage": 42.5, "eta_seconds": 75.0}
    with ProgressBar("umap", file=out) as bar:
        bar.update(Frame.from_dict(frame))
        assert "umap [layout]:  42.5%" in out.getvalue() and "ETA 01:15" in out.getvalue()
        bar.update(Frame.from_dict(dict(frame, status="paused", type="paused")))
        assert out.getvalue().rstrip().endswith("paused")
        bar.update(Frame.from_dict(dict(frame, status="completed", type="completed", stage="done")))
    assert "umap [done]: 100.0%" in out.getvalue()
    assert format_eta(3725) == "1:02:05" and format_eta(None) == "?"


def test_clustering_jobs(client: Client, mixture: tuple[np.ndarray, np.ndarray]) -> None:
    data, labels = mixture
    kmeans = client.cluster(data, algorithm="kmeans", n_clusters=CLUSTERS, random_state=0,
                            progress=False)
    assert isinstance(kmeans, ClusterResult) and kmeans.n_clusters == CLUSTERS
    assert kmeans.labels.shape == (ROWS,) and kmeans.noise_points is None
    assert kmeans.centers is not None and kmeans.centers.shape == (CLUSTERS, DIMS)
    assert adjusted_rand_score(labels, kmeans.labels) > 0.9
    job = client.submit_cluster(data, algorithm="hdbscan", min_cluster_size=20)
    assert_well_ordered(list(job.frames()))
    hdbscan = job.result()
    assert isinstance(hdbscan, ClusterResult) and hdbscan.centers is None
    assert hdbscan.noise_points == int(np.sum(hdbscan.labels == -1))
    assert hdbscan.n_clusters == len(set(hdbscan.labels.tolist()) - {-1}) >= 2


def test_immediate_answers_look_like_jobs(client: Client, mixture: tuple[np.ndarray, np.ndarray]) -> None:
    data, labels = mixture[0][:300], mixture[1][:300]
    job = client.submit_umap(data, n_neighbors=10, random_state=1)
    assert job.job_id == "immediate" and job.immediate
    (frame,) = list(job.frames())
    assert frame.type == frame.status == "completed" and frame.source == "immediate"
    assert job.wait().terminal and job.status().status == "completed"
    embedding = job.result()
    assert isinstance(embedding, np.ndarray) and embedding.shape == (300, 2)
    assert neighbour_agreement(embedding, labels) > 0.9
    with pytest.raises(StreamingUMAPClientError, match="immediate"):
        job.cancel()
    kmeans = client.cluster(data, algorithm="kmeans", n_clusters=CLUSTERS, random_state=0)
    assert kmeans.centers is not None and kmeans.centers.shape == (CLUSTERS, DIMS)
    assert adjusted_rand_score(labels, kmeans.labels) > 0.9
    tiny = client.umap([[0.1, 0.2], [0.3, 0.4]], progress=False)
    assert tiny.shape == (2, 2)


def test_errors_are_typed_and_carry_the_server_message(
    client: Client, mixture: tuple[np.ndarray, np.ndarray]
) -> None:
    data = mixture[0].copy()
    data[7, 3] = np.nan
    with pytest.raises(InvalidRequest) as bad_row:
        client.submit_umap(data)
    assert (bad_row.value.status, bad_row.value.field, bad_row.value.row) == (422, "data", 7)
    assert "row 7" in bad_row.value.detail and "non-finite" in str(bad_row.value)
    with pytest.raises(InvalidInput) as ragged:
        client.submit_umap([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0]])
    assert ragged.value.row == 2 and isinstance(ragged.value, ValueError)
    with pytest.raises(InvalidRequest) as metric:
        client.submit_umap(mixture[0], metric="nonsense")
    assert metric.value.field == "metric" and "cosine" in metric.value.detail
    with pytest.raises(InvalidRequest) as kmeans:
        client.submit_cluster(mixture[0], algorithm="kmeans", metric="cosine")
    assert kmeans.value.field == "metric"
    with pytest.raises(TypeError, match="n_neighbours"):
        client.submit_umap(mixture[0], n_neighbours=5)  # type: ignore[call-arg]
    with pytest.raises(NotFound) as missing:
        client.job("no-such-job").status()
    assert missing.value.status == 404 and "no-such-job" in missing.value.detail
    with pytest.raises(NotFound):
        list(client.job("no-such-job").frames())
    with pytest.raises(NotFound):
        client.job("no-such-job").cancel()


def test_pause_resume_cancel(client: Client, mixture: tuple[np.ndarray, np.ndarray]) -> None:
    job = client.submit_umap(mixture[0], n_epochs=LONG_EPOCHS)
    seen: list[str] = []
    for frame in job.frames(timeout=120):
        seen.append(frame.type)
        if frame.stage == "layout" and "pause" not in seen:
            seen.append("pause")
            assert job.pause().job_id == job.job_id
        elif frame.type == "paused":
            held = job.status()
            assert held.status == "paused" and held.progress_percentage == frame.progress_percentage
            assert job.resume().status in ("paused", "processing")
        elif frame.type == "resumed":
            assert job.cancel().status in ("cancelling", "cancelled")
    assert seen.index("pause") < seen.index("paused") < seen.index("resumed") < len(seen) - 1
    assert seen[-1] == "cancelled"
    with pytest.raises(JobCancelled) as ended:
        job.wait()
    assert ended.value.job_id == job.job_id and job.status().status == "cancelled"
    with pytest.raises(Conflict) as twice:
        job.cancel()
    assert twice.value.status == 409
    with pytest.raises(Conflict, match="completed"):
        client.request("GET", f"/umap/streaming/result/{job.job_id}", params={"format": "npy"})


def test_wait_timeout_and_leaving_a_handle_block_cancel_the_job(
    service: Service, client: Client, mixture: tuple[np.ndarray, np.ndarray]
) -> None:
    service.skip_on_gpu("the job ends before the 1 s wait times out")
    job = client.submit_umap(mixture[0], n_epochs=LONG_EPOCHS)
    with pytest.raises(WaitTimeout), job:
        job.wait(timeout=1.0)
    with pytest.raises(JobCancelled):
        job.wait(timeout=60)
    assert job.status().status == "cancelled"


@pytest.mark.parametrize("transport, ws_url", [
    ("poll", None),
    ("auto", "unreachable"),
    ("auto", "wrong-path"),
])
def test_polling_fallback(service: Service, mixture: tuple[np.ndarray, np.ndarray],
                          transport: str, ws_url: str | None) -> None:
    service.skip_on_gpu("the job ends between two polls; the transport is backend-independent")
    base = {None: None, "unreachable": f"ws://127.0.0.1:{free_port()}",
            "wrong-path": f"{service.ws_url}/not-here"}[ws_url]
    with Client(service.url, transport=transport, ws_url=base,  # type: ignore[arg-type]
                poll_interval=0.2) as polling:
        job = polling.submit_umap(mixture[0], n_epochs=200)
        frames = list(job.frames(timeout=120))
        assert_well_ordered(frames)
        assert {f.source for f in frames} == {"poll"} and frames[-1].type == "completed"
        assert len(frames) >= 3, "polling saw no progress between start and end"
        embedding = job.result()
        assert isinstance(embedding, np.ndarray) and embedding.shape == (ROWS, 2)


class CuttingRelay:
    """A real TCP relay to the service that cuts each connection once ``limit`` bytes
    came back from the server: a WebSocket that drops in the middle of a job."""

    def __init__(self, target_port: int, limit: int) -> None:
        self.target_port, self.limit = target_port, limit
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, self.limit), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        with contextlib.suppress(OSError):
            while chunk := src.recv(256):
                dst.sendall(chunk)
                sent += len(chunk)
                if limit is not None and sent >= limit:
                    self.cuts += 1
                    break
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()


def test_socket_dropped_mid_job_continues_by_polling(
    service: Service, mixture: tuple[np.ndarray, np.ndarray]
) -> None:
    service.skip_on_gpu("the job ends before the relay cuts the socket")
    relay = CuttingRelay(service.port, limit=3000)  # the handshake, a snapshot, a few frames
    try:
        with Client(service.url, ws_url=f"ws://127.0.0.1:{relay.port}", poll_interval=0.2) as cut:
            job = cut.submit_umap(mixture[0], n_epochs=LONG_EPOCHS)
            frames: list[Frame] = []
            for frame in job.frames(timeout=120):
                frames.append(frame)
                if frame.source == "poll" and frame.status == "processing":
                    job.cancel()  # seen both ways; no need to pay for the rest
    finally:
        relay.close()
    assert relay.cuts == 1
    assert_well_ordered(frames)
    sources = [f.source for f in frames]
    assert sources[0] == "websocket" and sources[-1] == "poll", sources
    assert sources == sorted(sources, key=["websocket", "poll"].index), sources
    assert frames[-1].type == "cancelled"


def test_unreachable_service_raises_connection_error() -> None:
    with Client(f"http://127.0.0.1:{free_port()}", timeout=5) as nobody, \
            pytest.raises(ConnectionError) as lost:
        nobody.health()
    assert isinstance(lost.value, builtins.ConnectionError)
    assert "cannot reach the service" in str(lost.value)


def test_async_client(service: Service, mixture: tuple[np.ndarray, np.ndarray]) -> None:
    data, labels = mixture

    async def scenario() -> None:
        async with AsyncClient(service.url) as aclient:
            assert (await aclient.health())["status"] == "ok"
            job = await aclient.submit_umap(data, random_state=2, n_epochs=200)
            frames = [frame async for frame in job.frames()]
            assert_well_ordered(frames)
            assert frames[-1].source == "websocket"
            embedding = await job.result()
            assert isinstance(embedding, np.ndarray) and embedding.shape == (ROWS, 2)
            assert neighbour_agreement(embedding, labels) > 0.9
            clusters = await aclient.cluster(embedding, algorithm="hdbscan", progress=False)
            assert adjusted_rand_score(labels, clusters.labels) > 0.8
            assert [f.type async for f in (await aclient.submit_umap(data[:50])).frames()] == ["completed"]
            long = await aclient.submit_umap(data, n_epochs=LONG_EPOCHS)
            assert long.job_id in {j.job_id for j in await aclient.jobs()}
            await long.pause()
            await long.cancel()
            with pytest.raises(JobCancelled):
                await long.wait(timeout=60)
            with pytest.raises(NotFound):
                await aclient.job("no-such-job").status()
            with pytest.raises(ServerError):
                [f async for f in aclient.job("no-such-job").frames()]

    asyncio.run(scenario())
