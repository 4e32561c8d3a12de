from __future__ import annotations

import pytest

from streaming_umap.errors import JobStateConflict
from streaming_umap.jobs.models import TERMINAL_STATUSES, TRANSITIONS, Job, Status


def make_job() -> Job:
    return Job(id="j1", kind="umap", params={}, total_points=10, dims=2, total_chunks=1,
               created_at=100.0)


def test_terminal_states_never_change() -> None:
    for status in TERMINAL_STATUSES:
        assert TRANSITIONS[status] == frozenset()
        job = make_job()
        job.status = status
        for target in Status:
            if target != status:
                with pytest.raises(JobStateConflict, match=f"is {status.value}; it cannot become"):
                    job.move_to(target)


def test_processing_time_excludes_pauses() -> None:
    job = make_job()
    job.move_to(Status.PROCESSING, now=100.0)
    job.move_to(Status.PAUSED, now=103.0)
    assert job.processing_time(now=110.0) == pytest.approx(3.0)
    assert job.estimated_completion(now=110.0) is None
    job.move_to(Status.PROCESSING, now=110.0)
    job.move_to(Status.COMPLETED, now=112.0)
    assert job.processing_time(now=500.0) == pytest.approx(5.0)
    assert job.finished_at == 112.0 and job.eta_seconds == 0.0


def test_pending_job_paused_in_queue_has_no_processing_time() -> None:
    job = make_job()
    job.move_to(Status.PAUSED, now=101.0)
    job.move_to(Status.PENDING, now=105.0)
    assert job.started_at is None
    job.move_to(Status.PROCESSING, now=106.0)
    assert job.processing_time(now=108.0) == pytest.approx(2.0)


def test_cancelling_only_ends_cancelled_or_failed() -> None:
    job = make_job()
    job.move_to(Status.PROCESSING)
    job.move_to(Status.CANCELLING)
    with pytest.raises(JobStateConflict):
        job.move_to(Status.COMPLETED)
    job.move_to(Status.CANCELLED)
    assert job.terminal


def test_seq_increases_and_repr_shows_counters() -> None:
    job = make_job()
    assert [job.next_seq() for _ in range(3)] == [1, 2, 3]
    assert "status=pending" in repr(job) and "seq=3" in repr(job)
