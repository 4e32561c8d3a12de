"""What runs on a Dask worker: the warm-up plugin, the job and immediate tasks, and the
job's channel over Dask's event log.

* :class:`WarmWorker` (a ``WorkerPlugin`` the server registers; Dask installs it on every
  worker, including those that join later) loads and warms the backend in a thread, so the
  worker keeps answering its heartbeats, then gives the worker the ``streaming-umap-slot``
  resource. Jobs ask for that resource, so a worker takes no job before it is warm, and
  takes one at a time.
* :func:`run_job_task` runs one job through the same :func:`~..worker.run_job` as a local
  worker. Its events go to the server with ``Worker.log_event`` on the server's own topic
  (``Client.subscribe_topic`` there); its controls are a ``distributed.Variable`` per job,
  which the checkpoint polls (at most every POLL_SECONDS): Dask cannot stop a running
  task (``Future.cancel`` does not), so pause and cancel are cooperative here.
* Inputs and results move through the artifact store (:mod:`..artifacts`), never through
  the scheduler.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from distributed import WorkerPlugin

from .. import protocol as msg
from ..artifacts import open_artifacts
from ..worker import WorkerConfig, load_backend, run_immediate, run_job, warm

log = logging.getLogger(__name__)

PLUGIN_NAME = "streaming-umap"
SLOT = "streaming-umap-slot"
WORKERS_TOPIC = "streaming-umap-workers"
POLL_SECONDS = 0.25
LAYOUT_EVENT_BYTES = 4 << 20  # live layouts above this size are not sent through the scheduler

MESSAGES: dict[str, type] = {cls.__name__: cls for cls in (
    msg.StageStarted, msg.Progress, msg.Held, msg.Layout, msg.Done, msg.Failed, msg.Cancelled,
    msg.Started, msg.Ready, msg.ImmediateDone, msg.ImmediateFailed)}


# ------------------------------------------------------------------ events as msgpack-able data


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"__ndarray__": np.ascontiguousarray(value).tobytes(), "dtype": value.dtype.str,
                "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        if "__ndarray__" in value:
            array = np.frombuffer(value["__ndarray__"], dtype=np.dtype(value["dtype"]))
            return array.reshape(value["shape"])
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return value


def encode(message: object) -> dict[str, Any]:
    """A protocol message as msgpack-serialisable data (what ``log_event`` carries)."""
    fields = {f.name: _plain(getattr(message, f.name)) for f in dataclasses.fields(message)}  # type: ignore[arg-type]
    return {"type": type(message).__name__, "fields": fields}


def decode(data: dict[str, Any]) -> object:
    cls = MESSAGES[data["type"]]
    return cls(**{k: _typed(v) for k, v in data["fields"].items()})


# ------------------------------------------------------------------ the plugin


class WarmWorker(WorkerPlugin):
    """Warms a Dask worker for streaming-umap jobs."""

    name = PLUGIN_NAME
    idempotent = True  # a second server registering it does not warm the workers again

    def __init__(self, cfg: WorkerConfig) -> None:
        self.cfg = cfg
        self.state = "new"
        self.backend: Any = None
        self.ready: msg.Ready | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"cfg": self.cfg, "state": "new", "backend": None, "ready": None}

    def setup(self, worker: Any) -> None:
        self.worker, self.state = worker, "warming"
        self._warm_done = threading.Event()
        self._task = asyncio.ensure_future(self._warm())

    def teardown(self, worker: Any) -> None:
        self.state = "closed"

    def _say(self, **event: Any) -> None:
        self.worker.log_event(WORKERS_TOPIC, {"address": self.worker.address, **event})

    async def _warm(self) -> None:
        try:
            self.ready = await asyncio.to_thread(self._warm_blocking)
            await self.worker.set_resources(**{SLOT: 1})
            self.state = "ready"
            self._say(state="ready", ready=encode(self.ready))
        except Exception as exc:  # the worker stays without a slot: it never takes a job
            self.state = "failed"
            log.exception("streaming-umap warm-up failed on %s", self.worker.address)
            self._say(state="failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._warm_done.set()

    def _warm_blocking(self) -> msg.Ready:
        os.environ.setdefault("NUMBA_CACHE_DIR", self.cfg.numba_cache_dir)
        started = time.perf_counter()
        self._say(state="warming", step="loading the backend")
        self.backend = load_backend(self.cfg.backend, self.cfg)
        return warm(self.backend, self.cfg, started,
                    progress=lambda step: self._say(state="warming", step=step))

    def wait_warm(self, timeout: float = 3600.0) -> Any:
        if not self._warm_done.wait(timeout) or self.backend is None or self.ready is None:
            raise RuntimeError(f"this worker is not warm ({self.state})")
        return self.backend


def plugin_of(worker: Any) -> WarmWorker:
    plugin = worker.plugins.get(PLUGIN_NAME)
    if plugin is None:
        raise RuntimeError(f"worker {worker.address} has no {PLUGIN_NAME} plugin")
    return plugin  # type: ignore[no-any-return]


# ------------------------------------------------------------------ the channel


def control_name(job_id: str) -> str:
    return f"streaming-umap-control-{job_id}"


class DaskChannel:
    """A job's channel: events into the server's topic, controls from a Variable."""

    def __init__(self, worker: Any, topic: str, job_id: str) -> None:
        from distributed import Variable

        self.worker, self.topic, self.job_id = worker, topic, job_id
        self.variable = Variable(control_name(job_id))
        self.state: dict[str, Any] = {}
        self.polled = 0.0
        self.held: list[object] = []  # the terminal message, sent once results are stored

    def send(self, message: object) -> None:
        if isinstance(message, msg.Layout) and message.embedding.nbytes > LAYOUT_EVENT_BYTES:
            return
        if isinstance(message, (msg.Done, msg.Failed, msg.Cancelled)):
            self.held.append(message)
            return
        self.worker.log_event(self.topic, encode(message))

    def flush(self) -> None:
        for message in self.held:
            self.worker.log_event(self.topic, encode(message))
        self.held.clear()

    def fetch(self) -> dict[str, Any]:
        try:
            state = self.variable.get(timeout=5)
        except Exception:  # the scheduler is busy or gone: keep what we knew
            return self.state
        return dict(state) if isinstance(state, dict) else self.state

    def controls(self, timeout: float | None = 0.0) -> list[msg.Control]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if time.monotonic() - self.polled >= POLL_SECONDS:
                self.polled = time.monotonic()
                found = self._changes(self.fetch())
                if found:
                    return found
            if deadline is not None and time.monotonic() >= deadline:
                return []
            time.sleep(POLL_SECONDS / 5)

    def _changes(self, state: dict[str, Any]) -> list[msg.Control]:
        before, self.state = self.state, state
        out: list[msg.Control] = []
        if state.get("cancel") and not before.get("cancel"):
            out.append(msg.Control(self.job_id, "cancel"))
        if bool(state.get("pause")) != bool(before.get("pause")):
            out.append(msg.Control(self.job_id, "pause" if state.get("pause") else "resume"))
        for action in ("live", "threads"):
            if state.get(action, 0) != before.get(action, 0):
                out.append(msg.Control(self.job_id, action, every=int(state.get(action, 0))))
        return out


# ------------------------------------------------------------------ the tasks


def run_job_task(run: msg.RunJob, topic: str, artifacts: str) -> str:
    """One job on this worker (the task the Dask executor submits)."""
    from distributed import get_worker

    worker = get_worker()
    backend = plugin_of(worker).wait_warm()
    channel = DaskChannel(worker, topic, run.job_id)
    if channel.fetch().get("abandon"):
        return "abandoned"  # its server gave up on it (the first worker was lost)
    channel.send(msg.Started(run.job_id, worker.address, backend.name, time.time()))
    store = open_artifacts(artifacts)
    with store.working_copy(run) as local:
        placer = ClusterPlacer(store, Path(local.output_dir), run.output_dir, artifacts)
        run_job(backend, channel, local, placer=placer)
        if any(isinstance(m, msg.Done) for m in channel.held):
            store.publish_results(local, run)
    channel.flush()
    return "done"


# ------------------------------------------------------------------ placing rows across the cluster


MODEL_FILE = "sample-model.npz"
CACHED_MODELS = 2  # per worker: a model and its neighbour index (the index costs an NN-descent)


class ClusterPlacer:
    """A sample-fit job's placement spread over the cluster: the fitted model and the rows
    to place are stored where every worker reads them; each chunk is a task on any worker
    (the job's own task secedes meanwhile, so its worker places chunks too). A finished
    chunk is a progress step and a checkpoint: a pause holds the results (chunks already
    handed out finish), a cancel drops the chunks not yet placed."""

    def __init__(self, store: Any, local_dir: Path, ref_dir: str, artifacts: str) -> None:
        self.store, self.local_dir, self.ref_dir, self.artifacts = store, local_dir, ref_dir, artifacts

    def _publish(self, model: Any, rows: np.ndarray) -> str:
        path = self.local_dir / MODEL_FILE
        np.savez(path, train=model.train, embedding=model.embedding, rows=rows,
                 meta=np.array([model.a, model.b, model.n_neighbors, model.n_epochs or 0,
                                -1 if model.random_state is None else model.random_state]),
                 metric=np.array(model.metric))
        return str(self.store.put_file(path, self.ref_dir))

    def __call__(self, model: Any, rows: np.ndarray, which: np.ndarray, cp: Any,
                 chunk: int) -> tuple[np.ndarray, str | None]:
        from distributed import as_completed, worker_client

        from ...pipeline.transform_cpu import spans, transform_epochs

        parts = spans(len(which), chunk)
        cp.stage("transform", len(parts))
        ref = self._publish(model, np.ascontiguousarray(rows[which]))
        out = np.empty((len(which), model.embedding.shape[1]), dtype=np.float32)
        placed_on: set[str] = set()
        with worker_client(separate_thread=True) as client:
            epochs = transform_epochs(model, len(which))
            futures = [client.submit(place_chunk_task, ref, start, stop, epochs, self.artifacts, pure=False)
                       for start, stop in parts]
            try:
                for done, future in enumerate(as_completed(futures), start=1):
                    start, positions, address = future.result()
                    out[start:start + len(positions)] = positions
                    placed_on.add(address)
                    cp.advance(done, processed_points=min(len(which), done * chunk),
                               current_chunk=done, total_chunks=len(parts))
            finally:
                client.cancel(futures)
        return out, f"in {len(parts)} chunks on {len(placed_on)} Dask worker{'s' * (len(placed_on) > 1)}"


def _cached_model(worker: Any, ref: str, artifacts: str) -> tuple[Any, np.ndarray, Any]:
    from ...pipeline.transform_cpu import LayoutModel, NeighbourIndex

    plugin = plugin_of(worker)
    cache: dict[str, Any] = plugin.__dict__.setdefault("models", {})
    if ref not in cache:
        with open_artifacts(artifacts).open_npz(ref) as saved:
            a, b, k, epochs, seed = saved["meta"].tolist()
            model = LayoutModel(saved["train"], saved["embedding"], a, b, str(saved["metric"]), int(k),
                                int(epochs) or None, None if seed < 0 else int(seed))
            rows = np.array(saved["rows"])
        while len(cache) >= CACHED_MODELS:
            cache.pop(next(iter(cache)))
        cache[ref] = (model, rows, NeighbourIndex(model.train, model.metric, model.n_neighbors,
                                                  model.random_state))
    return cache[ref]  # type: ignore[no-any-return]


def place_chunk_task(ref: str, start: int, stop: int, epochs: int,
                     artifacts: str) -> tuple[int, np.ndarray, str]:
    from distributed import get_worker

    from ...pipeline.transform_cpu import place_block

    worker = get_worker()
    plugin_of(worker).wait_warm()
    model, rows, index = _cached_model(worker, ref, artifacts)
    return start, place_block(model, index, rows[start:stop], epochs), worker.address


def run_immediate_task(request: msg.RunImmediate, artifacts: str) -> dict[str, Any]:
    """A small request: its payload (or the error) comes back as the task's result."""
    from distributed import get_worker

    worker = get_worker()
    backend = plugin_of(worker).wait_warm()
    if isinstance(request.data, str):  # a large one came through the artifact store
        request = dataclasses.replace(request, data=open_artifacts(artifacts).take_array(request.data))
    results: list[object] = []

    class Collect:
        def send(self, message: object) -> None:
            results.append(message)

        def controls(self, timeout: float | None = 0.0) -> list[msg.Control]:
            return []

    run_immediate(backend, Collect(), request)
    return encode(results[-1])
