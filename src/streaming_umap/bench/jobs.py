"""Running one job through the service the way a client does, with a stopwatch.

Submit (``.npy`` or JSON body) -> follow the WebSocket -> download the result as
``.npy``. Every frame is kept with the time it arrived, so that first-frame latency,
per-stage seconds and ETA honesty can be read off afterwards.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

log = logging.getLogger(__name__)

TERMINAL = frozenset({"completed", "failed", "cancelled"})
JOB_TIMEOUT = 3600.0


def npy_bytes(data: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(data))
    return buffer.getvalue()


def pieces(body: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    """A body as 1 MiB pieces: httpx sends one large ``bytes`` object slowly (~25 MB/s
    measured by the GPU benchmark; 600 MB took 25 s, in pieces 2.4 s), which would
    count the client's slowness against the service."""
    view = memoryview(body)
    for start in range(0, len(body), size):
        yield bytes(view[start:start + size])


def json_body(data: np.ndarray, params: dict[str, Any]) -> bytes:
    """The documented JSON request. orjson (when installed) writes numpy arrays
    directly; otherwise the stdlib writer on nested lists (slow and memory-hungry
    at 100k rows, which is the point of the ``.npy`` path)."""
    try:
        import orjson
    except ImportError:
        return json.dumps(dict(params, data=data.tolist())).encode()
    return orjson.dumps(dict(params, data=np.ascontiguousarray(data)),
                        option=orjson.OPT_SERIALIZE_NUMPY)


