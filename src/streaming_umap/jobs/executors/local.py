"""The local executor: long-lived worker processes of this server.

``GPU_UMAP_MAX_CONCURRENT_JOBS`` job workers and ``STREAMING_UMAP_IMMEDIATE_WORKERS``
immediate workers, reused from job to job; a worker that dies is replaced (with a
growing delay when workers keep dying while warming up). Immediate requests go to the
immediate workers, or to an idle job worker while no job waits in the queue.

How workers start: on the CPU (on Linux) one warm template is spawned and compiles
everything once, and every worker is forked from it (:mod:`._template`): N workers cost
one warm-up, a replacement costs milliseconds. GPU workers are spawned and warm up one
by one (CUDA does not survive a fork); with ``STREAMING_UMAP_BACKEND=auto`` the template
finds out which applies.

Control, by backend:

* CPU workers are held with SIGSTOP and let go with SIGCONT: a pause takes effect at
  once, in any stage (NN-descent and the graph have no checkpoints), and a held process
  uses no CPU. Numba's thread count of each running job is the cores divided among the
  running jobs, changed at the jobs' checkpoints as jobs start and end.
* GPU workers hold at their next checkpoint (cuML's epoch callback), since a CUDA
  process is not stopped safely from outside.
* Cancel asks the job to stop at its next checkpoint and kills the worker if it has not
  within ``STREAMING_UMAP_CANCEL_GRACE`` seconds (a held CPU worker is killed at once).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing as mp
import os
import time
from collections import deque
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from ...config import Settings, usable_cores
from ...errors import InvalidInput, ServiceUnavailable
from ...pipeline import gpu_memory
from .. import protocol as msg
from ..worker import WorkerConfig
from ._process import ForkedProcess, WorkerProcess, worker_main
from ._template import (
    Declined,
    ForkRequest,
    Hello,
    WarmupStep,
    become_subreaper,
    fork_supported,
    template_main,
)
from .base import Events, Executor

log = logging.getLogger(__name__)

CRASH_WINDOW = 60.0
TERMINAL_MESSAGES = (msg.Done, msg.Failed, msg.Cancelled)


def spawn_process(target: Any, cfg: WorkerConfig, *args: Any) -> tuple[Any, Connection]:
    """A fresh interpreter (``spawn``) running ``target(conn, cfg, *args)``."""
    ctx = mp.get_context("spawn")
    conn, child = ctx.Pipe(duplex=True)
    process = ctx.Process(target=target, args=(child, cfg, *args), daemon=True,
                          name=f"su-{cfg.role}-{cfg.index}")
    process.start()
    child.close()
    return process, conn


Immediate = tuple[msg.RunImmediate, "asyncio.Future[dict[str, Any]]"]


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.workers: list[WorkerProcess] = []
        self.cores = usable_cores()
        self._events: Events | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runs: dict[str, msg.RunJob] = {}
        self._threads: dict[str, int] = {}
        self._waiting: deque[Immediate] = deque()
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._deaths: deque[float] = deque(maxlen=20)
        self._indexes = itertools.count()
        self._stopping = False
        self.forking = settings.backend != "gpu" and fork_supported()
        self.template: WorkerProcess | None = None
        self.template_step: WarmupStep | None = None
        self._unborn: list[str] = []  # roles waiting for the template to be warm

    # ------------------------------------------------------------------ lifecycle

    async def start(self, events: Events) -> None:
        self._events, self._loop = events, asyncio.get_running_loop()
        if self.forking and not become_subreaper():
            self.forking = False
        if self.forking:
            self._start_template()
        for _ in range(self.settings.max_concurrent_jobs):
            self._spawn("job")
        for _ in range(self.settings.immediate_workers):
            self._spawn("immediate")

    async def stop(self, timeout: float) -> None:
        self._stopping = True
        if self.template is not None:
            self.template.post(msg.Shutdown())
            self.template.kill()
        for worker in self.workers:
            worker.release()  # a held process cannot exit
            worker.post(msg.Shutdown())
        deadline = time.monotonic() + timeout
        for worker in list(self.workers):
            left = max(0.0, deadline - time.monotonic())
            await asyncio.to_thread(worker.process.join, left)
            worker.kill()
        for future in self._answers.values():
            if not future.done():
                future.set_exception(ServiceUnavailable("the server is shutting down"))

    def _config(self, role: str) -> WorkerConfig:
        s = self.settings
        return WorkerConfig(backend=s.backend, warmup=s.warmup,
                            numba_cache_dir=str(s.numba_cache_dir.resolve()), role=role,
                            index=next(self._indexes), cuda_visible_devices=s.cuda_visible_devices,
                            rmm_pool_bytes=s.rmm_pool_bytes)

    def _start_template(self) -> None:
        assert self._loop is not None
        cfg = self._config("template")
        self.template = WorkerProcess(cfg, self._loop, self._on_template, self._on_template_exit,
                                      spawn_process(template_main, cfg, os.getpid()))
        self.template_step = None
        log.info("started the warm template (pid %s): workers are forked from it once it is warm",
                 self.template.pid)

    def _spawn(self, role: str) -> None:
        """Start a worker: forked from the warm template (as soon as it is warm), or spawned."""
        assert self._loop is not None
        if self.forking:
            template = self.template
            if template is None or template.state != "idle":
                self._unborn.append(role)
                return
            cfg = self._config(role)
            server_end, child = mp.get_context("spawn").Pipe(duplex=True)
            fd = os.dup(child.fileno())
            child.close()
            worker = WorkerProcess(cfg, self._loop, self._on_message, self._on_exit,
                                   (ForkedProcess(), server_end))
            template.post(ForkRequest(cfg, fd))
        else:
            cfg = self._config(role)
            worker = WorkerProcess(cfg, self._loop, self._on_message, self._on_exit,
                                   spawn_process(worker_main, cfg))
            log.info("started %s worker %d (pid %s)", role, cfg.index, worker.pid)
        self.workers.append(worker)

    def _on_template(self, template: WorkerProcess, message: object) -> None:
        assert self._events is not None
        if isinstance(message, msg.LogRecord):
            logging.getLogger(message.name).log(message.level, "[template] %s", message.message)
        elif isinstance(message, WarmupStep):
            self.template_step = message
            log.info("warm template: %s (%.1f s so far)", message.step, message.elapsed)
        elif isinstance(message, msg.Ready):
            template.state, template.backend, template.info = "idle", message.backend, message.info
            template.warmup_seconds = message.warmup_seconds
            self.backend, self.device = message.backend, message.info
            log.info("warm template ready in %.1f s: forking %d workers", message.warmup_seconds,
                     len(self._unborn))
            self._events.worker_ready(message)
            self._birth()
        elif isinstance(message, Declined):
            log.info("not forking workers: %s", message.reason)
            self.forking = False
            self._birth()

    def _birth(self) -> None:
        unborn, self._unborn = self._unborn, []
        for role in unborn:
            self._spawn(role)

    def _on_template_exit(self, template: WorkerProcess) -> None:
        assert self._loop is not None
        template.state = "dead"
        if self._stopping or not self.forking:
            return
        self._deaths.append(time.time())
        log.error("the warm template (pid %s) exited (%s); starting another", template.pid,
                  template.exit_description())
        recent = self.recent_deaths()
        if recent > 3:  # it keeps dying: workers warm up one by one, each for itself
            log.error("the warm template died %d times within %.0f s; spawning workers instead",
                      recent, CRASH_WINDOW)
            self.forking = False
            self._birth()
            return
        self._loop.call_later(min(30.0, 2.0 ** (recent - 2)) if recent > 2 else 0.0,
                              self._restart_template)

    def _restart_template(self) -> None:
        if not self._stopping and self.forking:
            self._start_template()

    # ------------------------------------------------------------------ jobs

    def _job_workers(self, state: str) -> list[WorkerProcess]:
        return [w for w in self.workers if w.role == "job" and w.state == state]

    def free_slots(self) -> int:
        return len(self._job_workers("idle"))

    def _holder(self, job_id: str) -> WorkerProcess | None:
        for worker in self.workers:
            if worker.job_id == job_id and worker.state == "busy":
                return worker
        return None

    def holds(self, job_id: str) -> bool:
        return self._holder(job_id) is not None

    def start_job(self, run: msg.RunJob) -> bool:
        idle = self._job_workers("idle")
        if not idle:
            return False
        worker = idle[0]
        worker.state, worker.job_id = "busy", run.job_id
        self._runs[run.job_id] = run
        share = self._share(len(self._runs))
        self._threads[run.job_id] = share
        worker.post(replace(run, threads=share))
        self._rebalance()
        self._emit(run.job_id, msg.Started(run.job_id, f"local:{worker.name}", self.backend, time.time()))
        log.info("job %s started on worker pid %s (%d compute threads)", run.job_id, worker.pid, share)
        return True

    def _share(self, running: int) -> int:
        return max(1, self.cores // max(1, running))

    def _rebalance(self) -> None:
        """Every running CPU job gets an equal share of the cores (at its next checkpoint)."""
        share = self._share(len(self._runs))
        for job_id, threads in list(self._threads.items()):
            worker = self._holder(job_id)
            if worker is not None and threads != share and worker.backend != "gpu":
                worker.post(msg.Control(job_id, "threads", every=share), key=(job_id, "threads"))
                self._threads[job_id] = share

    def _emit(self, job_id: str, message: object) -> None:
        """An event the executor itself observed (a signal took effect), at once."""
        assert self._events is not None
        self._events.job_event(job_id, message)

    def pause(self, job_id: str) -> str:
        worker = self._holder(job_id)
        assert worker is not None, f"no worker holds job {job_id}"
        if worker.backend == "cpu":
            if worker.hold():
                self._emit(job_id, msg.Held(job_id, True, time.time()))
            return "paused: the worker process is stopped where it was (it uses no CPU)"
        worker.post(msg.Control(job_id, "pause"), key=(job_id, "hold"))
        return "pause requested: the job holds at its next checkpoint (a 'paused' frame follows)"

    def resume(self, job_id: str) -> str:
        worker = self._holder(job_id)
        assert worker is not None, f"no worker holds job {job_id}"
        if worker.stopped:
            if worker.release():
                self._emit(job_id, msg.Held(job_id, False, time.time()))
            return "resumed"
        worker.post(msg.Control(job_id, "resume"), key=(job_id, "hold"))
        return "resume requested"

    def cancel(self, job_id: str) -> None:
        worker = self._holder(job_id)
        if worker is None:
            return
        if worker.stopped:  # held where it was: nothing will reach a checkpoint
            log.info("job %s: killing held worker pid %s to cancel it", job_id, worker.pid)
            worker.kill()
            return
        worker.post(msg.Control(job_id, "cancel"), key=(job_id, "cancel"))
        assert self._loop is not None
        grace = self.cancel_grace(worker)
        self._loop.call_later(grace, self._enforce_cancel, job_id, worker, grace)

    def cancel_grace(self, worker: WorkerProcess) -> float:
        if self.settings.cancel_grace is not None:
            return self.settings.cancel_grace
        return 0.5 if isinstance(worker.process, ForkedProcess) else 5.0

    def _enforce_cancel(self, job_id: str, worker: WorkerProcess, grace: float) -> None:
        if worker.job_id == job_id and worker.state == "busy":
            log.warning("job %s: worker pid %s did not stop within %.1f s; killing it",
                        job_id, worker.pid, grace)
            worker.kill()

    def set_live(self, job_id: str, every: int) -> None:
        worker = self._holder(job_id)
        if worker is not None:
            worker.post(msg.Control(job_id, "live", every=every), key=(job_id, "live"))

    # ------------------------------------------------------------------ immediate requests

    async def immediate(self, request: msg.RunImmediate) -> dict[str, Any]:
        assert self._loop is not None
        future: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self._waiting.append((request, future))
        self._dispatch_immediate()
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.settings.immediate_timeout)
        except TimeoutError:
            self._waiting = deque(w for w in self._waiting if w[1] is not future)
            raise ServiceUnavailable(
                f"no immediate worker could answer within {self.settings.immediate_timeout:.0f} s "
                "(workers may still be warming up); try again shortly") from None

    def _dispatch_immediate(self) -> None:
        assert self._events is not None
        candidates = [w for w in self.workers if w.role == "immediate"]
        if not self._events.jobs_waiting():
            candidates += [w for w in self.workers if w.role == "job"]
        for worker in candidates:
            if not self._waiting:
                return
            if worker.state != "idle":
                continue
            request, future = self._waiting.popleft()
            if future.done():
                continue
            worker.state, worker.request_id = "busy", request.request_id
            self._answers[request.request_id] = future
            worker.post(request)

    def _on_immediate(self, worker: WorkerProcess, message: msg.ImmediateDone | msg.ImmediateFailed) -> None:
        future = self._answers.pop(message.request_id, None)
        worker.state, worker.request_id = "idle", None
        if future is not None and not future.done():
            if isinstance(message, msg.ImmediateDone):
                future.set_result(message.payload)
            elif message.status_code == 422:
                future.set_exception(InvalidInput(message.error))
            else:
                future.set_exception(RuntimeError(message.error))

    # ------------------------------------------------------------------ worker messages

    def _on_message(self, worker: WorkerProcess, message: object) -> None:
        assert self._events is not None
        if isinstance(message, msg.LogRecord):
            logging.getLogger(message.name).log(message.level, "[%s] %s", worker.name, message.message)
            return
        if isinstance(message, Hello):
            worker.process.pid = message.pid
            log.info("forked %s worker %d (pid %s) in %.0f ms", worker.role, worker.cfg.index,
                     message.pid, message.seconds * 1000)
            return
        if isinstance(message, msg.Ready):
            self._on_ready(worker, message)
        elif isinstance(message, (msg.ImmediateDone, msg.ImmediateFailed)):
            self._on_immediate(worker, message)
        else:
            job_id = getattr(message, "job_id", "")
            self._events.job_event(job_id, message)
            if not isinstance(message, TERMINAL_MESSAGES):
                return
            self._release(worker, retire=isinstance(message, msg.Failed) and message.retire)
        self._events.capacity()
        self._dispatch_immediate()

    def _on_ready(self, worker: WorkerProcess, ready: msg.Ready) -> None:
        assert self._events is not None
        worker.state, worker.backend, worker.info = "idle", ready.backend, ready.info
        worker.warmup_seconds = ready.warmup_seconds
        self.backend, self.device = ready.backend, ready.info
        log.info("%s worker pid %s ready: %s backend, warm-up %.1f s; calibration %s",
                 worker.role, worker.pid, ready.backend, ready.warmup_seconds,
                 {k: f"{v:.3g}" for k, v in ready.calibration.items()})
        self._events.worker_ready(ready)

    def _forget(self, job_id: str | None) -> None:
        if job_id is not None:
            self._runs.pop(job_id, None)
            self._threads.pop(job_id, None)
            self._rebalance()

    def _release(self, worker: WorkerProcess, retire: bool) -> None:
        self._forget(worker.job_id)
        worker.job_id = None
        worker.jobs_done += 1
        if retire:
            log.warning("retiring worker pid %s after a device fault", worker.pid)
            worker.kill()
            return
        if worker.state == "busy":
            worker.state = "idle"

    def _on_exit(self, worker: WorkerProcess) -> None:
        assert self._events is not None and self._loop is not None
        was_warming = worker.state == "warming"
        worker.state = "dead"
        if worker in self.workers:
            self.workers.remove(worker)
        if self._stopping:
            return
        how = worker.exit_description()
        now = time.time()
        self._deaths.append(now)
        log.error("%s worker pid %s exited (%s)%s", worker.role, worker.pid, how,
                  f" while holding job {worker.job_id}" if worker.job_id else "")
        if worker.job_id is not None:
            job_id = worker.job_id
            self._forget(job_id)
            self._events.job_lost(job_id, how)
        future = self._answers.pop(worker.request_id or -1, None)
        if future is not None and not future.done():
            future.set_exception(ServiceUnavailable(f"the worker computing this request was lost ({how})"))
        recent = self.recent_deaths(now)
        delay = min(30.0, 2.0 ** (recent - 2)) if was_warming and recent > 2 else 0.0
        self._loop.call_later(delay, self._respawn, worker.role)

    def _respawn(self, role: str) -> None:
        if not self._stopping:
            self._spawn(role)

    def recent_deaths(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return sum(1 for t in self._deaths if now - t < CRASH_WINDOW)

    # ------------------------------------------------------------------ what it can take

    def admission(self, kind: str, rows: int, dims: int,
                  params: dict[str, Any]) -> gpu_memory.Admission | None:
        gpu = self.device.get("gpu") if self.backend == "gpu" else None
        if not gpu:
            return None
        rows = self.fitted_rows(kind, rows, params)
        running = sum(gpu_memory.estimate_job_bytes(r.kind, self.fitted_rows(r.kind, r.rows, r.params),
                                                    r.dims, r.params) for r in self._runs.values())
        workers = self.settings.max_concurrent_jobs + self.settings.immediate_workers
        return gpu_memory.admit_job(kind, rows, dims, params, gpu, worker_processes=workers,
                                    running_estimates=running)

    def ready(self) -> bool:
        return any(w.role == "job" and w.state in ("idle", "busy") for w in self.workers)

    def warming(self) -> dict[str, Any] | None:
        """What the warm-up is doing (None once no job worker waits for it)."""
        if self.ready():
            return None
        template = self.template
        if self.forking and template is not None and template.state == "warming":
            step = self.template_step
            return {"step": step.step if step else "starting", "elapsed_seconds":
                    round(time.time() - template.started_at, 1)}
        warming = [w for w in self.workers if w.role == "job" and w.state == "warming"]
        if warming:
            return {"step": "workers warming up", "elapsed_seconds":
                    round(time.time() - min(w.started_at for w in warming), 1)}
        return None

    def health(self) -> dict[str, Any]:
        alive = [w for w in self.workers if w.alive]
        jobs = [w for w in alive if w.role == "job"]
        unborn_jobs = self._unborn.count("job")
        processes = [{"pid": w.pid, "role": w.role, "state": w.state, "job_id": w.job_id,
                      "jobs_done": w.jobs_done} for w in self.workers]
        if self.template is not None and self.template.state != "dead":
            processes.insert(0, {"pid": self.template.pid, "role": "template",
                                 "state": "ready" if self.template.state == "idle" else "warming",
                                 "job_id": None, "jobs_done": 0})
        return {
            "workers": {
                "total": sum(1 for w in self.workers if w.role == "job") + unborn_jobs,
                "alive": len(jobs),
                "warming": sum(1 for w in jobs if w.state == "warming") + unborn_jobs,
                "busy": sum(1 for w in jobs if w.state == "busy"),
                "idle": sum(1 for w in jobs if w.state == "idle"),
                "immediate": sum(1 for w in alive if w.role == "immediate"),
            },
            "warmup": self.warming(),
            "processes": processes,
            "degraded": self.recent_deaths() >= 3,
        }

    def __repr__(self) -> str:
        return (f"LocalExecutor(backend={self.backend}, workers={[w.state for w in self.workers]}, "
                f"runs={len(self._runs)}, immediate_waiting={len(self._waiting)})")
