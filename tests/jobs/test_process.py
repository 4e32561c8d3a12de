"""The local executor's worker handle: the event loop never waits on a worker's pipe."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from streaming_umap.jobs import protocol as msg
from streaming_umap.jobs.executors._process import Outbox, PipeChannel, WorkerProcess, send_message
from streaming_umap.jobs.worker import WorkerConfig

CFG = WorkerConfig(backend="cpu", warmup="off", numba_cache_dir="/tmp", role="job", index=0)


def _never_reads(conn: Connection) -> None:
    time.sleep(120)


def _launch_deaf(cfg: WorkerConfig) -> tuple[Any, Connection]:
    ctx = mp.get_context("spawn")
    conn, child = ctx.Pipe(duplex=True)
    process = ctx.Process(target=_never_reads, args=(child,), daemon=True)
    process.start()
    child.close()
    return process, conn


def test_keyed_messages_replace_the_pending_one_where_it_stands() -> None:
    box = Outbox()
    box.put("run")
    box.put("pause", key=("j", "hold"))
    box.put("live 5", key=("j", "live"))
    box.put("resume", key=("j", "hold"))
    box.put("shutdown")
    assert [box.take() for _ in range(len(box))] == ["run", "resume", "live 5", "shutdown"]
    box.close()
    assert box.take() is None


def test_a_flood_of_controls_to_a_worker_that_never_reads_is_one_message_each() -> None:
    loop = asyncio.new_event_loop()
    worker = WorkerProcess(CFG, loop, lambda w, m: None, lambda w: None, _launch_deaf(CFG))
    try:
        big = np.ones((4096, 1024), dtype=np.float32)  # 16 MiB: more than a pipe holds
        worker.post(msg.RunImmediate(1, "umap", {}, big, 1000, 4096))
        for i in range(20_000):  # would block the loop at once if post() wrote to the pipe
            action = "pause" if i % 2 else "resume"
            worker.post(msg.Control("job", action), key=("job", "hold"))  # type: ignore[arg-type]
            worker.post(msg.Control("job", "live", every=i % 7), key=("job", "live"))
        assert len(worker.outbox) <= 2
    finally:
        worker.kill()
        worker.process.join(10)
        worker._reader.join(10)
        worker.conn.close()
        loop.close()


def test_immediate_rows_travel_as_raw_bytes_and_arrive_equal() -> None:
    ctx = mp.get_context("spawn")
    server, child = ctx.Pipe(duplex=True)
    rows = np.arange(600, dtype=np.float32).reshape(200, 3)
    send_message(server, msg.RunImmediate(7, "umap", {"n_neighbors": 5}, rows, 1000, 4096))
    send_message(server, msg.Control("j", "cancel"))
    channel = PipeChannel(child)
    assert channel.controls(timeout=5) == [msg.Control("j", "cancel")]  # the run request waits aside
    request = channel.next_message()
    assert isinstance(request, msg.RunImmediate) and request.request_id == 7
    assert request.data.dtype == np.float32 and np.array_equal(request.data, rows)
    server.close()
    child.close()
