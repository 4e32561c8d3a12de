"""The Dask executor: every job and immediate request runs on a ``dask.distributed``
cluster (``STREAMING_UMAP_DASK_SCHEDULER=tcp://host:8786`` or ``serve --dask``).

Workers are started with Dask's own commands (``dask worker tcp://host:8786 --nthreads 1``,
or ``dask cuda worker`` for one worker per GPU) with this package installed. The server
registers the :class:`~._dask_worker.WarmWorker` plugin: each worker, also one that joins
later, warms up before it gets the slot resource that jobs ask for. One job is one task
on one worker.

* Events travel through Dask's event log (``Worker.log_event`` -> ``Client.subscribe_topic``,
  on a topic of this server's own); controls through a ``distributed.Variable`` per job,
  written only with the latest state (a flood of pause requests is one write).
* Pause and cancel are cooperative: the job holds or stops at its next checkpoint (Dask
  cannot stop a running task). A job that has not stopped ``cancel_grace`` seconds after
  a cancel is reported cancelled; its task ends at its next checkpoint and its result is
  dropped.
* A worker that leaves the cluster fails the job it was running, with a message that
  names it. A job whose worker is lost before the job started is simply run elsewhere by
  the scheduler: its input is safe and nothing was computed (the task checks its control
  state first, so a job this server gave up on never runs twice).
* While the scheduler cannot be reached, /health says so, running jobs fail with a clear
  error and new submissions get a 503; the server reconnects when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ...config import Settings
from ...errors import InvalidInput, ServiceUnavailable
from ...pipeline import gpu_memory
from .. import protocol as msg
from ..artifacts import open_artifacts
from ..worker import WorkerConfig
from ._dask_worker import (
    SLOT,
    WORKERS_TOPIC,
    WarmWorker,
    control_name,
    decode,
    run_immediate_task,
    run_job_task,
)
from .base import Events, Executor

log = logging.getLogger(__name__)

WATCH_SECONDS = 1.0
CONNECT_TIMEOUT = 5.0
IMMEDIATE_INLINE_BYTES = 8 << 20  # larger immediate rows go through the artifact store
TERMINAL_MESSAGES = (msg.Done, msg.Failed, msg.Cancelled)


@dataclass
class Run:
    """A job this server submitted, until its task has ended."""

    run: msg.RunJob
    state: dict[str, Any] = field(default_factory=lambda: {"pause": False, "cancel": False,
                                                           "live": 0, "threads": 0})
    future: Any = None
    worker: str | None = None
    over: bool = False  # reported to the supervisor as ended (the task may still run)
    writing: bool = False
    dirty: bool = False


class DaskExecutor(Executor):
    name = "dask"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        if not settings.dask_scheduler:
            raise ValueError("the Dask executor needs STREAMING_UMAP_DASK_SCHEDULER")
        self.address = settings.dask_scheduler
        self.artifacts = open_artifacts(settings.artifacts)
        self.topic = f"streaming-umap-events-{uuid.uuid4().hex[:12]}"
        self.client: Any = None
        self.connected = False
        self.since = time.time()  # of the current connection state
        self.last_error = "not connected yet"
        self.workers: dict[str, dict[str, Any]] = {}
        self.warmup: dict[str, dict[str, Any]] = {}  # worker address -> last warm-up event
        self._runs: dict[str, Run] = {}
        self._events: Events | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self, events: Events) -> None:
        self._events, self._loop = events, asyncio.get_running_loop()
        self._watcher = asyncio.create_task(self._watch(), name="dask-watch")

    async def stop(self, timeout: float) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        for job_id in list(self._runs):
            self._set(job_id, cancel=True)
        with contextlib.suppress(Exception):
            if self.client is not None:
                await asyncio.wait_for(self.client.close(), timeout)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _config(self) -> WorkerConfig:
        s = self.settings
        return WorkerConfig(backend=s.backend, warmup=s.warmup, numba_cache_dir=str(s.numba_cache_dir),
                            role="job", index=0, rmm_pool_bytes=s.rmm_pool_bytes)

    async def _connect(self) -> None:
        from distributed import Client

        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()
        client = await Client(self.address, asynchronous=True, timeout=CONNECT_TIMEOUT,
                              name="streaming-umap-server", set_as_default=False)
        client.subscribe_topic(self.topic, self._on_event)
        client.subscribe_topic(WORKERS_TOPIC, self._on_worker_event)
        await client.register_plugin(WarmWorker(self._config()))
        for _, event in await client.get_events(WORKERS_TOPIC):  # warm-ups that began before us
            self.warmup[event.get("address", "")] = event
        self.client = client
        log.info("connected to the Dask scheduler at %s (events on %s)", self.address, self.topic)

    async def _watch(self) -> None:
        while True:
            try:
                if self.client is None or not self.live:
                    await self._connect()
                identity = await asyncio.wait_for(self.client.scheduler.identity(), CONNECT_TIMEOUT)
                self._on_identity(identity.get("workers", {}))
                if not self.connected:
                    self.connected, self.since, self.last_error = True, time.time(), ""
                    self._capacity()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # unreachable, closed, timed out
                self._unreachable(f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(WATCH_SECONDS)

    def _unreachable(self, error: str) -> None:
        if error != self.last_error:
            log.error("the Dask scheduler at %s cannot be reached: %s", self.address, error)
        was = self.connected
        self.connected, self.last_error = False, error
        if was:
            self.since = time.time()
        for job_id, run in list(self._runs.items()):
            if not run.over:
                self._lost(job_id, f"the Dask scheduler at {self.address} became unreachable")
            self._runs.pop(job_id, None)

    def _on_identity(self, workers: dict[str, dict[str, Any]]) -> None:
        before = set(self.workers)
        self.workers = workers
        for job_id, run in list(self._runs.items()):
            if run.worker is not None and run.worker not in workers and not run.over:
                self._lost(job_id, f"the Dask worker {run.worker} left the cluster")
                self._set(job_id, abandon=True)
                if run.future is not None:
                    self._spawn(run.future.cancel())
        if set(self._warm()) != set(w for w in before if self._is_warm(w)) or before != set(workers):
            self._capacity()

    def _is_warm(self, address: str) -> bool:
        return bool(self.workers.get(address, {}).get("resources", {}).get(SLOT))

    def _warm(self) -> list[str]:
        return [a for a in self.workers if self._is_warm(a)]

    def _capacity(self) -> None:
        if self._events is not None:
            self._events.capacity()

    def _lost(self, job_id: str, how: str) -> None:
        run = self._runs.get(job_id)
        if run is not None:
            run.over = True
        assert self._events is not None
        self._events.job_lost(job_id, how)

    # ------------------------------------------------------------------ events from workers

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        message = decode(event[1])
        job_id = getattr(message, "job_id", "")
        run = self._runs.get(job_id)
        if run is None or run.over:
            return
        if isinstance(message, msg.Started):
            run.worker = message.worker
            self.backend = message.backend
        if isinstance(message, msg.Done) and self.artifacts.url:
            run.over = True  # the results come home first
            self._spawn(self._fetch_then_done(run, message))
            return
        assert self._events is not None
        if isinstance(message, TERMINAL_MESSAGES):
            run.over = True
        self._events.job_event(job_id, message)

    async def _fetch_then_done(self, run: Run, message: msg.Done) -> None:
        assert self._events is not None
        try:
            await asyncio.to_thread(self.artifacts.fetch_results, self._output_ref(run.run),
                                    Path(run.run.output_dir))
            reply: object = message
        except Exception as exc:
            reply = msg.Failed(run.run.job_id, f"the result could not be fetched from "
                               f"{self.artifacts.url}: {type(exc).__name__}: {exc}")
        self._events.job_event(run.run.job_id, reply)

    def _on_worker_event(self, event: tuple[float, dict[str, Any]]) -> None:
        data = event[1]
        self.warmup[data.get("address", "")] = data
        if data.get("state") == "ready" and "ready" in data:
            ready = decode(data["ready"])
            assert isinstance(ready, msg.Ready) and self._events is not None
            self.backend, self.device = ready.backend, ready.info
            self._events.worker_ready(ready)
        elif data.get("state") == "failed":
            log.error("Dask worker %s could not warm up: %s", data.get("address"), data.get("error"))

    # ------------------------------------------------------------------ jobs

    @property
    def live(self) -> bool:
        """Connected, and the client has not noticed a lost connection since the last check."""
        return self.connected and getattr(self.client, "status", "") == "running"

    def available(self) -> str | None:
        if not self.live:
            return (f"the Dask scheduler at {self.address} cannot be reached ({self.last_error}); "
                    "try again once it is back")
        return None

    def free_slots(self) -> int:
        if not self.live:
            return 0
        return max(0, len(self._warm()) - len(self._runs))

    def holds(self, job_id: str) -> bool:
        run = self._runs.get(job_id)
        return run is not None and not run.over

    def _output_ref(self, run: msg.RunJob) -> str:
        return self.artifacts.output_ref(run.job_id, Path(run.output_dir))

    def start_job(self, run: msg.RunJob) -> bool:
        if self.free_slots() <= 0:
            return False
        self._runs[run.job_id] = entry = Run(run)
        self._spawn(self._submit(entry))
        return True

    async def _submit(self, entry: Run) -> None:
        from distributed import Variable

        run = entry.run
        try:
            remote = replace(run, input_path=await asyncio.to_thread(
                self.artifacts.put_input, run.job_id, Path(run.input_path)),
                output_dir=self._output_ref(run))
            await Variable(control_name(run.job_id), client=self.client).set(dict(entry.state))
            entry.future = self.client.submit(
                run_job_task, remote, self.topic, self.artifacts.url, key=f"streaming-umap-{run.job_id}",
                resources=self._resources(), pure=False, retries=0)
            entry.future.add_done_callback(lambda f: self._loop_call(self._task_ended, run.job_id, f))
        except Exception as exc:
            if not entry.over:
                entry.over = True
                assert self._events is not None
                self._events.job_event(run.job_id, msg.Failed(
                    run.job_id, f"could not submit the job to the Dask cluster: {type(exc).__name__}: {exc}"))
            self._forget(run.job_id)

    def admission(self, kind: str, rows: int, dims: int,
                  params: dict[str, Any]) -> gpu_memory.Admission | None:
        """GPU workers run one job each: whether one of them (all alike, as dask-cuda
        starts them) can hold this job, from the device a worker reported."""
        gpu = self.device.get("gpu") if self.backend == "gpu" else None
        if not gpu:
            return None
        admitted = gpu_memory.admit_job(kind, self.fitted_rows(kind, rows, params), dims, params, gpu,
                                        worker_processes=1, running_estimates=0)
        return None if admitted.verdict == "wait" else admitted  # a free worker is a free device

    def _resources(self) -> dict[str, float]:
        gpus = any(w.get("resources", {}).get("GPU") for w in self.workers.values())
        return {SLOT: 1, "GPU": 1} if gpus else {SLOT: 1}

    def _loop_call(self, fn: Any, *args: Any) -> None:
        """From Dask's callback thread onto the server's loop."""
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed: the server is going away
            self._loop.call_soon_threadsafe(fn, *args)

    def _task_ended(self, job_id: str, future: Any) -> None:
        run = self._runs.get(job_id)
        if run is None or run.future is not future:
            return
        if not run.over:  # ended without a terminal event
            if future.status == "cancelled" and getattr(self.client, "status", "") != "running":
                self._lost(job_id, f"the Dask scheduler at {self.address} became unreachable")
            else:
                error = future.exception() if future.status == "error" else None
                run.over = True
                assert self._events is not None
                self._events.job_event(job_id, msg.Failed(
                    job_id, f"the Dask task ended ({future.status}) without a result"
                    f"{f': {type(error).__name__}: {error}' if error else ''}"))
        self._forget(job_id)

    def _forget(self, job_id: str) -> None:
        if self._runs.pop(job_id, None) is not None:
            self._spawn(self._delete_variable(job_id))
            self._capacity()

    async def _delete_variable(self, job_id: str) -> None:
        from distributed import Variable

        with contextlib.suppress(Exception):
            await Variable(control_name(job_id), client=self.client).delete()

    def _set(self, job_id: str, **changes: Any) -> None:
        """Change the job's control state; one writer per job sends only the latest."""
        run = self._runs.get(job_id)
        if run is None:
            return
        run.state.update(changes)
        run.dirty = True
        if not run.writing and self.client is not None:
            run.writing = True
            self._spawn(self._write_state(job_id, run))

    async def _write_state(self, job_id: str, run: Run) -> None:
        from distributed import Variable

        try:
            while run.dirty:
                run.dirty = False
                with contextlib.suppress(Exception):
                    await Variable(control_name(job_id), client=self.client).set(dict(run.state))
        finally:
            run.writing = False

    def pause(self, job_id: str) -> str:
        self._set(job_id, pause=True)
        return "pause requested: the job holds at its next checkpoint (a 'paused' frame follows)"

    def resume(self, job_id: str) -> str:
        self._set(job_id, pause=False)
        return "resume requested"

    def cancel(self, job_id: str) -> None:
        self._set(job_id, cancel=True, pause=False)
        grace = self.settings.cancel_grace if self.settings.cancel_grace is not None else 5.0
        assert self._loop is not None
        self._loop.call_later(grace, self._enforce_cancel, job_id)

    def _enforce_cancel(self, job_id: str) -> None:
        run = self._runs.get(job_id)
        if run is not None and not run.over:
            log.warning("job %s did not stop within the grace on %s; reported cancelled, its "
                        "task stops at its next checkpoint", job_id, run.worker)
            self._lost(job_id, f"stopped by cancel on {run.worker or 'a Dask worker'}")

    def set_live(self, job_id: str, every: int) -> None:
        self._set(job_id, live=every)

    # ------------------------------------------------------------------ immediate requests

    async def immediate(self, request: msg.RunImmediate) -> dict[str, Any]:
        reason = self.available()
        if reason is not None or not self._warm():
            raise ServiceUnavailable(reason or "no Dask worker is warm yet; try again shortly")
        data = request.data
        if data.nbytes > IMMEDIATE_INLINE_BYTES:
            ref = await asyncio.to_thread(self.artifacts.put_array, data, Path(self.settings.data_dir))
            request = replace(request, data=ref)  # type: ignore[arg-type]
        future = self.client.submit(run_immediate_task, request, self.artifacts.url, pure=False,
                                    priority=10, resources=self._resources())
        try:
            answer = decode(await asyncio.wait_for(future, self.settings.immediate_timeout))
        except TimeoutError:
            self._spawn(future.cancel())
            raise ServiceUnavailable(f"no Dask worker answered within "
                                     f"{self.settings.immediate_timeout:.0f} s; try again shortly") from None
        if isinstance(answer, msg.ImmediateDone):
            return answer.payload
        assert isinstance(answer, msg.ImmediateFailed)
        if answer.status_code == 422:
            raise InvalidInput(answer.error)
        raise RuntimeError(answer.error)

    # ------------------------------------------------------------------ what it shows

    def ready(self) -> bool:
        return self.live and bool(self._warm())

    def warming(self) -> dict[str, Any] | None:
        if self.ready():
            return None
        if not self.live:
            return {"step": f"connecting to the Dask scheduler at {self.address}",
                    "elapsed_seconds": round(time.time() - self.since, 1)}
        steps = [e for a, e in self.warmup.items() if a in self.workers and e.get("state") == "warming"]
        step = steps[-1].get("step", "warming up") if steps else "waiting for a Dask worker to join"
        return {"step": str(step), "elapsed_seconds": round(time.time() - self.since, 1)}

    def health(self) -> dict[str, Any]:
        running = {r.worker: job_id for job_id, r in self._runs.items() if r.worker}
        warm = set(self._warm())
        processes = [{
            "address": address, "role": "dask", "name": str(info.get("name")),
            "state": ("busy" if address in running else "idle") if address in warm else (
                str(self.warmup.get(address, {}).get("state", "warming"))),
            "job_id": running.get(address), "resources": info.get("resources", {}),
            "nthreads": info.get("nthreads"), "memory_limit": info.get("memory_limit"),
            "memory": (info.get("metrics") or {}).get("memory"),
        } for address, info in sorted(self.workers.items())]
        return {
            "workers": {"total": len(self.workers), "alive": len(self.workers),
                        "warming": len(self.workers) - len(warm), "busy": len(running),
                        "idle": len(warm - set(running)),
                        "immediate": 0},
            "scheduler": {"address": self.address,
                          "state": "connected" if self.live else "unreachable",
                          "since": self.since, "error": self.last_error or None},
            "processes": processes,
            "warmup": self.warming(),
            "degraded": not self.live,
        }

    def __repr__(self) -> str:
        return (f"DaskExecutor({self.address}, connected={self.connected}, "
                f"workers={len(self.workers)}, warm={len(self._warm())}, runs={len(self._runs)})")