@dataclass
class JobRun:
    """One job as a client saw it. Times from ``time.perf_counter`` are durations;
    ``frames`` hold ``(time.time() on arrival, frame)`` to compare with server times."""

    kind: str
    rows: int
    job_id: str = ""
    status: str = ""
    error: str | None = None
    upload_s: float = 0.0
    end_to_end_s: float = 0.0
    download_s: float = 0.0
    first_frame_s: float | None = None
    first_progress_s: float | None = None
    frames: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)  # status body once terminal
    result: np.ndarray | None = None
    submit_at: float = 0.0  # time.time() when the POST was sent
    tag: str = "alone"  # "alone", or how many jobs were submitted with it

    @property
    def frame_types(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, frame in self.frames:
            counts[frame.get("type", "?")] = counts.get(frame.get("type", "?"), 0) + 1
        return counts

    def stage_seconds(self) -> dict[str, float]:
        """Seconds per stage as the frames show them (a stage shorter than the ~0.1 s
        frame interval may be folded into its neighbour)."""
        starts: list[tuple[str, float]] = []
        for _, frame in self.frames:
            stage, at = frame.get("stage"), frame.get("timestamp")
            if stage is None or at is None or stage in ("queued", "done"):
                continue
            if not starts or starts[-1][0] != stage:
                starts.append((stage, float(at)))
        end = self.record.get("finished_at")
        out: dict[str, float] = {}
        for i, (stage, at) in enumerate(starts):
            stop = starts[i + 1][1] if i + 1 < len(starts) else end
            if stop is not None:
                out[stage] = round(out.get(stage, 0.0) + float(stop) - at, 3)
        return out

    def first_frames(self, count: int = 4) -> list[dict[str, Any]]:
        """The first frames as they arrived: what the first-frame latency is made of.
        ``lag_ms``: arrival minus the server's ``timestamp`` (delivery delay)."""
        out = []
        for arrived, frame in self.frames[:count]:
            at = frame.get("timestamp")
            out.append({"type": frame.get("type"), "stage": frame.get("stage"),
                        "seq": frame.get("seq"),
                        "after_submit_ms": round((arrived - self.submit_at) * 1000, 1),
                        "lag_ms": None if at is None else round((arrived - float(at)) * 1000, 1)})
        return out

    def breakdown(self) -> dict[str, float | None]:
        """Where the end-to-end time went, from the client's and the server's clocks."""
        created, started = self.record.get("created_at"), self.record.get("started_at")
        finished = self.record.get("finished_at")
        queue = None if created is None or started is None else started - created
        compute = None if started is None or finished is None else finished - started
        known = self.upload_s + (queue or 0.0) + (compute or 0.0) + self.download_s
        return {
            "upload_s": round(self.upload_s, 3),
            "queue_s": None if queue is None else round(queue, 3),
            "compute_s": None if compute is None else round(compute, 3),
            "download_s": round(self.download_s, 3),
            "other_s": round(self.end_to_end_s - known, 3),
        }

    def summary(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "tag": self.tag,
            "error": self.error,
            "rows": self.rows,
            "end_to_end_s": round(self.end_to_end_s, 3),
            "first_frame_ms": _ms(self.first_frame_s),
            "first_progress_ms": _ms(self.first_progress_s),
            "frames": len(self.frames),
            "frame_types": self.frame_types,
            "first_frames": self.first_frames(),
            "breakdown": self.breakdown(),
            "stage_seconds": self.stage_seconds(),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


class ServiceClient:
    """What the benchmark needs of the API (kept here so the suite depends on the
    documented HTTP contract only)."""

    def __init__(self, url: str, ws_url: str) -> None:
        self.url = url.rstrip("/")
        self.ws_url = ws_url.rstrip("/")

    def _http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=httpx.Timeout(600.0, connect=10.0))

    def post(self, kind: str, body: bytes, content_type: str,
             params: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """POST a job; returns the answer and the seconds the request took."""
        query = {k: str(v) for k, v in params.items() if v is not None}
        if content_type == "application/json":
            query = {}
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        with self._http() as http:
            started = time.perf_counter()
            response = http.post(f"/umap/streaming/{kind}", content=pieces(body), params=query,
                                 headers=headers)
            seconds = time.perf_counter() - started
        if response.status_code not in (200, 202):
            raise RuntimeError(f"submitting a {kind} job: expected 200/202, found "
                               f"{response.status_code}: {response.text[:300]}")
        return response.json(), seconds

    def status(self, job_id: str) -> dict[str, Any]:
        with self._http() as http:
            response = http.get(f"/umap/streaming/status/{job_id}",
                                params={"include_result": "false"})
        response.raise_for_status()
        return dict(response.json())

    def cancel(self, job_id: str) -> None:
        with self._http() as http:
            response = http.delete(f"/umap/streaming/cancel/{job_id}")
        if response.status_code not in (200, 409):
            raise RuntimeError(f"cancel {job_id}: {response.status_code} {response.text[:200]}")

    def wait_terminal(self, job_id: str, timeout: float = 600.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.status(job_id)
            if record["status"] in TERMINAL:
                return record
            time.sleep(0.2)
        raise TimeoutError(f"job {job_id} did not end within {timeout:.0f} s")

    def result(self, job_id: str) -> np.ndarray:
        with self._http() as http:
            response = http.get(f"/umap/streaming/result/{job_id}", params={"format": "npy"})
        response.raise_for_status()
        array: np.ndarray = np.load(io.BytesIO(response.content), allow_pickle=False)
        return array

    def follow(self, run: JobRun, answered_at: float) -> None:
        """Read the job's frames until its terminal frame (or the socket closes)."""
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        url = f"{self.ws_url}/umap/streaming/ws/{run.job_id}"
        deadline = time.monotonic() + JOB_TIMEOUT
        with connect(url, max_size=None, open_timeout=30) as ws:
            while time.monotonic() < deadline:
                try:
                    message = ws.recv(timeout=max(1.0, deadline - time.monotonic()))
                except (ConnectionClosed, TimeoutError):  # closed after the terminal frame
                    break
                if isinstance(message, bytes):
                    continue
                now = time.perf_counter()
                frame = json.loads(message)
                run.frames.append((time.time(), frame))
                if run.first_frame_s is None:
                    run.first_frame_s = now - answered_at
                if run.first_progress_s is None and frame.get("type") == "progress":
                    run.first_progress_s = now - answered_at
                if frame.get("type") in TERMINAL:
                    break

    def run(self, kind: str, data: np.ndarray, params: dict[str, Any],
            body: bytes | None = None, fetch: bool = True) -> JobRun:
        """Submit ``data`` as ``.npy``, follow it to the end, download the result."""
        run = JobRun(kind, int(data.shape[0]))
        payload = npy_bytes(data) if body is None else body
        run.submit_at = time.time()
        started = time.perf_counter()
        answer, run.upload_s = self.post(kind, payload, "application/x-npy", params)
        answered_at = time.perf_counter()
        if answer.get("job_id") == "immediate":
            raise RuntimeError(f"{data.shape[0]} rows were answered immediately; the "
                               "benchmark needs a background job (raise the row count)")
        run.job_id = answer["job_id"]
        self.follow(run, answered_at)
        run.record = self.wait_terminal(run.job_id)
        run.status, run.error = run.record["status"], run.record.get("error")
        if fetch and run.status == "completed":
            fetched = time.perf_counter()
            run.result = self.result(run.job_id)
            run.download_s = time.perf_counter() - fetched
        run.end_to_end_s = time.perf_counter() - started
        if run.status != "completed":
            log.warning("job %s ended %s: %s", run.job_id, run.status, run.error)
        return run


_COST_LINE = re.compile(r"cost model after (\S+): \{(.*)\}")
_COST_ITEM = re.compile(r"'([^']+)': '([0-9.eE+-]+)s/([0-9.eE+-]+)s'")


def logged_stage_seconds(log_file: Path | None, job_id: str) -> dict[str, dict[str, float]]:
    """Per-stage seconds the server logged after the job (``measured``/``predicted``);
    empty when the log is not readable here or holds no such line."""
    if log_file is None or not log_file.exists():
        return {}
    out: dict[str, dict[str, float]] = {}
    for line in log_file.read_text(errors="replace").splitlines():
        found = _COST_LINE.search(line)
        if found and found.group(1) == job_id:
            for key, measured, predicted in _COST_ITEM.findall(found.group(2)):
                out[key] = {"measured": float(measured), "predicted": float(predicted)}
    return out
