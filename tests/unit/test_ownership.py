"""The supervisor's one rule of visibility, its pages, quotas, and bounded job table;
the store's migration and recovery of jobs that never started."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from streaming_umap.auth import LOCAL, Principal, Quota
from streaming_umap.config import Settings
from streaming_umap.errors import InvalidInput, JobNotFound, PayloadTooLarge, QuotaExceeded
from streaming_umap.jobs.hub import Hub
from streaming_umap.jobs.models import Job, Status
from streaming_umap.jobs.store import JobStore
from streaming_umap.jobs.supervisor import Supervisor

ALICE = Principal("a1", "alice", quota=Quota(max_jobs=2, max_stored_bytes=10_000))
BOB = Principal("b2", "bob")
ROOT = Principal("r3", "root", admin=True)


def _job(job_id: str, owner: str | None, status: Status = Status.COMPLETED, at: float = 0.0,
         rows: int = 100, dims: int = 4) -> Job:
    return Job(id=job_id, kind="umap", params={"n_components": 2}, total_points=rows, dims=dims,
               total_chunks=1, status=status, created_at=at, finished_at=at + 1 if status in (
                   Status.COMPLETED, Status.FAILED) else None, owner=owner, result={"n_rows": rows})


def _sup(tmp_path: Path, jobs: list[Job], **settings: object) -> Supervisor:
    sup = Supervisor(Settings.from_env({}).with_overrides(**settings), JobStore(tmp_path), Hub())
    for job in jobs:
        sup.jobs[job.id] = job
    return sup


def test_owners_see_their_own_admins_and_local_callers_everything(tmp_path: Path) -> None:
    sup = _sup(tmp_path, [_job("x", "a1"), _job("y", "b2"), _job("z", None)])
    assert sup.get("x", ALICE).id == "x" and sup.get("x", ROOT).id == "x" and sup.get("z", LOCAL).id == "z"
    for job_id in ("y", "z", "nope"):
        with pytest.raises(JobNotFound, match=f"no job with id '{job_id}'"):
            sup.get(job_id, ALICE)
    assert [j.id for j in sup.list_jobs(ALICE, True)[0]] == ["x"]
    assert [j.id for j in sup.list_jobs(ROOT, True)[0]] == ["x", "y", "z"]
    assert sup.list_jobs(BOB, False)[0] == []  # finished jobs need include=all


def test_pages_follow_each_other_without_gaps_or_repeats(tmp_path: Path) -> None:
    # times as time.time() gives them (more digits than a fixed format keeps), some equal
    jobs = [_job(f"j{i:02d}", "a1", Status.PENDING, at=1796131838.9150555 + (i // 3) * 1e-7) for i in range(25)]
    sup = _sup(tmp_path, jobs)
    seen, after = [], None
    while True:
        page, total, after = sup.list_jobs(ALICE, limit=7, after=after)
        seen += [j.id for j in page]
        assert total == 25 and len(page) <= 7
        if after is None:
            break
    assert seen == [j.id for j in jobs]
    with pytest.raises(InvalidInput, match="after must be the next_after"):
        sup.list_jobs(ALICE, after="garbage")


def test_a_key_at_its_job_quota_gets_429_with_the_limit(tmp_path: Path) -> None:
    sup = _sup(tmp_path, [_job("p", "a1", Status.PENDING), _job("q", "a1", Status.PROCESSING),
                          _job("r", "b2", Status.PENDING)])
    with pytest.raises(QuotaExceeded, match="has 2 queued or running jobs; its limit is 2"):
        sup._check_quota(ALICE, 10)
    sup._check_quota(BOB, 10)  # no quota of its own
    sup.jobs["q"].status = Status.COMPLETED
    sup._check_quota(ALICE, 10)


def test_a_key_at_its_storage_quota_gets_429_and_an_input_beyond_it_413(tmp_path: Path) -> None:
    sup = _sup(tmp_path, [_job("p", "a1", Status.PENDING, rows=500, dims=4)])  # 8000 bytes of input
    with pytest.raises(PayloadTooLarge, match="may store at most 10000 bytes"):
        sup._check_quota(ALICE, 10_001)
    with pytest.raises(QuotaExceeded, match="stores 8000 bytes .* limit of 10000 bytes"):
        sup._check_quota(ALICE, 4000)
    sup._check_quota(ALICE, 2000)
    sup.jobs["p"].status = Status.COMPLETED  # now its result: 500 x 2 float32
    sup._check_quota(ALICE, 6000)


def test_the_job_table_forgets_old_finished_jobs_but_never_active_ones(tmp_path: Path) -> None:
    jobs = [_job(f"done{i}", None, Status.COMPLETED, at=float(i)) for i in range(6)]
    jobs += [_job("old-active", None, Status.PENDING, at=-100.0)]
    sup = _sup(tmp_path, jobs, max_records=3, record_ttl=1000.0)
    for job in jobs:
        sup.store.save(job)
        sup.store.job_dir(job.id).mkdir()
    assert sup.forget_old_records(now=10.0) == ["done0", "done1", "done2"]  # beyond 3 records
    assert sorted(sup.jobs) == ["done3", "done4", "done5", "old-active"]
    assert sup.forget_old_records(now=1004.5) == ["done3"]  # past the record TTL
    assert {j.id for j in sup.store.load_all()} == set(sup.jobs)
    assert not sup.store.job_dir("done0").exists() and sup.store.job_dir("old-active").exists()


def test_an_old_job_store_gets_the_owner_column(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "jobs.sqlite3")
    db.executescript("""
        CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT, status TEXT, stage TEXT, params TEXT,
            total_points INTEGER, dims INTEGER, total_chunks INTEGER, created_at REAL,
            started_at REAL, finished_at REAL, processed_points INTEGER, current_chunk INTEGER,
            epoch INTEGER, total_epochs INTEGER, progress REAL, error TEXT, warning TEXT,
            result TEXT, result_expired INTEGER, paused_seconds REAL, seq INTEGER);
        INSERT INTO jobs VALUES ('old', 'umap', 'completed', 'done', '{}', 10, 2, 1, 1.0, 1.0, 2.0,
            10, 1, NULL, NULL, 100.0, NULL, NULL, '{"n_rows": 10}', 0, 0.0, 5);
    """)
    db.commit()
    db.close()
    store = JobStore(tmp_path)
    (old,) = store.load_all()
    assert old.id == "old" and old.owner is None and old.status == Status.COMPLETED
    mine = _job("new", "a1")
    store.save(mine)
    assert {j.id: j.owner for j in store.load_all()} == {"old": None, "new": "a1"}
    store.close()
    JobStore(tmp_path).close()  # a second start finds nothing to migrate


def test_recovery_keeps_jobs_that_never_started_and_clears_every_other_folder(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    held = _job("held", "a1", Status.PAUSED)
    queued = _job("queued", "a1", Status.PENDING)
    running = _job("running", "a1", Status.PAUSED)
    running.started_at, running.stage = 5.0, "layout"
    cancelling = _job("cancelling", "a1", Status.CANCELLING)
    cancelling.started_at = 5.0
    for job in (held, queued, running, cancelling):
        store.save(job)
        store.write_input(job.id, np.ones((4, 2)))
    (tmp_path / "jobs" / "orphan").mkdir()
    store.close()
    again = JobStore(tmp_path)
    jobs = {j.id: j for j in again.recover(now=100.0)}
    assert jobs["held"].status == Status.PAUSED and again.input_path("held").exists()
    assert jobs["queued"].status == Status.PENDING
    assert jobs["running"].status == Status.FAILED and "last recorded stage: 'layout'" in str(jobs["running"].error)
    assert jobs["cancelling"].status == Status.CANCELLED
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == ["held", "queued"]
