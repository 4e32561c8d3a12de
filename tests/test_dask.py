"""The Dask executor against a real cluster of separate processes (``dask scheduler``
and ``dask worker``, as users start them) that these tests break on purpose: a worker
killed mid-job, the scheduler stopped and started again, a worker that joins later.
The shared contract suite (tests/test_service.py) also runs on Dask: see conftest."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from streaming_umap.datasets import labelled_mixture

from .conftest import Service
from .dask_cluster import DaskCluster
from .helpers import start_job, submit, wait_for, wait_status


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    made = DaskCluster(tmp_path / "cluster")
    made.folder.mkdir()
    try:
        yield made
    finally:
        made.stop()


def _serve(make_service: Any, cluster: DaskCluster) -> Service:
    return make_service(STREAMING_UMAP_DASK_SCHEDULER=cluster.address, STREAMING_UMAP_WARMUP="light",  # type: ignore[no-any-return]
                        STREAMING_UMAP_CANCEL_GRACE="3")


def _status(c: httpx.Client, job_id: str) -> dict[str, Any]:
    return c.get(f"/umap/streaming/status/{job_id}", params={"include_result": "false"}).json()  # type: ignore[no-any-return]


def _long(c: httpx.Client, seed: int) -> str:
    data, _ = labelled_mixture(3000, 16, seed=seed)
    return start_job(c, "umap", data, n_epochs=5000, random_state=seed)


def _names(c: httpx.Client) -> dict[str, str]:
    """Dask worker address -> the name it was started with."""
    return {p["address"]: p["name"] for p in c.get("/health").json()["processes"]}


def test_jobs_run_on_both_workers_and_a_killed_worker_fails_only_its_job(
        make_service: Any, cluster: DaskCluster) -> None:
    cluster.start_scheduler()
    for name in ("w1", "w2"):
        cluster.add_worker(name)
    svc = _serve(make_service, cluster)
    with svc.client() as c:
        first, second = _long(c, 1), _long(c, 2)
        ran_on = wait_for(lambda: all(_status(c, j)["worker"] for j in (first, second))
                          and [_status(c, j)["worker"] for j in (first, second)], timeout=120)
        assert len(set(ran_on)) == 2 and set(ran_on) <= set(_names(c))
        victim = ran_on[0]
        cluster.kill_worker(_names(c)[victim])
        failed = wait_status(c, first, timeout=60)
        assert failed["status"] == "failed"
        assert f"the Dask worker {victim} left the cluster" in failed["error"]
        assert _status(c, second)["status"] == "processing"
        assert c.delete(f"/umap/streaming/cancel/{second}").status_code == 200
        assert wait_status(c, second, timeout=60)["status"] == "cancelled"
        data, _ = labelled_mixture(1500, 8, seed=3)
        after = wait_status(c, start_job(c, "umap", data, n_epochs=30), timeout=120)
        assert after["status"] == "completed" and after["worker"] == ran_on[1]
        health = c.get("/health").json()
    assert health["executor"] == "dask" and health["workers"]["total"] == 1


def test_a_stopped_scheduler_gives_503_and_clear_job_errors_then_the_server_reconnects(
        make_service: Any, cluster: DaskCluster) -> None:
    cluster.start_scheduler()
    cluster.add_worker("w1")
    svc = _serve(make_service, cluster)
    data, _ = labelled_mixture(1500, 8, seed=4)
    with svc.client() as c:
        running = _long(c, 5)
        wait_for(lambda: _status(c, running)["worker"], timeout=120)
        cluster.stop_scheduler()
        failed = wait_status(c, running, timeout=60)
        assert failed["status"] == "failed"
        assert f"the Dask scheduler at {cluster.address} became unreachable" in failed["error"]
        health = c.get("/health").json()
        assert health["status"] == "degraded" and health["scheduler"]["state"] == "unreachable"
        refused = submit(c, "umap", data)
        assert refused.status_code == 503
        assert f"the Dask scheduler at {cluster.address} cannot be reached" in refused.json()["detail"]
        small = c.post("/umap/streaming/umap", json={"data": data[:50].tolist()})
        assert small.status_code == 503  # immediate requests too
        cluster.start_scheduler()  # back on the same address; a worker joins it
        cluster.add_worker("w2")
        wait_for(lambda: c.get("/health").json()["status"] == "ok", timeout=180)
        done = wait_status(c, start_job(c, "umap", data, n_epochs=30), timeout=120)
    assert done["status"] == "completed", done.get("error")


def test_a_worker_joining_later_is_warmed_before_it_takes_a_job(
        make_service: Any, cluster: DaskCluster) -> None:
    from distributed import Client

    from streaming_umap.jobs.executors._dask_worker import WORKERS_TOPIC

    cluster.start_scheduler()
    cluster.add_worker("w1")
    svc = _serve(make_service, cluster)
    with svc.client() as c:
        busy = _long(c, 6)
        wait_for(lambda: _status(c, busy)["worker"], timeout=120)
        # held on w1 until the end, however fast this machine lays it out
        assert c.post(f"/umap/streaming/pause/{busy}").status_code == 200
        cluster.add_worker("late")
        data, _ = labelled_mixture(1500, 8, seed=7)
        waiting = start_job(c, "umap", data, n_epochs=30)
        assert _status(c, waiting)["status"] == "pending"  # no warm worker is free yet
        done = wait_status(c, waiting, timeout=180)
        late = next(a for a, n in _names(c).items() if n == "late")
        c.delete(f"/umap/streaming/cancel/{busy}")
    assert done["status"] == "completed" and done["worker"] == late
    with Client(cluster.address, timeout=30) as dask_client:
        events = [(t, e) for t, e in dask_client.get_events(WORKERS_TOPIC) if e["address"] == late]
    states = [e["state"] for _, e in events]
    assert states[0] == "warming" and "ready" in states
    ready_at = next(t for t, e in events if e["state"] == "ready")
    assert done["started_at"] >= ready_at - 1.0  # scheduler and server clocks are this machine's
    assert time.time() > ready_at


def test_inputs_and_results_travel_through_an_artifact_store(make_service: Any, cluster: DaskCluster,
                                                             tmp_path: Path) -> None:
    """Workers that share no disk with the server: STREAMING_UMAP_ARTIFACTS is an fsspec
    URL both reach (here a file:// URL distinct from the server's data folder)."""
    import io

    import numpy as np

    store = tmp_path / "artifacts"
    cluster.start_scheduler()
    cluster.add_worker("w1")
    svc = make_service(STREAMING_UMAP_DASK_SCHEDULER=cluster.address, STREAMING_UMAP_WARMUP="light",
                       STREAMING_UMAP_ARTIFACTS=f"file://{store}")
    data, _ = labelled_mixture(1500, 8, seed=8)
    with svc.client() as c:
        job_id = start_job(c, "umap", data, n_epochs=30, random_state=1)
        assert wait_status(c, job_id, timeout=120)["status"] == "completed"
        served = np.load(io.BytesIO(c.get(f"/umap/streaming/result/{job_id}", params={"format": "npy"}).content))
        small = c.post("/umap/streaming/umap", json={"data": data[:200].tolist(), "n_neighbors": 10})
    stored = np.load(store / "jobs" / job_id / "embedding.npy")
    assert served.shape == (1500, 2) and np.array_equal(served, stored)
    assert (store / "jobs" / job_id / "input.npy").exists()
    assert (svc.data_dir / "jobs" / job_id / "embedding.npy").exists()  # fetched home
    assert small.status_code == 200 and len(small.json()["embeddings"]) == 200


def test_a_sampled_fit_places_its_chunks_on_every_worker(make_service: Any, cluster: DaskCluster) -> None:
    import io

    import numpy as np

    cluster.start_scheduler()
    for name in ("w1", "w2"):
        cluster.add_worker(name)
    svc = _serve(make_service, cluster)
    data, labels = labelled_mixture(40_000, 8, clusters=5, seed=9)
    with svc.client() as c:
        wait_for(lambda: c.get("/health").json()["workers"]["idle"] == 2, timeout=120)
        job_id = start_job(c, "umap", data, fit_sample_rows=3000, random_state=4, n_epochs=50)
        final = wait_status(c, job_id, timeout=300)
        embedding = np.load(io.BytesIO(c.get(f"/umap/streaming/result/{job_id}", params={"format": "npy"}).content))
    assert final["status"] == "completed", final["error"]
    assert "placed into that layout (in 4 chunks on 2 Dask workers)" in final["warning"]
    assert embedding.shape == (40_000, 2) and np.isfinite(embedding).all()
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(15).fit(embedding[:20_000], labels[:20_000])
    assert knn.score(embedding[20_000:], labels[20_000:]) >= 0.95
