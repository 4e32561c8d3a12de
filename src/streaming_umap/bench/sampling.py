"""Background samplers: peak memory (RSS) of named processes, ``/health`` latency, and
how much of the machine other processes used while we measured (contention).

Each sampler is a daemon thread with ``start()`` / ``stop()``; measurements are read
through *windows* (:meth:`MemorySampler.window`, :meth:`HealthProbe.window`) so that
one long-running sampler serves many measurements, even overlapping ones.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar

import numpy as np
import psutil

log = logging.getLogger(__name__)

# role -> process ids, asked again at every sample (workers may be replaced)
PidSource = Callable[[], dict[str, list[int]]]


W = TypeVar("W")


class _Background:
    """A daemon thread running :meth:`_run` from :meth:`start` until :meth:`stop`."""

    thread_name = "bench-sampler"
    join_timeout = 5.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.join_timeout)

    def _run(self) -> None:
        raise NotImplementedError


class _Windowed(_Background, Generic[W]):
    """A sampler whose samples go to every window open at the time."""

    def __init__(self) -> None:
        super().__init__()
        self._windows: list[W] = []
        self._lock = threading.Lock()

    @contextmanager
    def _registered(self, win: W) -> Iterator[W]:
        with self._lock:
            self._windows.append(win)
        try:
            yield win
        finally:
            with self._lock:
                self._windows.remove(win)


@dataclass
class MemoryPeak:
    """RSS seen during one window, per process: when the window opened and at peak.

    Per role (``server``, ``worker``, ``baseline``): :meth:`peak_mib` is the largest
    RSS of any of the role's processes, :meth:`growth_mib` the largest rise of one
    process since the window opened (what this measurement added: a worker that kept
    memory from an earlier, bigger job does not count against a small one), and
    :meth:`busiest_mib` the peak RSS of the process that rose most.
    """

    start: dict[int, int] = field(default_factory=dict)
    peak: dict[int, int] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)
    samples: int = 0

    def add(self, role: str, values: dict[int, int]) -> None:
        for pid, rss in values.items():
            self.roles[pid] = role
            self.start.setdefault(pid, rss)
            self.peak[pid] = max(self.peak.get(pid, 0), rss)

    def _pids(self, role: str) -> list[int]:
        return [pid for pid, r in self.roles.items() if r == role]

    def peak_mib(self, role: str) -> float | None:
        pids = self._pids(role)
        return round(max(self.peak[p] for p in pids) / 2**20, 1) if pids else None

    def growth_mib(self, role: str) -> float | None:
        pids = self._pids(role)
        if not pids:
            return None
        return round(max(self.peak[p] - self.start[p] for p in pids) / 2**20, 1)

    def busiest_mib(self, role: str) -> float | None:
        pids = self._pids(role)
        if not pids:
            return None
        pid = max(pids, key=lambda p: self.peak[p] - self.start[p])
        return round(self.peak[pid] / 2**20, 1)

    def summary(self, role: str) -> dict[str, float | None]:
        return {"peak_mib": self.busiest_mib(role), "growth_mib": self.growth_mib(role)}


class MemorySampler(_Windowed[MemoryPeak]):
    """Samples the RSS of every process named by ``source`` every ``interval`` s."""

    thread_name = "bench-memory"

    def __init__(self, source: PidSource, interval: float = 0.05) -> None:
        super().__init__()
        self.source = source
        self.interval = interval
        self._procs: dict[int, psutil.Process] = {}

    def _rss(self, pid: int) -> int | None:
        proc = self._procs.get(pid)
        try:
            if proc is None:
                proc = self._procs[pid] = psutil.Process(pid)
            return int(proc.memory_info().rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            self._procs.pop(pid, None)
            return None

    def sample_once(self) -> dict[str, dict[int, int]]:
        out: dict[str, dict[int, int]] = {}
        for role, pids in self.source().items():
            values = {p: self._rss(p) for p in pids}
            out[role] = {p: v for p, v in values.items() if v is not None}
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sample = self.sample_once()
            except Exception:  # a sampler must never take the benchmark down
                log.exception("memory sampling failed")
                sample = {}
            with self._lock:
                for window in self._windows:
                    window.samples += 1
                    for role, values in sample.items():
                        window.add(role, values)
            self._stop.wait(self.interval)

    @contextmanager
    def window(self) -> Iterator[MemoryPeak]:
        peak = MemoryPeak()
        first = self.sample_once()  # so that even a very short window has its start
        for role, values in first.items():
            peak.add(role, values)
        try:
            with self._registered(peak):
                yield peak
        finally:
            for role, values in self.sample_once().items():  # and its end
                peak.add(role, values)


def percentile(values: list[float], q: float) -> float | None:
    return None if not values else float(np.percentile(np.asarray(values), q))


@dataclass
class HealthSample:
    at: float  # time.time() when the request was sent
    seconds: float
    busy: int  # job workers busy, as /health said
    ok: bool


@dataclass
class HealthWindow:
    samples: list[HealthSample] = field(default_factory=list)

    def summary(self, min_busy: int = 0) -> dict[str, Any]:
        """Latency percentiles (ms) over the samples taken while >= ``min_busy`` jobs ran."""
        chosen = [s for s in self.samples if s.busy >= min_busy]
        ms = [s.seconds * 1000 for s in chosen if s.ok]
        return {
            "samples": len(chosen),
            "errors": sum(not s.ok for s in chosen),
            "p50_ms": _round(percentile(ms, 50)),
            "p99_ms": _round(percentile(ms, 99)),
            "max_ms": _round(max(ms) if ms else None),
            "min_busy": min_busy,
        }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


class HealthProbe(_Windowed[HealthWindow]):
    """While a window is open, GETs ``/health`` every ``interval`` s on its own
    connection, recording latency and how many job workers were busy."""

    thread_name = "bench-health"
    join_timeout = 10.0  # a probe may be inside a 10 s request

    def __init__(self, url: str, interval: float = 0.1) -> None:
        super().__init__()
        self.url = url.rstrip("/") + "/health"
        self.interval = interval

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=10.0) as client:
            while not self._stop.is_set():
                with self._lock:
                    idle = not self._windows
                if idle:  # probe only while someone measures: no load on other figures
                    self._stop.wait(self.interval)
                    continue
                at, started = time.time(), time.perf_counter()
                busy, ok = 0, False
                try:
                    response = client.get(self.url)
                    ok = response.status_code == 200
                    busy = int(response.json().get("workers", {}).get("busy", 0))
                except (httpx.HTTPError, ValueError):
                    pass
                sample = HealthSample(at, time.perf_counter() - started, busy, ok)
                with self._lock:
                    for window in self._windows:
                        window.samples.append(sample)
                self._stop.wait(self.interval)

    @contextmanager
    def window(self) -> Iterator[HealthWindow]:
        with self._registered(HealthWindow()) as win:
            yield win


class ContentionMonitor(_Background):
    """How busy the machine was with work that is not ours.

    Every ``interval`` s: the machine's busy CPU seconds minus the CPU seconds of our
    own processes (this one, and every process ``source`` names, with their children).
    ``foreign_cores`` is the mean number of cores other processes kept busy.
    """

    thread_name = "bench-contention"

    def __init__(self, source: Callable[[], list[int]], interval: float = 1.0) -> None:
        super().__init__()
        self.source = source
        self.interval = interval
        self._own_cpu: dict[int, float] = {}
        self._foreign = 0.0
        self._wall = 0.0
        self.load_start = os.getloadavg()
        self.load_end = self.load_start

    def stop(self) -> None:
        super().stop()
        self.load_end = os.getloadavg()

    def _own_seconds(self) -> float:
        roots = {os.getpid(), *self.source()}
        pids = set(roots)
        for pid in roots:
            try:
                pids.update(c.pid for c in psutil.Process(pid).children(recursive=True))
            except psutil.NoSuchProcess:
                pass
        for pid in pids:
            try:
                times = psutil.Process(pid).cpu_times()
                self._own_cpu[pid] = times.user + times.system
            except psutil.NoSuchProcess:
                pass  # keep its last figure: the time it used still counts as ours
        return sum(self._own_cpu.values())

    @staticmethod
    def _busy_seconds() -> float:
        t = psutil.cpu_times()
        return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))

    def _run(self) -> None:
        busy, own, wall = self._busy_seconds(), self._own_seconds(), time.monotonic()
        while not self._stop.wait(self.interval):
            busy2, own2, wall2 = self._busy_seconds(), self._own_seconds(), time.monotonic()
            self._foreign += max(0.0, (busy2 - busy) - (own2 - own))
            self._wall += wall2 - wall
            busy, own, wall = busy2, own2, wall2

    def summary(self) -> dict[str, Any]:
        cores = psutil.cpu_count() or 1
        foreign = self._foreign / self._wall if self._wall else 0.0
        return {
            "cores": cores,
            "foreign_cores": round(foreign, 2),
            "contended": foreign > 0.25 * cores,
            "loadavg_start": [round(x, 2) for x in self.load_start],
            "loadavg_end": [round(x, 2) for x in self.load_end],
        }
