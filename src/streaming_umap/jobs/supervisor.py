"""The supervisor: owns the queue, the worker processes and every job's state.

It lives in the server process, on the event loop. Workers talk to it through
:mod:`.pool`; it turns their messages into job state (persisted by the store),
progress and ETA (:class:`~streaming_umap.pipeline.eta.ProgressTracker`), and frames
for the hub. Lifecycle: :meth:`start` -> (events) -> :meth:`stop`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import sqlite3
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..config import Settings
from ..errors import (
    JobNotFound,
    JobStateConflict,
    PayloadTooLarge,
    QueueFull,
    ServiceUnavailable,
    StorageFull,
    is_disk_full,
)
from ..pipeline import gpu_memory
from ..pipeline.eta import CostModel, ProgressTracker
from . import protocol as msg
from .hub import Hub
from .models import ACTIVE_STATUSES, Job, Status
from .pool import WorkerHandle, WorkerState
from .store import JobStore
from .views import frame_of
from .worker import WorkerConfig

log = logging.getLogger(__name__)

TICK_SECONDS = 0.05  # twice the 10 frames/s a subscriber gets: the first change reaches it within 100 ms
SAVE_INTERVAL = 2.0
CRASH_WINDOW = 60.0


class Supervisor:
    def __init__(self, settings: Settings, store: JobStore, hub: Hub) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self.jobs: dict[str, Job] = {}
        self.queue: deque[str] = deque()
        self.trackers: dict[str, ProgressTracker] = {}
        self.workers: list[WorkerHandle] = []
        self.backend = "detecting"
        self.device: dict[str, Any] = {}
        self.models: dict[str, CostModel] = {}
        self.started_at = time.time()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ids = itertools.count(1)
        self._immediate_waiting: deque[tuple[msg.RunImmediate, asyncio.Future[dict[str, Any]]]] = deque()
        self._immediate_futures: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reserved = 0
        self._saved_at: dict[str, float] = {}
        self._deaths: deque[float] = deque(maxlen=20)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._spawn_index = itertools.count()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for job in self.store.recover():
            self.jobs[job.id] = job
            if job.status == Status.PENDING:
                self.queue.append(job.id)
        for _ in range(self.settings.max_concurrent_jobs):
            self._spawn("job")
        for _ in range(self.settings.immediate_workers):
            self._spawn("immediate")
        self._tasks = [
            asyncio.create_task(self._ticker(), name="supervisor-tick"),
            asyncio.create_task(self._sweeper(), name="supervisor-sweep"),
        ]
        log.info("supervisor started: %d job workers, %d immediate, %d jobs recovered",
                 self.settings.max_concurrent_jobs, self.settings.immediate_workers, len(self.jobs))

    async def stop(self, timeout: float = 5.0) -> None:
        """Ask workers to exit, wait up to ``timeout``, then kill what is left."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        now = time.time()
        for job in self.jobs.values():
            if job.status in (Status.PROCESSING, Status.PAUSED, Status.CANCELLING) and self._holder(job.id):
                self._finish(job, Status.FAILED, now, error="the server shut down while this job was running; submit it again")
        for handle in self.workers:
            handle.send(msg.Shutdown())
        deadline = time.monotonic() + timeout
        for handle in self.workers:
            left = max(0.0, deadline - time.monotonic())
            await asyncio.to_thread(handle.process.join, left)
            handle.kill()
        for future in self._immediate_futures.values():
            if not future.done():
                future.set_exception(ServiceUnavailable("the server is shutting down"))
        log.info("supervisor stopped")

    def _spawn(self, role: str) -> WorkerHandle:
        assert self._loop is not None
        s = self.settings
        cfg = WorkerConfig(
            backend=s.backend,
            warmup=s.warmup,
            numba_cache_dir=str(s.numba_cache_dir.resolve()),
            role=role,
            index=next(self._spawn_index),
            cuda_visible_devices=s.cuda_visible_devices,
            rmm_pool_bytes=s.rmm_pool_bytes,
        )
        handle = WorkerHandle(cfg, self._loop, self._on_message, self._on_exit)
        self.workers.append(handle)
        log.info("started %s worker %d (pid %s)", role, cfg.index, handle.pid)
        return handle

    # ------------------------------------------------------------------ public API

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def list_jobs(self, include_all: bool = False) -> list[Job]:
        jobs = sorted(self.jobs.values(), key=lambda j: j.created_at)
        return jobs if include_all else [j for j in jobs if j.status in ACTIVE_STATUSES]

    def pending_count(self) -> int:
        return sum(1 for j in self.jobs.values() if j.status == Status.PENDING) + self._reserved

    def model(self, backend: str | None = None) -> CostModel:
        name = backend or (self.backend if self.backend in ("cpu", "gpu") else "cpu")
        if name not in self.models:
            self.models[name] = CostModel(name, self.store.load_cost_model(name))
        return self.models[name]

    async def submit(self, kind: str, params: dict[str, Any], data: np.ndarray, warning: str | None,
                     input_file: Path | None = None) -> Job:
        """Queue a job. ``input_file``: a spooled ``.npy`` holding exactly ``data``, which
        becomes the job's input by a rename instead of being written again."""
        if self.pending_count() >= self.settings.max_queue:
            raise QueueFull(
                f"the queue is full ({self.settings.max_queue} pending jobs); try again later",
                retry_after=self._retry_after(),
            )
        rows, dims = data.shape
        admission = self._admission(kind, rows, dims, params)
        if admission is not None and admission.verdict == "never":
            raise PayloadTooLarge(admission.message, field="data")
        chunk = params.get("chunk_size") or self.settings.chunk_size
        job = Job(id=uuid.uuid4().hex, kind=kind, params=params, total_points=rows, dims=dims,
                  total_chunks=max(1, math.ceil(rows / chunk)), warning=warning)
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
            if is_disk_full(exc) or "full" in str(exc).lower():  # SQLite: "database or disk is full"
                raise StorageFull("the server's disk is full: the job could not be recorded "
                                  "(nothing was kept); try again later") from None
            raise
        self.hub.publish(job.id, frame_of(job, "progress"), important=True)
        log.info("queued %r", job)
        self._dispatch()
        return job

    async def immediate(self, kind: str, params: dict[str, Any], data: np.ndarray) -> dict[str, Any]:
        assert self._loop is not None
        request = msg.RunImmediate(next(self._ids), kind, params, data,
                                   params.get("chunk_size") or self.settings.chunk_size,
                                   self.settings.exact_knn_max_rows)
        future: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self._immediate_waiting.append((request, future))
        self._dispatch_immediate()
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.settings.immediate_timeout)
        except TimeoutError:
            self._immediate_waiting = deque(w for w in self._immediate_waiting if w[1] is not future)
            raise ServiceUnavailable(
                f"no immediate worker could answer within {self.settings.immediate_timeout:.0f} s "
                "(workers may still be warming up); try again shortly"
            ) from None

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        now = time.time()
        if job.terminal:
            raise JobStateConflict(f"job {job_id} is already {job.status.value}; nothing to cancel")
        holder = self._holder(job_id)
        if job.status == Status.CANCELLING:
            return job
        if holder is None:
            self._finish(job, Status.CANCELLED, now, error="cancelled before it started")
            return job
        job.move_to(Status.CANCELLING, now)
        holder.send(msg.Control(job_id, "cancel"))
        assert self._loop is not None
        self._loop.call_later(self.settings.cancel_grace, self._enforce_cancel, job_id, holder)
        self._publish(job, "progress", important=True)
        self.store.save(job)
        return job

    def pause(self, job_id: str) -> tuple[Job, str]:
        job = self.get(job_id)
        holder = self._holder(job_id)
        if job.status == Status.PAUSED:
            return job, "the job is already paused"
        if job.status == Status.PENDING:
            job.move_to(Status.PAUSED)
            self._publish(job, "paused", important=True)
            self.store.save(job)
            return job, "the job is held in the queue until resumed"
        if job.status == Status.PROCESSING and holder is not None:
            holder.send(msg.Control(job_id, "pause"))
            return job, "pause requested: the job holds at its next checkpoint (a 'paused' frame follows)"
        raise JobStateConflict(f"job {job_id} is {job.status.value}; only pending or processing jobs can be paused")

    def resume(self, job_id: str) -> tuple[Job, str]:
        job = self.get(job_id)
        holder = self._holder(job_id)
        if job.status == Status.PAUSED and holder is None:
            job.move_to(Status.PENDING)
            self._publish(job, "resumed", important=True)
            self.store.save(job)
            self._dispatch()
            return job, "the job is back in the queue"
        if job.status in (Status.PAUSED, Status.PROCESSING) and holder is not None:
            holder.send(msg.Control(job_id, "resume"))
            return job, "resume requested"
        raise JobStateConflict(f"job {job_id} is {job.status.value}, not paused")

    def set_live(self, job_id: str) -> None:
        """Tell the worker holding the job how often subscribers want the layout."""
        holder = self._holder(job_id)
        if holder is not None:
            holder.send(msg.Control(job_id, "live", every=self.hub.live_every(job_id)))

    def health(self) -> dict[str, Any]:
        job_workers = [w for w in self.workers if w.role == "job" and w.state != WorkerState.DEAD]
        alive = [w for w in self.workers if w.state != WorkerState.DEAD and w.process.is_alive()]
        warming = sum(1 for w in alive if w.state == WorkerState.WARMING)
        ready = [w for w in alive if w.state in (WorkerState.IDLE, WorkerState.BUSY)]
        recent_deaths = sum(1 for t in self._deaths if time.time() - t < CRASH_WINDOW)
        status = "ok" if ready else "starting"
        if recent_deaths >= 3:
            status = "degraded"
        return {
            "status": status,
            "version": __version__,
            "backend": self.backend,
            "device": str(self.device.get("device", "unknown until a worker is ready")),
            "workers": {
                "total": len(job_workers),
                "alive": sum(1 for w in alive if w.role == "job"),
                "warming": warming,
                "busy": sum(1 for w in alive if w.state == WorkerState.BUSY),
                "idle": sum(1 for w in alive if w.state == WorkerState.IDLE and w.role == "job"),
                "immediate": sum(1 for w in alive if w.role == "immediate"),
            },
            "queue_depth": sum(1 for j in self.jobs.values() if j.status == Status.PENDING),
            "max_queue": self.settings.max_queue,
            "active_jobs": sum(1 for j in self.jobs.values() if j.status in ACTIVE_STATUSES),
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "gpu": self.device.get("gpu"),
            "processes": [
                {"pid": w.pid, "role": w.role, "state": w.state.value, "job_id": w.job_id,
                 "jobs_done": w.jobs_done}
                for w in self.workers
            ],
        }

    # ------------------------------------------------------------------ dispatch

    def _holder(self, job_id: str) -> WorkerHandle | None:
        for handle in self.workers:
            if handle.job_id == job_id and handle.state == WorkerState.BUSY:
                return handle
        return None

    def _dispatch(self) -> None:
        idle = [w for w in self.workers if w.role == "job" and w.state == WorkerState.IDLE]
        for handle in idle:
            job = self._next_pending()
            if job is None:
                return
            self._start_job(handle, job)

    def _next_pending(self) -> Job | None:
        for job_id in list(self.queue):
            job = self.jobs.get(job_id)
            if job is None or job.status != Status.PENDING:
                if job is None or job.terminal:
                    self.queue.remove(job_id)
                continue
            admission = self._admission(job.kind, job.total_points, job.dims, job.params)
            if admission is not None and admission.verdict == "wait":
                return None  # the head of the queue waits for GPU memory; nobody overtakes it
            self.queue.remove(job_id)
            return job
        return None

    def _admission(self, kind: str, rows: int, dims: int, params: dict[str, Any]) -> gpu_memory.Admission | None:
        """GPU memory admission (None on the CPU backend or before a GPU worker reported)."""
        gpu = self.device.get("gpu") if self.backend == "gpu" else None
        if not gpu:
            return None
        running = sum(
            gpu_memory.estimate_job_bytes(j.kind, j.total_points, j.dims, j.params)
            for j in self.jobs.values()
            if j.status in (Status.PROCESSING, Status.PAUSED, Status.CANCELLING) and self._holder(j.id)
        )
        workers = self.settings.max_concurrent_jobs + self.settings.immediate_workers
        return gpu_memory.admit_job(kind, rows, dims, params, gpu, worker_processes=workers,
                                    running_estimates=running)

    def _exact_max_rows(self, params: dict[str, Any]) -> int:
        """Rows up to which the backend computes the exact kNN (for the ETA plan)."""
        if self.backend == "gpu":
            return gpu_memory.gpu_exact_max_rows(str(params.get("metric", "euclidean")))
        return self.settings.exact_knn_max_rows

    def _start_job(self, handle: WorkerHandle, job: Job) -> None:
        now = time.time()
        chunk = job.params.get("chunk_size") or self.settings.chunk_size
        run = msg.RunJob(job.id, job.kind, job.params, str(self.store.input_path(job.id)),
                         str(self.store.job_dir(job.id)), chunk, self.settings.exact_knn_max_rows)
        if not handle.send(run):
            self.queue.appendleft(job.id)
            return
        handle.state, handle.job_id = WorkerState.BUSY, job.id
        job.move_to(Status.PROCESSING, now)
        plan = self.model(handle.backend).plan(job.kind, job.total_points, job.dims, job.params,
                                               self._exact_max_rows(job.params))
        self.trackers[job.id] = ProgressTracker(plan, now)
        job.progress, job.eta_seconds = self.trackers[job.id].estimate(now)
        self.store.save(job)
        if self.hub.live_every(job.id):
            self.set_live(job.id)
        self._publish(job, "progress", important=True)
        log.info("started %r on worker pid %s", job, handle.pid)

    def _dispatch_immediate(self) -> None:
        """Immediate requests go to the immediate workers, or to an idle job worker
        while no job is waiting for one."""
        no_jobs_waiting = not any(self.jobs[j].status == Status.PENDING for j in self.queue if j in self.jobs)
        candidates = [w for w in self.workers if w.role == "immediate"]
        if no_jobs_waiting:
            candidates += [w for w in self.workers if w.role == "job"]
        for handle in candidates:
            if not self._immediate_waiting:
                return
            if handle.state != WorkerState.IDLE:
                continue
            request, future = self._immediate_waiting.popleft()
            if future.done():
                continue
            if handle.send(request):
                handle.state, handle.request_id = WorkerState.BUSY, request.request_id
                self._immediate_futures[request.request_id] = future
            else:
                self._immediate_waiting.appendleft((request, future))

    # ------------------------------------------------------------------ events

    def _on_message(self, handle: WorkerHandle, message: object) -> None:
        now = time.time()
        if isinstance(message, msg.LogRecord):
            logging.getLogger(message.name).log(message.level, "[%s] %s", handle.process.name, message.message)
        elif isinstance(message, msg.Ready):
            self._on_ready(handle, message)
        elif isinstance(message, (msg.ImmediateDone, msg.ImmediateFailed)):
            self._on_immediate(handle, message)
        else:
            job = self.jobs.get(getattr(message, "job_id", ""))
            if job is not None and not job.terminal:
                self._on_job_message(handle, job, message, now)
            if isinstance(message, (msg.Done, msg.Failed, msg.Cancelled)):
                self._release(handle, retire=isinstance(message, msg.Failed) and message.retire)

    def _on_ready(self, handle: WorkerHandle, ready: msg.Ready) -> None:
        handle.state, handle.backend, handle.info = WorkerState.IDLE, ready.backend, ready.info
        self.backend, self.device = ready.backend, ready.info
        if not self.store.load_cost_model(ready.backend):
            self.model(ready.backend).calibrate(ready.calibration)
        log.info("%s worker pid %s ready: %s backend, warm-up %.1f s; calibration %s",
                 handle.role, handle.pid, ready.backend, ready.warmup_seconds,
                 {k: f"{v:.3g}" for k, v in ready.calibration.items()})
        self._dispatch()
        self._dispatch_immediate()

    def _on_job_message(self, handle: WorkerHandle, job: Job, message: object, now: float) -> None:
        tracker = self.trackers.get(job.id)
        if isinstance(message, msg.StageStarted):
            job.stage = message.stage
            if tracker:
                tracker.on_stage(message.stage, message.total, message.at)
            if message.stage == "layout":
                job.total_epochs = message.total
                job.epoch = 0
            self._update_estimate(job, now)
            self._publish(job, "progress", important=True)
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
            self.store.save(job)
            self._saved_at[job.id] = now

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
        self.store.save(job)

    def _on_done(self, job: Job, message: msg.Done, now: float) -> None:
        if job.status == Status.CANCELLING:
            self._finish(job, Status.CANCELLED, now, error="cancelled on request (after it had finished computing)")
            return
        tracker = self.trackers.get(job.id)
        if tracker:
            model = self.model()
            for plan, seconds in tracker.finish(now):
                model.observe(plan.key, plan.units, seconds)
            self.store.save_cost_model(model.backend, model.coef)
            log.info("cost model after %s: %s", job.id,
                     {f"{p.key}": f"{s:.2f}s/{p.seconds:.2f}s" for p, s in tracker.finished})
        job.result = dict(message.summary, kind=job.kind)
        if message.warnings:
            job.warning = "; ".join(filter(None, [job.warning, *message.warnings]))
        job.processed_points = job.total_points
        job.current_chunk = job.total_chunks
        job.progress, job.stage = 100.0, "done"
        self._finish(job, Status.COMPLETED, now)

    def _finish(self, job: Job, status: Status, now: float, error: str | None = None) -> None:
        job.move_to(status, now)
        if status != Status.COMPLETED:
            job.error = error
            self.store.remove_results(job.id)
        else:
            self.store.remove_input(job.id)
        self.trackers.pop(job.id, None)
        self._saved_at.pop(job.id, None)
        if job.id in self.queue:
            self.queue.remove(job.id)
        self.store.save(job)
        self._publish(job, status.value, important=True)
        log.info("%s %r%s", status.value, job, f": {error}" if error else "")

    def _release(self, handle: WorkerHandle, retire: bool) -> None:
        handle.job_id = None
        handle.jobs_done += 1
        if retire:
            log.warning("retiring worker pid %s after a device fault", handle.pid)
            handle.kill()
            return
        if handle.state == WorkerState.BUSY:
            handle.state = WorkerState.IDLE
        self._dispatch()
        self._dispatch_immediate()

    def _on_immediate(self, handle: WorkerHandle, message: msg.ImmediateDone | msg.ImmediateFailed) -> None:
        future = self._immediate_futures.pop(message.request_id, None)
        handle.state, handle.request_id = WorkerState.IDLE, None
        if future is not None and not future.done():
            if isinstance(message, msg.ImmediateDone):
                future.set_result(message.payload)
            else:
                future.set_exception(_immediate_error(message))
        self._dispatch_immediate()
        self._dispatch()

    def _on_exit(self, handle: WorkerHandle) -> None:
        was_warming = handle.state == WorkerState.WARMING
        handle.state = WorkerState.DEAD
        if handle in self.workers:
            self.workers.remove(handle)
        if self._stopping:
            return
        how = handle.exit_description()
        now = time.time()
        self._deaths.append(now)
        log.error("%s worker pid %s exited (%s)%s", handle.role, handle.pid, how,
                  f" while holding job {handle.job_id}" if handle.job_id else "")
        job = self.jobs.get(handle.job_id or "")
        if job is not None and not job.terminal:
            if job.status == Status.CANCELLING:
                self._finish(job, Status.CANCELLED, now, error="cancelled on request (worker stopped)")
            else:
                self._finish(job, Status.FAILED, now,
                             error=f"the worker process was lost ({how}) while processing this job")
        future = self._immediate_futures.pop(handle.request_id or -1, None)
        if future is not None and not future.done():
            future.set_exception(ServiceUnavailable(f"the worker computing this request was lost ({how})"))
        recent = sum(1 for t in self._deaths if now - t < CRASH_WINDOW)
        delay = min(30.0, 2.0 ** (recent - 2)) if was_warming and recent > 2 else 0.0
        assert self._loop is not None
        self._loop.call_later(delay, self._respawn, handle.role)

    def _respawn(self, role: str) -> None:
        if not self._stopping:
            self._spawn(role)

    def _enforce_cancel(self, job_id: str, handle: WorkerHandle) -> None:
        job = self.jobs.get(job_id)
        if job is not None and job.status == Status.CANCELLING and handle.job_id == job_id:
            log.warning("job %s: worker pid %s did not stop within %.1f s; killing it",
                        job_id, handle.pid, self.settings.cancel_grace)
            handle.kill()

    # ------------------------------------------------------------------ estimates

    def _update_estimate(self, job: Job, now: float) -> None:
        tracker = self.trackers.get(job.id)
        if tracker is not None:
            job.progress, job.eta_seconds = tracker.estimate(now)

    def _estimate_pending(self, now: float) -> None:
        """ETA of queued jobs: the work ahead of them spread over the workers, plus their own."""
        workers = max(1, self.settings.max_concurrent_jobs)
        ahead = sum(j.eta_seconds or 0.0 for j in self.jobs.values() if j.status == Status.PROCESSING)
        model = self.model()
        for job_id in self.queue:
            job = self.jobs.get(job_id)
            if job is None or job.status != Status.PENDING:
                continue
            own = model.total(model.plan(job.kind, job.total_points, job.dims, job.params,
                                         self._exact_max_rows(job.params)))
            job.eta_seconds = ahead / workers + own
            ahead += own

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
        """Expire results past the TTL, then the oldest ones while over the disk budget."""
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
        return expired

    def _publish(self, job: Job, kind: str, important: bool = False) -> None:
        self.hub.publish(job.id, frame_of(job, kind), important=important)

    def __repr__(self) -> str:
        states = [w.state.value for w in self.workers]
        return (f"Supervisor(backend={self.backend}, workers={states}, queue={len(self.queue)}, "
                f"jobs={len(self.jobs)})")


def _immediate_error(message: msg.ImmediateFailed) -> Exception:
    from ..errors import InvalidInput

    if message.status_code == 422:
        return InvalidInput(message.error)
    return RuntimeError(message.error)
