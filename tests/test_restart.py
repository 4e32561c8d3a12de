"""Restarts: a job paused in the queue stays paused through SIGTERM and SIGKILL; a job
that was running fails naming the stage it was in, and leaves no folder behind."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from streaming_umap.datasets import labelled_mixture

from .conftest import Service
from .helpers import start_job, wait_for, wait_status

ENV = {"GPU_UMAP_MAX_CONCURRENT_JOBS": "1", "STREAMING_UMAP_WARMUP": "light"}


def _status(c: object, job_id: str) -> dict[str, object]:
    return c.get(f"/umap/streaming/status/{job_id}", params={"include_result": "false"}).json()  # type: ignore[attr-defined]


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _terminate(svc: Service, how: signal.Signals, workers: list[int]) -> None:
    """Stop the server process alone (not its group): its workers must go with it."""
    assert svc.proc is not None
    svc.proc.send_signal(how)  # SIGKILL: a crash, no shutdown at all
    svc.proc.wait(60)
    wait_for(lambda: not any(_alive(pid) for pid in workers), timeout=30)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_job_paused_in_the_queue_survives_a_restart_still_paused(make_service: object,
                                                                   how: signal.Signals) -> None:
    svc: Service = make_service(**ENV)  # type: ignore[operator]
    data, _ = labelled_mixture(2500, 16, seed=1)
    with svc.client() as c:
        running = start_job(c, "umap", data, n_epochs=5000, random_state=1)  # holds the one worker
        wait_for(lambda: _status(c, running)["stage"] == "layout", timeout=120)
        queued = start_job(c, "umap", data[:1500], n_epochs=30, random_state=2)
        assert c.post(f"/umap/streaming/pause/{queued}").json()["status"] == "paused"
        workers = [p["pid"] for p in c.get("/health").json()["processes"]]
    (svc.data_dir / "jobs" / "f").mkdir()  # a folder no record names
    _terminate(svc, how, workers)  # no worker computes on without its server
    svc.start(wait_warm=False)
    with svc.client() as c:
        held = _status(c, queued)
        crashed = _status(c, running)
        assert held["status"] == "paused" and held["stage"] == "queued" and held["error"] is None
        assert crashed["status"] == "failed"
        if how == signal.SIGKILL:  # SIGTERM fails it at shutdown, with its own message
            assert "last recorded stage: 'layout'" in str(crashed["error"])
        assert not (svc.data_dir / "jobs" / running).exists()  # no empty folder stays behind
        assert not (svc.data_dir / "jobs" / "f").exists()
        assert (svc.data_dir / "jobs" / queued / "input.npy").exists()
        svc.wait_ready()
        assert c.get("/health").json()["queue_depth"] == 0  # held, not queued
        resumed = c.post(f"/umap/streaming/resume/{queued}").json()["status"]
        assert resumed in ("pending", "processing")  # a free worker takes it at once
        assert wait_status(c, queued)["status"] == "completed"
