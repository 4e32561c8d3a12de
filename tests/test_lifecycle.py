"""A dedicated server that these tests break on purpose: a full queue, tight limits,
a worker killed with SIGKILL, expiring results, and restarts (clean and crashed)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import time
from collections.abc import Iterator

import numpy as np
import pytest

from streaming_umap.datasets import labelled_mixture

from .conftest import Service
from .helpers import start_job, submit, wait_for, wait_status

ENV = {
    "GPU_UMAP_MAX_CONCURRENT_JOBS": "1",
    "STREAMING_UMAP_MAX_QUEUE": "1",
    "STREAMING_UMAP_MAX_BODY_MB": "1",
    "STREAMING_UMAP_MAX_ELEMENTS": "100000",
    "STREAMING_UMAP_CANCEL_GRACE": "1",
    "STREAMING_UMAP_WARMUP": "light",  # these jobs stay on the exact kNN path
    "STREAMING_UMAP_CORS_ORIGINS": "http://page.example:9000",
}
PAGE = "http://page.example:9000"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = Service(tmp_path_factory.mktemp("lifecycle"), dict(ENV))
    try:
        yield service.start()
    finally:
        service.stop()


def _long(c: object, seed: int, epochs: int = 4000) -> str:
    data, _ = labelled_mixture(2500, 16, seed=seed)
    return start_job(c, "umap", data, n_epochs=epochs, random_state=1)  # type: ignore[arg-type]


def _status(c: object, job_id: str) -> dict[str, object]:
    return c.get(f"/umap/streaming/status/{job_id}", params={"include_result": "false"}).json()  # type: ignore[attr-defined]


def test_limits_are_413_with_the_limit(svc: Service) -> None:
    with svc.client() as c:
        big = np.zeros((400, 300), dtype=np.float32)  # 120,000 values > 100,000
        r = submit(c, "umap", big)
        assert r.status_code == 413 and "limit is 100000 values" in r.json()["detail"]
        body = b"0" * (1 << 20) + b"1"
        r = c.post("/umap/streaming/umap", content=body, headers={"Content-Type": "application/x-npy"})
        assert r.status_code == 413 and "1048576 bytes" in r.json()["detail"]
        assert c.get("/umap/streaming/jobs", params={"include": "all"}).json()["count"] == 0


def test_full_queue_is_429_and_a_queued_job_can_be_paused(svc: Service) -> None:
    with svc.client() as c:
        running = _long(c, seed=1)
        wait_for(lambda: _status(c, running)["status"] == "processing")
        queued = _long(c, seed=2)
        assert _status(c, queued)["status"] == "pending"
        data, _ = labelled_mixture(1500, 16, seed=3)
        r = submit(c, "umap", data)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "queue is full (1 pending jobs)" in r.json()["detail"]
        assert c.post(f"/umap/streaming/pause/{queued}").json()["status"] == "paused"
        assert c.get("/health").json()["queue_depth"] == 0
        assert c.post(f"/umap/streaming/resume/{queued}").json()["status"] == "pending"
        for job_id in (queued, running):
            c.delete(f"/umap/streaming/cancel/{job_id}")
        assert wait_status(c, queued)["status"] == "cancelled"
        assert wait_status(c, running)["status"] == "cancelled"


def test_killed_worker_fails_only_its_job(svc: Service) -> None:
    with svc.client() as c:
        job_id = _long(c, seed=4)
        wait_for(lambda: _status(c, job_id)["stage"] == "layout", timeout=120)
        holders = [p["pid"] for p in c.get("/health").json()["processes"] if p["job_id"] == job_id]
        assert len(holders) == 1
        os.kill(holders[0], signal.SIGKILL)
        final = wait_status(c, job_id, timeout=60)
        assert final["status"] == "failed"
        assert "worker process was lost (killed by signal SIGKILL)" in final["error"]
        assert c.get("/health").status_code == 200
        health = wait_for(lambda: (h := c.get("/health").json())["workers"]["alive"] == 1 and h, timeout=30)
        assert health["workers"]["total"] == 1
        svc.wait_ready()  # the replacement warms up and takes the next job
        data, _ = labelled_mixture(1500, 8, seed=5)
        assert wait_status(c, start_job(c, "umap", data, n_epochs=30))["status"] == "completed"


def test_restart_keeps_finished_jobs_and_fails_those_in_flight(svc: Service, make_service: object) -> None:
    with svc.client() as c:
        data, _ = labelled_mixture(1200, 8, seed=6)
        done = start_job(c, "umap", data, n_epochs=30)
        assert wait_status(c, done)["status"] == "completed"
        before = c.get(f"/umap/streaming/result/{done}", params={"format": "npy"}).content
        running = _long(c, seed=7)
        wait_for(lambda: _status(c, running)["status"] == "processing")
    assert svc.proc is not None
    os.killpg(svc.proc.pid, signal.SIGKILL)  # a crash: no shutdown at all
    svc.proc.wait(10)
    svc.start(wait_warm=False)
    with svc.client() as c:
        after = c.get(f"/umap/streaming/result/{done}", params={"format": "npy"})
        crashed = _status(c, running)
    assert after.status_code == 200 and np.array_equal(np.load(io.BytesIO(after.content)), np.load(io.BytesIO(before)))
    assert crashed["status"] == "failed" and "server stopped while this job was in flight" in str(crashed["error"])
    svc.wait_ready()


def test_results_expire_after_the_ttl(make_service: object) -> None:
    svc: Service = make_service(STREAMING_UMAP_RESULT_TTL="1", STREAMING_UMAP_SWEEP_INTERVAL="0.5",  # type: ignore[operator]
                                GPU_UMAP_MAX_CONCURRENT_JOBS="1", STREAMING_UMAP_WARMUP="light")
    with svc.client() as c:
        data, _ = labelled_mixture(1100, 8, seed=8)
        job_id = start_job(c, "umap", data, n_epochs=20)
        assert wait_status(c, job_id)["status"] == "completed"
        wait_for(lambda: _status(c, job_id)["result_expired"], timeout=30)
        r = c.get(f"/umap/streaming/result/{job_id}")
        assert r.status_code == 410 and "expired" in r.json()["detail"]
        assert _status(c, job_id)["status"] == "completed"
    assert f"expired the result of job {job_id}" in svc.log_file.read_text()
    assert not (svc.data_dir / "jobs" / job_id).exists()


def test_cancel_kills_a_worker_that_does_not_reach_a_checkpoint(svc: Service) -> None:
    # Above 4096 rows the kNN is one NN-descent pass with no checkpoint inside. For
    # manhattan it is pynndescent's own function (nnd_cached covers euclidean and cosine),
    # which no disk cache holds and this server's light warm-up did not compile: the
    # worker cannot answer for many seconds.
    data, _ = labelled_mixture(6000, 16, seed=9)  # 96,000 values: under this server's limit
    with svc.client() as c:
        job_id = start_job(c, "umap", data, metric="manhattan")
        wait_for(lambda: _status(c, job_id)["stage"] == "knn", timeout=60)
        pid = next(p["pid"] for p in c.get("/health").json()["processes"] if p["job_id"] == job_id)
        assert c.delete(f"/umap/streaming/cancel/{job_id}").json()["status"] == "cancelling"
        final = wait_status(c, job_id, timeout=60)
        assert final["status"] == "cancelled" and "worker stopped" in str(final["error"])
        processes = c.get("/health").json()["processes"]
        assert pid not in {p["pid"] for p in processes}
        assert sum(1 for p in processes if p["role"] == "job") == 1
    log = svc.log_file.read_text()
    assert f"job {job_id}: worker pid {pid} did not stop within 1.0 s; killing it" in log


def test_a_pause_during_nn_descent_holds_the_worker_and_resume_gives_the_same_layout(svc: Service) -> None:
    """NN-descent has no checkpoint: a pause there holds the worker process itself
    (SIGSTOP), so it takes effect at once and uses no CPU, and a resume (SIGCONT) goes
    on to the layout an unpaused job of the same seed gives."""
    import psutil

    # chebyshev: NN-descent compiled in the worker (as manhattan in the cancel test above),
    # a long stage; not manhattan, which the flood test below needs uncompiled in the worker
    data, _ = labelled_mixture(6000, 16, seed=13)
    with svc.client() as c:  # the paused job first, while its worker compiles the stage
        job_id = start_job(c, "umap", data, metric="chebyshev", n_epochs=30, random_state=3)
        wait_for(lambda: _status(c, job_id)["stage"] == "knn", timeout=60)
        pid = next(p["pid"] for p in c.get("/health").json()["processes"] if p["job_id"] == job_id)
        assert c.post(f"/umap/streaming/pause/{job_id}").status_code == 200
        assert wait_status(c, job_id, ("paused",), timeout=5)["stage"] == "knn"  # mid-stage
        worker = psutil.Process(pid)
        try:
            # the kernel stops a process once it next runs: on two busy cores, a few ms later
            wait_for(lambda: worker.status() == psutil.STATUS_STOPPED, timeout=5, interval=0.01)
            before = sum(worker.cpu_times()[:2])
            time.sleep(1.5)
            assert sum(worker.cpu_times()[:2]) == pytest.approx(before, abs=0.02)
            assert _status(c, job_id)["status"] == "paused"
        finally:  # never leave the module's one job worker held for the tests after this one
            assert c.post(f"/umap/streaming/resume/{job_id}").status_code == 200
        assert wait_status(c, job_id, timeout=300)["status"] == "completed"
        plain = start_job(c, "umap", data, metric="chebyshev", n_epochs=30, random_state=3)
        assert wait_status(c, plain, timeout=300)["status"] == "completed"
        a = np.load(io.BytesIO(c.get(f"/umap/streaming/result/{plain}?format=npy").content))
        b = np.load(io.BytesIO(c.get(f"/umap/streaming/result/{job_id}?format=npy").content))
    assert np.array_equal(a, b)


def test_a_flood_of_controls_during_nn_descent_leaves_the_service_responsive(svc: Service) -> None:
    """Item 1 of the trust issue: ~280 pause requests used to block the event loop for
    the whole NN-descent stage (/health took 18.9 s). Now controls never write to a
    worker from the loop: a pause holds the process at once, live-layout requests are
    coalesced per job, and every endpoint keeps answering."""
    import threading

    import httpx
    from websockets.sync.client import connect

    # NN-descent for manhattan: pynndescent's own function, compiled in the worker (no disk
    # cache, not in a light warm-up), so the stage lasts while the requests arrive
    data, _ = labelled_mixture(6000, 16, seed=11)
    health_ok: list[int] = []
    controls: list[int] = []
    with svc.client() as c:
        # and the most epochs allowed, so the job is still running when the flood is over
        job_id = start_job(c, "umap", data, metric="manhattan", n_epochs=5000)
        wait_for(lambda: _status(c, job_id)["stage"] == "knn", timeout=60)
        stop = threading.Event()

        def probe() -> None:  # a hung loop makes these time out and the test fail
            with httpx.Client(base_url=svc.url, timeout=5.0) as probe_client:
                while not stop.is_set():
                    health_ok.append(probe_client.get("/health").status_code)
                    time.sleep(0.05)

        def flood(action: str) -> None:
            with httpx.Client(base_url=svc.url, timeout=30.0) as flood_client:
                for _ in range(300):
                    controls.append(flood_client.post(f"/umap/streaming/{action}/{job_id}").status_code)

        prober = threading.Thread(target=probe)
        prober.start()
        try:
            with contextlib.ExitStack() as sockets:
                for n in range(1, 41):  # each asks the worker for live layouts at its own pace
                    sockets.enter_context(connect(
                        f"{svc.ws_url}/umap/streaming/ws/{job_id}?live=1&live_every={n}", open_timeout=10))
                floods = [threading.Thread(target=flood, args=(a,)) for a in ("pause", "resume", "pause")]
                for t in floods:
                    t.start()
                for t in floods:
                    t.join(120)
            health = c.get("/health", timeout=5.0)
        finally:
            stop.set()
            prober.join(30)
        assert c.delete(f"/umap/streaming/cancel/{job_id}").status_code == 200
        final = wait_status(c, job_id, timeout=60)
    assert final["status"] == "cancelled"
    assert len(controls) == 900 and set(controls) <= {200, 409}
    assert health.status_code == 200 and health_ok and set(health_ok) == {200}


def test_a_second_server_on_the_same_data_folder_refuses_to_start(svc: Service) -> None:
    import subprocess
    import sys

    from .conftest import free_port

    with svc.client() as c:
        running = _long(c, seed=12)
        wait_for(lambda: _status(c, running)["status"] == "processing")
        env = dict(os.environ, STREAMING_UMAP_DATA_DIR=str(svc.data_dir),
                   STREAMING_UMAP_LOG_DIR=str(svc.data_dir / "logs-second"))
        second = subprocess.run([sys.executable, "-m", "streaming_umap.cli", "serve", "--host", "127.0.0.1",
                                 "--port", str(free_port())], env=env, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 2
        assert f"another streaming-umap server (pid {svc.proc.pid}) is using the data folder" in second.stderr  # type: ignore[union-attr]
        assert _status(c, running)["status"] == "processing"  # the first server's job is untouched
        assert c.delete(f"/umap/streaming/cancel/{running}").status_code == 200
        assert wait_status(c, running)["status"] == "cancelled"


def test_cors_lets_the_configured_page_call_the_api(svc: Service) -> None:
    data, _ = labelled_mixture(300, 8, seed=40)
    with svc.client() as c:
        preflight = c.options("/umap/streaming/umap", headers={
            "Origin": PAGE, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == PAGE
        assert "POST" in preflight.headers["access-control-allow-methods"]
        r = c.post("/umap/streaming/umap", json={"data": data.tolist(), "n_neighbors": 10},
                   headers={"Origin": PAGE})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == PAGE
        bad = c.post("/umap/streaming/umap", json={"data": [[1.0, "x"]]}, headers={"Origin": PAGE})
        assert bad.status_code == 422 and bad.headers["access-control-allow-origin"] == PAGE  # errors readable too
        other = c.options("/umap/streaming/umap", headers={
            "Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
        plain = c.get("/health", headers={"Origin": "http://elsewhere.example"})
        assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


def test_while_workers_warm_health_says_so_and_a_queued_job_says_what_it_waits_for(
        make_service: object, tmp_path: object) -> None:
    """An empty compile cache: the template warms up for a while; meanwhile /health is
    'warming' with the step it is at, a job waits with its reason and an ETA, and a cancel
    of that waiting job ends it at once. (A job completing after a cold warm-up is what the
    first service test of every fresh CI run does: its compile cache starts empty.)"""
    from pathlib import Path

    cold = Path(str(tmp_path)) / "empty-numba-cache"
    svc: Service = make_service(wait_warm=False, NUMBA_CACHE_DIR=str(cold),  # type: ignore[operator]
                                STREAMING_UMAP_WARMUP="light", GPU_UMAP_MAX_CONCURRENT_JOBS="1")
    with svc.client() as c:
        health = wait_for(lambda: (h := c.get("/health").json())["warmup"] and h, timeout=60)
        assert health["status"] == "warming" and health["workers"]["warming"] == 1
        assert health["warmup"]["step"] and health["warmup"]["elapsed_seconds"] >= 0
        data, _ = labelled_mixture(1200, 8, seed=13)
        job_id = start_job(c, "umap", data, n_epochs=30)
        queued = _status(c, job_id)
        assert queued["status"] == "pending"
        assert "the workers are warming up" in queued["waiting_for"] and queued["eta_seconds"] > 0
        assert c.delete(f"/umap/streaming/cancel/{job_id}").status_code == 200
        assert wait_status(c, job_id, timeout=5)["status"] == "cancelled"
        assert c.get("/health").json()["status"] == "warming"  # all of it happened while warming


def test_workers_die_with_a_killed_server(make_service: object) -> None:
    import psutil

    svc: Service = make_service(STREAMING_UMAP_WARMUP="light")  # type: ignore[operator]
    with svc.client() as c:
        pids = [p["pid"] for p in c.get("/health").json()["processes"]]
    assert len(pids) >= 3 and svc.proc is not None  # the template, a job worker, an immediate one
    assert all(psutil.Process(pid).ppid() == svc.proc.pid for pid in pids)  # adopted by the server
    os.kill(svc.proc.pid, signal.SIGKILL)  # the server alone, not its process group
    svc.proc.wait(10)
    wait_for(lambda: not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
                             for pid in pids), timeout=20)
