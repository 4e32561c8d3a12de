from __future__ import annotations

from pathlib import Path

import numpy as np

from streaming_umap.jobs.models import Job, Status
from streaming_umap.jobs.store import JobStore


def job(job_id: str, status: Status) -> Job:
    j = Job(id=job_id, kind="umap", params={"n_neighbors": 5}, total_points=4, dims=2,
            total_chunks=1, created_at=float(len(job_id)))
    j.status = status
    return j


def test_round_trip_and_recovery(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    done = job("a", Status.COMPLETED)
    done.result = {"n_rows": 4}
    store.save(done)
    running = job("bb", Status.PROCESSING)
    store.save(running)
    store.write_input("bb", np.ones((4, 2)))
    queued = job("ccc", Status.PENDING)
    store.save(queued)
    store.write_input("ccc", np.ones((4, 2)))
    store.close()

    again = JobStore(tmp_path)
    jobs = {j.id: j for j in again.recover(now=1000.0)}
    assert jobs["a"].status == Status.COMPLETED and jobs["a"].result == {"n_rows": 4}
    assert jobs["bb"].status == Status.FAILED and "in flight" in (jobs["bb"].error or "")
    assert not again.input_path("bb").exists()
    assert jobs["ccc"].status == Status.PENDING and again.input_path("ccc").exists()
    assert {j.id: j.status for j in again.load_all()}["bb"] == Status.FAILED


def test_inputs_are_written_atomically(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    path = store.write_input("x", np.arange(6, dtype=np.float64).reshape(3, 2))
    assert np.load(path).dtype == np.float32
    assert not list(path.parent.glob("*.tmp"))


def test_cost_model_persists(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    store.save_cost_model("cpu", {"layout": 1e-7})
    assert JobStore(tmp_path).load_cost_model("cpu") == {"layout": 1e-7}
    assert store.load_cost_model("gpu") == {}
