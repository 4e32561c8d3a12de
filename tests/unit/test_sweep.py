from __future__ import annotations

from pathlib import Path

import numpy as np

from streaming_umap.config import Settings
from streaming_umap.jobs.hub import Hub
from streaming_umap.jobs.models import Job, Status
from streaming_umap.jobs.store import JobStore
from streaming_umap.jobs.supervisor import Supervisor


def finished(store: JobStore, job_id: str, at: float, rows: int) -> Job:
    job = Job(id=job_id, kind="umap", params={}, total_points=rows, dims=2, total_chunks=1,
              status=Status.COMPLETED, finished_at=at, result={"n_rows": rows})
    store.job_dir(job_id).mkdir(parents=True)
    np.save(store.result_path(job_id, "umap"), np.zeros((rows, 2), dtype=np.float32))
    store.save(job)
    return job


def test_results_expire_by_age_then_oldest_first_over_the_disk_budget(tmp_path: Path) -> None:
    settings = Settings.from_env({}).with_overrides(result_ttl=100.0, disk_budget_bytes=8000)
    store = JobStore(tmp_path)
    sup = Supervisor(settings, store, Hub())
    for job_id, at in (("old", 0.0), ("mid", 950.0), ("new", 990.0)):
        sup.jobs[job_id] = finished(store, job_id, at, rows=500)  # 4128 bytes of .npy each
    expired = sup.sweep(now=1000.0)
    assert expired == ["old", "mid"]  # "old" by age; then "mid" to get under 8000 bytes (4128 each)
    assert not store.job_dir("old").exists() and store.job_dir("new").exists()
    assert {j.id: j.result_expired for j in store.load_all()} == {"old": True, "mid": True, "new": False}
    assert sup.sweep(now=1000.0) == []
