"""The supervisor: owns the queue and every job's state; an executor runs the jobs.

It lives in the server process, on the event loop. It turns what the executor relays
(:mod:`.protocol` events) into job state (persisted by the store), progress and ETA
(:class:`~streaming_umap.pipeline.eta.ProgressTracker`) and frames for the hub. Which
processes or cluster run the jobs is the executor's business (:mod:`.executors`).
Lifecycle: :meth:`start` -> (events) -> :meth:`stop`.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import logging
import math
import shutil
import sqlite3
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..auth import Principal
from ..config import Settings
from ..errors import (
    InvalidInput,
    JobNotFound,
    JobStateConflict,
    ModelNotFound,
    PayloadTooLarge,
    QueueFull,
    QuotaExceeded,
    ResultGone,
    ServiceUnavailable,
    StorageFull,
    is_disk_full,
)
from ..pipeline.eta import CostModel, ProgressTracker
from . import protocol as msg
from .executors import Executor, create_executor
from .hub import Hub
from .metrics import Metrics
from .model_store import ModelRecord, clustering_space
from .models import ACTIVE_STATUSES, Job, Status
from .store import JobStore
from .views import frame_of

log = logging.getLogger(__name__)

WARMUP_KEY = "warmup:seconds"  # the last warm-up's length, kept beside the cost model
WARMUP_PRIOR_SECONDS = 60.0  # before any warm-up was measured here (2 cores, cold cache)
TICK_SECONDS = 0.05  # twice the 10 frames/s a subscriber gets: the first change reaches it within 100 ms
SAVE_INTERVAL = 2.0
MAX_PAGE = 1000  # jobs per page of list_jobs


def job_cursor(job: Job | ModelRecord) -> str:
    """Where a page of ``list_jobs`` ended: opaque to clients, who pass it back as ``after``."""
    return f"{job.created_at!r}.{job.id}"  # repr: the exact float, so no job is listed twice


def _parse_cursor(cursor: str) -> tuple[float, str]:
    created, _, job_id = cursor.rpartition(".")
    try:
        return float(created), job_id
    except ValueError:
        raise InvalidInput(f"after must be the next_after of a previous page, found {cursor!r}",
                           field="after") from None


def _page(ordered: list[Any], limit: int, after: str | None) -> tuple[list[Any], int, str | None]:
    """One page of jobs or models (sorted by creation, then id) after the cursor ``after``:
    the page, how many there are in all, and the cursor of the next page (None on the last)."""
    start = 0
    if after is not None:
        mark = _parse_cursor(after)
        start = next((i for i, x in enumerate(ordered) if (x.created_at, x.id) > mark), len(ordered))
    page = ordered[start:start + limit]
    more = start + limit < len(ordered)
    return page, len(ordered), (job_cursor(page[-1]) if more and page else None)


def _storage_error(exc: BaseException, what: str) -> StorageFull | None:
    """The 507 for a write that failed because the disk is full (SQLite says so in words)."""
    if is_disk_full(exc) or "full" in str(exc).lower():  # "database or disk is full"
        return StorageFull(f"the server's disk is full: {what} (nothing was changed); try again later")
    return None


class Supervisor:
    def __init__(self, settings: Settings, store: JobStore, hub: Hub,
                 executor: Executor | None = None, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self.metrics = metrics
        self.executor = executor if executor is not None else create_executor(settings)
        self.jobs: dict[str, Job] = {}
        self.queue: deque[str] = deque()
        self.trackers: dict[str, ProgressTracker] = {}
        self.models: dict[str, CostModel] = {}
        self.started_at = time.time()
        self._ids = itertools.count(1)
        self._reserved = 0
        self._saved_at: dict[str, float] = {}
        # progress a stopped worker had sent before SIGSTOP held it, read after its 'paused'
        # frame: applied when it resumes, so that a paused job's status and frame agree
        self._late_progress: dict[str, msg.Progress] = {}
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def backend(self) -> str:
        return self.executor.backend

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        for job in self.store.recover():
            self.jobs[job.id] = job
            if job.status == Status.PENDING or job.held_in_queue:  # paused ones wait for resume
                self.queue.append(job.id)
        await self.executor.start(self)
        self._tasks = [
            asyncio.create_task(self._ticker(), name="supervisor-tick"),
            asyncio.create_task(self._sweeper(), name="supervisor-sweep"),
        ]
        log.info("supervisor started on the %s executor: %d jobs recovered",
                 self.executor.name, len(self.jobs))

    async def stop(self, timeout: float = 5.0) -> None:
        """Fail what is running, then let the executor stop its workers within ``timeout``."""
        for task in self._tasks:
            task.cancel()
        now = time.time()
        for job in self.jobs.values():
            if job.status in (Status.PROCESSING, Status.PAUSED, Status.CANCELLING) and self.executor.holds(job.id):
                self._finish(job, Status.FAILED, now, error="the server shut down while this job was running; submit it again")
        await self.executor.stop(timeout)
        log.info("supervisor stopped")

    # ------------------------------------------------------------------ public API

    def get(self, job_id: str, principal: Principal) -> Job:
        """The job, if ``principal`` may see it; another owner's job is as unknown as a
        job that does not exist (404), so ids cannot be probed."""
        job = self.jobs.get(job_id)
        if job is None or not principal.may_see(job.owner):
            raise JobNotFound(job_id)
        return job

    def list_jobs(self, principal: Principal, include_all: bool = False, *,
                  limit: int = MAX_PAGE, after: str | None = None) -> tuple[list[Job], int, str | None]:
        """One page of the jobs ``principal`` may see, oldest first: the page, how many
        there are in all, and the cursor of the next page (None on the last)."""
        visible = sorted((j for j in self.jobs.values() if principal.may_see(j.owner)
                          and (include_all or j.status in ACTIVE_STATUSES)),
                         key=lambda j: (j.created_at, j.id))
        return _page(visible, limit, after)

    def pending_count(self) -> int:
        return sum(1 for j in self.jobs.values() if j.status == Status.PENDING) + self._reserved

    def model(self, backend: str | None = None) -> CostModel:
        name = backend or (self.backend if self.backend in ("cpu", "gpu") else "cpu")
        if name not in self.models:
            stored = self.store.load_cost_model(name)
            stored.pop(WARMUP_KEY, None)  # kept beside the model, not a stage of it
            self.models[name] = CostModel(name, stored)
        return self.models[name]

    async def submit(self, kind: str, params: dict[str, Any], data: np.ndarray, warning: str | None,
                     principal: Principal, input_file: Path | None = None) -> Job:
        """Queue a job owned by ``principal``. ``input_file``: a spooled ``.npy`` holding
        exactly ``data``, which becomes the job's input by a rename instead of being
        written again."""
        unavailable = self.executor.available()
        if unavailable is not None:
            raise ServiceUnavailable(unavailable)
        if self.pending_count() >= self.settings.max_queue:
            raise QueueFull(
                f"the queue is full ({self.settings.max_queue} pending jobs); try again later",
                retry_after=self._retry_after(),
            )
        rows, dims = data.shape
        self._check_quota(principal, rows * dims * 4)
        admission = self.executor.admission(kind, rows, dims, params)
        if admission is not None and admission.verdict == "never":
            raise PayloadTooLarge(admission.message, field="data")
        chunk = params.get("chunk_size") or self.settings.chunk_size
        job = Job(id=uuid.uuid4().hex, kind=kind, params=params, total_points=rows, dims=dims,
                  total_chunks=max(1, math.ceil(rows / chunk)), warning=warning,
                  owner=principal.owner)
        self._reserved += 1
        try:
            await asyncio.to_thread(self.store.write_input, job.id, data, input_file)
        except OSError as exc:
            await asyncio.to_thread(self.store.delete, job.id)  # no half-written input stays
            if is_disk_full(exc):
                raise StorageFull(f"the server's disk is full: the input of {rows} x {dims} could "
                                  "not be stored (nothing was kept); try again later") from None
            raise
        finally:
            self._reserved -= 1
        self.jobs[job.id] = job
        self.queue.append(job.id)
        self._estimate_pending(time.time())
        try:
            self.store.save(job)
        except (OSError, sqlite3.Error) as exc:  # not queued after all: no record, no input
            del self.jobs[job.id]
            self.queue.remove(job.id)
            await asyncio.to_thread(self.store.delete, job.id)
            full = _storage_error(exc, "the job could not be recorded")
            if full is not None:
                raise full from None
            raise
        self.hub.publish(job.id, frame_of(job, "progress"), important=True)
        log.info("queued %r", job)
        self._dispatch()
        return job

    async def immediate(self, kind: str, params: dict[str, Any], data: np.ndarray,
                        principal: Principal | None = None) -> dict[str, Any]:
        """Answer a small request at once. ``keep_model``: the model is staged by the
        worker in a scratch folder and adopted here (its id is the answer's model_id)."""
        unavailable = self.executor.available()
        if unavailable is not None:
            raise ServiceUnavailable(unavailable)
        model_id = self._model_used(kind, params)
        staged = None
        if params.get("keep_model"):
            staged = self.store.spool_dir / uuid.uuid4().hex
            await asyncio.to_thread(staged.mkdir, parents=True)
        request = msg.RunImmediate(next(self._ids), kind, params, data,
                                   params.get("chunk_size") or self.settings.chunk_size,
                                   self.settings.exact_knn_max_rows,
                                   model_dir=self._model_dir(model_id), output_dir=str(staged) if staged else None)
        try:
            result = await self.executor.immediate(request)
            if staged is not None and result.pop("model_staged", False):
                owner = principal.owner if principal is not None else None
                record = await asyncio.to_thread(self.store.models.adopt, staged.name, staged, owner, None)
                result["model_id"] = record.id
        finally:
            if staged is not None:
                await asyncio.to_thread(shutil.rmtree, staged, True)
        if model_id is not None:
            await asyncio.to_thread(self.store.models.touch, model_id)
        return result

    # ------------------------------------------------------------------ kept models

    @staticmethod
    def _model_used(kind: str, params: dict[str, Any]) -> str | None:
        """The kept model a job reads: a transform's, or the one a refit starts from."""
        return params.get("model_id") if kind == "transform" else params.get("init_from")

    def _model_dir(self, model_id: str | None) -> str | None:
        return str(self.store.models.path(model_id)) if model_id else None

    def model_record(self, model_id: str, principal: Principal, field: str | None = None) -> ModelRecord:
        """The kept model, if ``principal`` may use it: 404 otherwise (another key's is as
        unknown as a missing one), 409 while the job that keeps it is still running."""
        record = self.store.models.get(model_id)
        if record is not None and principal.may_see(record.owner):
            return record
        job = self.jobs.get(model_id)
        if (job is not None and principal.may_see(job.owner) and job.kind == "umap"
                and job.params.get("keep_model") and job.status in ACTIVE_STATUSES):
            raise JobStateConflict(f"model {model_id} is still being fitted by job {model_id} "
                                   f"({job.status.value}); it exists once that job completes",
                                   field=field)
        raise ModelNotFound(model_id, field=field)

    def model_info(self, record: ModelRecord) -> dict[str, Any]:
        return record.info(self.settings.model_ttl)

    def list_models(self, principal: Principal, *, limit: int = MAX_PAGE,
                    after: str | None = None) -> tuple[list[ModelRecord], int, str | None]:
        visible = [r for r in self.store.models.list() if principal.may_see(r.owner)]
        return _page(visible, limit, after)

    async def delete_model(self, model_id: str, principal: Principal) -> None:
        """Remove a model; refused (409) while a queued or running job uses it."""
        self.model_record(model_id, principal)
        users = [j.id for j in self.jobs.values() if j.status in ACTIVE_STATUSES
                 and self._model_used(j.kind, j.params) == model_id]
        if users:
            raise JobStateConflict(f"model {model_id} is used by {len(users)} queued or running "
                                   f"job{'s' if len(users) > 1 else ''} ({', '.join(users[:5])}); "
                                   "cancel them or wait for them to end")
        await asyncio.to_thread(self.store.models.delete, model_id)
        log.info("deleted model %s", model_id)

    async def attach_clustering(self, model_id: str, job_id: str, principal: Principal) -> ModelRecord:
        """Attach the completed cluster job ``job_id`` of the model's layout or training
        rows to the model (replacing any before): transforms into it then label the rows
        they place. 404 unknown model or job, 409 not completed, 410 result expired, 422
        another kind or shape."""
        record = self.model_record(model_id, principal)
        job = self.get(job_id, principal)
        if job.status != Status.COMPLETED:
            raise JobStateConflict(f"job {job_id} is {job.status.value}; a clustering can be attached "
                                   "once it has completed", field="job_id")
        if job.result_expired or not self.store.result_path(job.id, job.kind).exists():
            raise ResultGone(f"the result of job {job_id} has expired; cluster the model again",
                             field="job_id")
        space = clustering_space(record.meta, job.id, job.kind, job.total_points, job.dims)
        return await asyncio.to_thread(self.store.models.attach_clustering, model_id, job.id,
                                       self.store.job_dir(job.id), job.params, space)

    async def detach_clustering(self, model_id: str, principal: Principal) -> ModelRecord:
        """Remove the model's clustering (nothing to remove is not an error)."""
        self.model_record(model_id, principal)
        return await asyncio.to_thread(self.store.models.detach_clustering, model_id)

    def _check_quota(self, principal: Principal, input_bytes: int) -> None:
        """A key's own limits: jobs queued or running, and bytes stored (its active jobs'
        inputs and its results not yet expired)."""
        quota, mine = principal.quota, [j for j in self.jobs.values() if j.owner == principal.key_id]
        name = f"API key {principal.name!r}"
        if quota.max_jobs is not None:
            active = [j for j in mine if j.status in ACTIVE_STATUSES]
            if len(active) >= quota.max_jobs:
                soonest = min((j.eta_seconds or 5.0 for j in active), default=5.0)
                raise QuotaExceeded(
                    f"{name} has {len(active)} queued or running jobs; its limit is "
                    f"{quota.max_jobs} (STREAMING_UMAP_KEY_MAX_JOBS, or keys create --max-jobs)",
                    retry_after=max(1, int(soonest)))
        limit = quota.max_stored_bytes
        if limit is None:
            return
        if input_bytes > limit:
            raise PayloadTooLarge(
                f"this input is {input_bytes} bytes as float32; {name} may store at most "
                f"{limit} bytes (STREAMING_UMAP_KEY_MAX_STORED_MB, or keys create --max-stored-mb)",
                field="data")
        used = sum(j.stored_bytes() for j in mine) + sum(
            r.size_bytes for r in self.store.models.list() if r.owner == principal.key_id)
        if used + input_bytes > limit:
            raise QuotaExceeded(
                f"{name} stores {used} bytes of inputs, results and models; with this input of "
                f"{input_bytes} bytes it would pass its limit of {limit} bytes "
                "(STREAMING_UMAP_KEY_MAX_STORED_MB): wait for jobs to end or results to expire",
                retry_after=self._expiry_wait(mine))

    def _expiry_wait(self, jobs: list[Job]) -> int:
        finished = [j.finished_at for j in jobs if j.stored_bytes() and j.finished_at]
        if not finished:
            return 60
        return max(1, int(min(finished) + self.settings.result_ttl - time.time()))

    def _save_or_undo(self, job: Job, before: Job, what: str) -> None:
        """Record a change a caller asked for; if the record cannot be written, the job is
        put back as it was (memory and database agree) and the caller gets a 507."""
        try:
            self.store.save(job)
        except (OSError, sqlite3.Error) as exc:
            job.__dict__.update(before.__dict__)
            full = _storage_error(exc, what)
            if full is not None:
                raise full from None
            raise

    def cancel(self, job_id: str, principal: Principal) -> Job:
        job = self.get(job_id, principal)
        if job.terminal:
            raise JobStateConflict(f"job {job_id} is already {job.status.value}; nothing to cancel")
        if job.status == Status.CANCELLING:
            return job
        now, before = time.time(), copy.copy(job)
        if not self.executor.holds(job_id):
            self._finish(job, Status.CANCELLED, now, error="cancelled before it started", requested=True)
            return job
        job.move_to(Status.CANCELLING, now)
        self._save_or_undo(job, before, f"job {job_id} could not be marked cancelling")
        self._publish(job, "progress", important=True)
        self.executor.cancel(job_id)
        return job

    def pause(self, job_id: str, principal: Principal) -> tuple[Job, str]:
        job = self.get(job_id, principal)
        if job.status == Status.PAUSED:
            return job, "the job is already paused"
        if job.status == Status.PENDING:
            before = copy.copy(job)
            job.move_to(Status.PAUSED)
            self._save_or_undo(job, before, f"job {job_id} could not be paused")
            self._publish(job, "paused", important=True)
            return job, "the job is held in the queue until resumed"
        if job.status == Status.PROCESSING and self.executor.holds(job_id):
            return job, self.executor.pause(job_id)
        raise JobStateConflict(f"job {job_id} is {job.status.value}; only pending or processing jobs can be paused")

    def resume(self, job_id: str, principal: Principal) -> tuple[Job, str]:
        job = self.get(job_id, principal)
        held = self.executor.holds(job_id)
        if job.status == Status.PAUSED and not held:
            before = copy.copy(job)
            job.move_to(Status.PENDING)
            self._save_or_undo(job, before, f"job {job_id} could not be resumed")
            self._publish(job, "resumed", important=True)
            self._dispatch()
            return job, "the job is back in the queue"
        if job.status in (Status.PAUSED, Status.PROCESSING) and held:
            return job, self.executor.resume(job_id)
        raise JobStateConflict(f"job {job_id} is {job.status.value}, not paused")

    def set_live(self, job_id: str) -> None:
        """Tell whoever runs the job how often subscribers want the layout."""
        if self.executor.holds(job_id):
            self.executor.set_live(job_id, self.hub.live_every(job_id))

    def health(self, principal: Principal) -> dict[str, Any]:
        """Service health. The worker processes (pids, which job each runs) are shown to
        admins only; other keys see the counts."""
        executor = self.executor.health()
        status = "ok" if self.executor.ready() else "warming"
        if executor.pop("degraded", False):
            status = "degraded"
        if not principal.admin:
            executor.pop("processes", None)
        device = self.executor.device
        return {
            "status": status,
            "version": __version__,
            "backend": self.backend,
            "device": str(device.get("device", "unknown until a worker is ready")),
            "executor": self.executor.name,
            **executor,
            "queue_depth": sum(1 for j in self.jobs.values() if j.status == Status.PENDING),
            "max_queue": self.settings.max_queue,
            "active_jobs": sum(1 for j in self.jobs.values() if j.status in ACTIVE_STATUSES),
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "gpu": device.get("gpu"),
        }

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self) -> None:
        while self.executor.free_slots() > 0:
            job = self._next_pending()
            if job is None or not self._start_job(job):
                return

    def _next_pending(self) -> Job | None:
        for job_id in list(self.queue):
            job = self.jobs.get(job_id)
            if job is None or job.status != Status.PENDING:
                if job is None or job.terminal:
                    self.queue.remove(job_id)
                continue
            admission = self.executor.admission(job.kind, job.total_points, job.dims, job.params)
            if admission is not None and admission.verdict == "wait":
                return None  # the head of the queue waits for GPU memory; nobody overtakes it
            self.queue.remove(job_id)
            return job
        return None

    def _start_job(self, job: Job) -> bool:
        now = time.time()
        chunk = job.params.get("chunk_size") or self.settings.chunk_size
        sample = self._sample_rows(job)
        model_id = self._model_used(job.kind, job.params)
        if model_id is not None and self.store.models.get(model_id) is None:
            self._finish(job, Status.FAILED, now, error=f"model {model_id} was removed before this job started")
            return True
        run = msg.RunJob(job.id, job.kind, job.params, str(self.store.input_path(job.id)),
                         str(self.store.job_dir(job.id)), chunk, self.settings.exact_knn_max_rows,
                         rows=job.total_points, dims=job.dims, fit_sample_rows=sample,
                         model_dir=self._model_dir(model_id))
        if not self.executor.start_job(run):
            self.queue.appendleft(job.id)
            return False
        job.move_to(Status.PROCESSING, now)
        plan = self.model().plan(job.kind, job.total_points, job.dims, self._plan_params(job),
                                 self.executor.exact_max_rows(job.params))
        self.trackers[job.id] = ProgressTracker(plan, now)
        job.progress, job.eta_seconds = self.trackers[job.id].estimate(now)
        self._save_quietly(job, now)
        if self.hub.live_every(job.id):
            self.set_live(job.id)
        self._publish(job, "progress", important=True)
        log.info("started %r", job)
        return True

    def _sample_rows(self, job: Job) -> int:
        """A umap job's fit_sample_rows (a refit fits every row: it starts from them all)."""
        if job.kind != "umap" or job.params.get("init_from"):
            return 0
        return self.executor.fit_sample_rows(job.params)

    def _plan_params(self, job: Job) -> dict[str, Any]:
        """What the cost model needs beyond the job's parameters: the sample fitted, and
        the kept model's size for a transform or a refit."""
        extra: dict[str, Any] = {"fit_sample_rows": self._sample_rows(job)}
        model_id = self._model_used(job.kind, job.params)
        record = self.store.models.get(model_id) if model_id else None
        if record is not None:
            extra["model_rows"] = record.meta["rows"]
            if job.kind == "transform":
                extra["n_neighbors"] = record.meta["n_neighbors"]
        return {**job.params, **extra}

    # ------------------------------------------------------------------ executor events

    def jobs_waiting(self) -> bool:
        return any(self.jobs[j].status == Status.PENDING for j in self.queue if j in self.jobs)

    def capacity(self) -> None:
        self._dispatch()

    def worker_ready(self, ready: msg.Ready) -> None:
        stored = self.store.load_cost_model(ready.backend)
        if not any(key != WARMUP_KEY for key in stored):
            self.model(ready.backend).calibrate(ready.calibration)
        if ready.warmup_seconds > 1.0 and stored.get(WARMUP_KEY) != ready.warmup_seconds:
            self.store.save_cost_model(ready.backend, {WARMUP_KEY: ready.warmup_seconds})

    def job_lost(self, job_id: str, how: str) -> None:
        job = self.jobs.get(job_id)
        if job is None or job.terminal:
            return
        now = time.time()
        if job.status == Status.CANCELLING:
            self._finish(job, Status.CANCELLED, now, error="cancelled on request (worker stopped)")
        else:
            self._finish(job, Status.FAILED, now,
                         error=f"the worker process was lost ({how}) while processing this job")

    def job_event(self, job_id: str, message: object) -> None:
        job = self.jobs.get(job_id)
        if job is None or job.terminal:
            return
        now = time.time()
        tracker = self.trackers.get(job.id)
        if isinstance(message, msg.Started):
            job.worker = message.worker
            self.store.save(job)
        elif isinstance(message, msg.StageStarted):
            job.stage = message.stage
            if tracker:
                first_run = (self.model().first_run(message.stage, job.params)
                             if message.info.get("first_run") else ("", 0.0))
                tracker.on_stage(message.stage, message.total, message.at, first_run)
            if message.stage == "layout":
                job.total_epochs = message.total
                job.epoch = 0
            self._update_estimate(job, now)
            self._publish(job, "progress", important=True)
            self._save_quietly(job, now)  # a few per job: a restart names the right stage
        elif isinstance(message, msg.Progress):
            self._on_progress(job, message, now)
        elif isinstance(message, msg.Held):
            self._on_held(job, message, now)
        elif isinstance(message, msg.Layout):
            header = {"type": "layout", "job_id": job.id, "epoch": message.epoch,
                      "rows": int(message.embedding.shape[0]),
                      "n_components": int(message.embedding.shape[1]),
                      "bytes": int(message.embedding.nbytes)}
            self.hub.publish_layout(job.id, header, message.embedding.astype("<f4").tobytes())
        elif isinstance(message, msg.Done):
            self._on_done(job, message, now)
        elif isinstance(message, msg.Failed):
            self._finish(job, Status.CANCELLED if job.status == Status.CANCELLING else Status.FAILED,
                         now, error=message.error)
        elif isinstance(message, msg.Cancelled):
            self._finish(job, Status.CANCELLED, now, error="cancelled on request")

    def _on_progress(self, job: Job, message: msg.Progress, now: float) -> None:
        if job.status == Status.PAUSED:
            self._late_progress[job.id] = message  # counters only grow: the newest holds all
            return
        c = message.counters
        job.processed_points = max(job.processed_points, c.get("processed_points", job.processed_points))
        job.current_chunk = max(job.current_chunk, c.get("current_chunk", job.current_chunk))
        if "epoch" in c:
            job.epoch, job.total_epochs = c["epoch"], c.get("total_epochs", job.total_epochs)
        tracker = self.trackers.get(job.id)
        if tracker:
            tracker.on_advance(message.done, message.at)
        self._update_estimate(job, now)
        self._publish(job, "progress")
        if now - self._saved_at.get(job.id, 0.0) >= SAVE_INTERVAL:
            self._save_quietly(job, now)

    def _save_quietly(self, job: Job, now: float) -> None:
        """Progress records: one that cannot be written (a full disk) is written later."""
        try:
            self.store.save(job)
            self._saved_at[job.id] = now
        except (OSError, sqlite3.Error) as exc:
            log.warning("job %s: its progress could not be recorded (%s)", job.id, exc)

    def _on_held(self, job: Job, message: msg.Held, now: float) -> None:
        tracker = self.trackers.get(job.id)
        if message.paused and job.status == Status.PROCESSING:
            job.move_to(Status.PAUSED, now)
            if tracker:
                tracker.pause(now)
            self._publish(job, "paused", important=True)
        elif not message.paused and job.status == Status.PAUSED:
            job.move_to(Status.PROCESSING, now)
            if tracker:
                tracker.resume(now)
            self._update_estimate(job, now)
            self._publish(job, "resumed", important=True)
            late = self._late_progress.pop(job.id, None)
            if late is not None:
                self._on_progress(job, late, now)
        self._save_quietly(job, now)

    def _on_done(self, job: Job, message: msg.Done, now: float) -> None:
        if job.status == Status.CANCELLING:
            self._finish(job, Status.CANCELLED, now, error="cancelled on request (after it had finished computing)")
            return
        tracker = self.trackers.get(job.id)
        stages: list[tuple[str, float]] = []
        if tracker:
            model = self.model()
            for plan, seconds in tracker.finish(now):
                if plan.first_run_key:  # the stage's own cost is known; the rest was the first run's
                    model.observe(plan.first_run_key, 1.0, seconds - (plan.seconds - plan.first_run_seconds))
                else:
                    model.observe(plan.key, plan.units, seconds)
                stages.append((plan.stage, seconds))
            self.store.save_cost_model(model.backend, model.coef)
            log.info("cost model after %s: %s", job.id,
                     {f"{p.key}": f"{s:.2f}s/{p.seconds:.2f}s" for p, s in tracker.finished})
        job.result = dict(message.summary, kind=job.kind)
        if job.result.pop("model_staged", False):
            self._adopt_model(job)
        used = self._model_used(job.kind, job.params)
        if used is not None:
            self._touch_model(used, now)
        if message.warnings:
            job.warning = "; ".join(filter(None, [job.warning, *message.warnings]))
        job.processed_points = job.total_points
        job.current_chunk = job.total_chunks
        job.progress, job.stage = 100.0, "done"
        self._finish(job, Status.COMPLETED, now, stages=stages)

    def _adopt_model(self, job: Job) -> None:
        """Move the model the worker staged in the job's folder into the models folder
        (renames and one record: no array is copied). A model that cannot be kept leaves
        the layout completed, with a warning that says so."""
        try:
            self.store.models.adopt(job.id, self.store.job_dir(job.id), job.owner, job.id)
            assert job.result is not None
            job.result["model_id"] = job.id
        except (OSError, sqlite3.Error, ValueError, KeyError) as exc:
            log.error("job %s: its model could not be kept (%s)", job.id, exc)
            job.warning = "; ".join(filter(None, [job.warning, f"the model could not be kept ({exc})"]))

    def _touch_model(self, model_id: str, now: float) -> None:
        try:
            self.store.models.touch(model_id, now)
        except (OSError, sqlite3.Error) as exc:
            log.warning("model %s: its last use could not be recorded (%s)", model_id, exc)

    def _finish(self, job: Job, status: Status, now: float, error: str | None = None,
                requested: bool = False, stages: list[tuple[str, float]] | None = None) -> None:
        """End the job. The record is written before its files go. If it cannot be (a full
        disk): a ``requested`` end (a caller's cancel) is undone and the caller gets the
        507; an end the worker reported stands in memory and is recorded at a later save."""
        before = copy.copy(job)
        job.move_to(status, now)
        if status != Status.COMPLETED:
            job.error = error
        if requested:
            self._save_or_undo(job, before, f"job {job.id} could not be recorded as {status.value}")
        else:
            try:
                self.store.save(job)
            except (OSError, sqlite3.Error) as exc:
                log.error("job %s is %s but its record could not be written (%s)", job.id,
                          status.value, exc)
        if status != Status.COMPLETED:
            self.store.remove_results(job.id)
        else:
            self.store.remove_input(job.id)
        self.trackers.pop(job.id, None)
        self._saved_at.pop(job.id, None)
        self._late_progress.pop(job.id, None)
        if job.id in self.queue:
            self.queue.remove(job.id)
        self._publish(job, status.value, important=True)
        if self.metrics is not None:
            self.metrics.job_finished(job, self.backend, stages or [])
        log.info("%s %r%s", status.value, job, f": {error}" if error else "")

    # ------------------------------------------------------------------ estimates

    def _update_estimate(self, job: Job, now: float) -> None:
        tracker = self.trackers.get(job.id)
        if tracker is not None:
            job.progress, job.eta_seconds = tracker.estimate(now)

    def _estimate_pending(self, now: float) -> None:
        """ETA of queued jobs: what is left of the workers' warm-up, the work ahead of them
        spread over the workers, plus their own; and what each one waits for."""
        workers = max(1, self.settings.max_concurrent_jobs)  # the jobs that run at once
        ahead = sum(j.eta_seconds or 0.0 for j in self.jobs.values() if j.status == Status.PROCESSING)
        model = self.model()
        warming = None if self.executor.ready() else self.executor.warming()
        warm_left = self._warmup_left(warming)
        queued = 0
        for job_id in self.queue:
            job = self.jobs.get(job_id)
            if job is None or job.status != Status.PENDING:
                continue
            own = model.total(model.plan(job.kind, job.total_points, job.dims, self._plan_params(job),
                                         self.executor.exact_max_rows(job.params)))
            job.eta_seconds = warm_left + ahead / workers + own
            job.waiting_for = self._waiting_for(warming, queued)
            ahead += own
            queued += 1

    def _warmup_left(self, warming: dict[str, Any] | None) -> float:
        """Seconds of warm-up still to come, from how long the last one took."""
        if self.executor.ready():
            return 0.0
        elapsed = float((warming or {}).get("elapsed_seconds", 0.0))
        return max(1.0, self._warmup_expected() - elapsed)

    def _warmup_expected(self) -> float:
        backend = self.backend if self.backend in ("cpu", "gpu") else (
            self.settings.backend if self.settings.backend != "auto" else "cpu")
        return self.store.load_cost_model(backend).get(WARMUP_KEY, WARMUP_PRIOR_SECONDS)

    def _waiting_for(self, warming: dict[str, Any] | None, queued_before: int) -> str | None:
        if warming is not None:
            return (f"the workers are warming up ({warming['step']}, "
                    f"{warming['elapsed_seconds']:.0f} s so far); queued jobs start once one is warm")
        if not self.executor.ready():
            return "no worker is ready yet"
        if queued_before:
            return f"{queued_before} queued job{'s' if queued_before > 1 else ''} ahead of it"
        return "a free worker" if self.executor.free_slots() == 0 else None

    def _retry_after(self) -> int:
        pending = [j.eta_seconds or 0.0 for j in self.jobs.values() if j.status == Status.PENDING]
        return max(1, int(min(pending, default=5.0)))

    async def _ticker(self) -> None:
        """Keeps ETAs moving through stages with no checkpoints (and pending ETAs fresh)."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.time()
            for job in list(self.jobs.values()):
                if job.status != Status.PROCESSING:
                    continue
                before = (job.progress, job.eta_seconds)
                self._update_estimate(job, now)
                if before[1] is None or abs(job.progress - before[0]) >= 0.05:
                    self._publish(job, "progress")
            self._estimate_pending(now)

    async def _sweeper(self) -> None:
        while True:
            try:
                self.sweep()
            except Exception:
                log.exception("result sweep failed")
            await asyncio.sleep(self.settings.sweep_interval)

    def sweep(self, now: float | None = None) -> list[str]:
        """Expire results past the TTL, then the oldest ones while over the disk budget;
        then forget finished jobs past the record TTL or beyond the record limit."""
        now = time.time() if now is None else now
        finished = sorted(
            (j for j in list(self.jobs.values()) if j.terminal and not j.result_expired and j.result is not None),
            key=lambda j: j.finished_at or 0.0,
        )
        expired: list[str] = []
        sizes = {j.id: self.store.folder_bytes(j.id) for j in finished}
        used = sum(sizes.values())
        for job in finished:
            too_old = (job.finished_at or now) < now - self.settings.result_ttl
            over = used > self.settings.disk_budget_bytes
            if not (too_old or over):
                continue
            self.store.remove_results(job.id)
            used -= sizes[job.id]
            job.result_expired = True
            self.store.save(job)
            expired.append(job.id)
            log.info("expired the result of job %s (%s, %d bytes freed)", job.id,
                     "past its TTL" if too_old else "over the disk budget", sizes[job.id])
        self.sweep_models(now, used)
        self.forget_old_records(now)
        return expired

    def sweep_models(self, now: float, results_bytes: int) -> list[str]:
        """Remove models unused past STREAMING_UMAP_MODEL_TTL, then, while results and
        models together are over the disk budget, the least recently used ones. A model a
        queued or running job needs stays."""
        models = self.store.models
        in_use = {self._model_used(j.kind, j.params) for j in self.jobs.values() if j.status in ACTIVE_STATUSES}
        used = results_bytes + models.total_bytes()
        gone: list[str] = []
        for record in sorted(models.list(), key=lambda r: r.last_used_at):
            too_old = record.last_used_at < now - self.settings.model_ttl
            if record.id in in_use or not (too_old or used > self.settings.disk_budget_bytes):
                continue
            models.delete(record.id)
            used -= record.size_bytes
            gone.append(record.id)
            log.info("removed model %s (%s, %d bytes freed)", record.id,
                     "unused past its TTL" if too_old else "over the disk budget", record.size_bytes)
        return gone

    def forget_old_records(self, now: float) -> list[str]:
        """Finished jobs whose record is past STREAMING_UMAP_RECORD_TTL, then the oldest
        beyond STREAMING_UMAP_MAX_RECORDS, leave memory and the database (with their
        files): the job table stays bounded. Active jobs are never forgotten."""
        ended = sorted((j for j in self.jobs.values() if j.terminal),
                       key=lambda j: (j.finished_at or 0.0, j.id))
        extra = len(ended) - self.settings.max_records
        gone = [j for i, j in enumerate(ended)
                if i < extra or (j.finished_at or now) < now - self.settings.record_ttl]
        for job in gone:
            self.store.delete(job.id)
            del self.jobs[job.id]
        if gone:
            log.info("forgot %d finished jobs (record TTL %.0f s, at most %d records)", len(gone),
                     self.settings.record_ttl, self.settings.max_records)
        return [j.id for j in gone]

    def _publish(self, job: Job, kind: str, important: bool = False) -> None:
        self.hub.publish(job.id, frame_of(job, kind), important=important)

    def __repr__(self) -> str:
        return (f"Supervisor(executor={self.executor!r}, queue={len(self.queue)}, "
                f"jobs={len(self.jobs)})")
