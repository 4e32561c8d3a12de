"""The ETA cost model: predicted seconds per stage, and progress made of them.

Each stage's cost is ``base + coef * units``, where ``units`` is the stage's work in
natural terms (rows^2 x dims for exact kNN, epochs x rows x k for the layout, ...).
``coef`` (seconds per unit) starts from built-in priors, is measured by each worker's
warm-up on this machine, and is refined from every finished job, per backend and
stage. Progress is then ``elapsed / (elapsed + predicted remaining)``, so it moves
evenly with time whenever the predictions are right, and the ETA is honest from the
first frame.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .checkpoint import Verdict

BASE_SECONDS = 0.02

STAGES: dict[str, tuple[str, ...]] = {
    "umap": ("load", "place", "knn", "graph", "layout", "transform", "write", "index"),
    "cluster": ("load", "cluster", "write"),
    "transform": ("load", "index", "transform", "write"),
}

# place: a refit's new rows placed into the model it starts from; transform: a sample fit's
# other rows (a umap job), or the rows of a transform job
# index: a kept model's neighbour index, built as its fit ends (CPU, above brute-force size)
OPTIONAL_STAGES = frozenset({"transform", "place", "index"})

# Seconds per unit, measured on a 2-core x86 box (CPU) and an H200 (GPU, from
# shared/DESIGN.md); replaced by warm-up measurements and finished jobs.
PRIORS: dict[str, dict[str, float]] = {
    "cpu": {
        "load": 2e-9,
        "knn:exact": 4e-11,
        "knn:approx": 4e-10,
        "graph": 5e-6,
        "layout": 8e-8,
        "write": 1e-8,
        # measured 2026-12-02 on a 2-core box whose warm-up calibrates to 2.1x these
        # priors (benchmarks/bench_eta.py and in process), divided by 2.1: k-means 20k x
        # 512 with 8 and 32 clusters and 20k x 128 with 64; DBSCAN, HDBSCAN at 5k-50k rows
        # (/v2: the units changed with these priors; a store's learnt values of the old
        # keys, in the old units, are left unused)
        "cluster:kmeans": 1.5e-10,
        "cluster:dbscan/v2": 8.6e-10,
        "cluster:hdbscan/v2": 1.05e-8,
        "transform": 1e-7,
        "index": 4e-10,
        # a job's first NN-descent of a metric and size class in a worker process: the
        # compile (or, for the metrics the warm-up covers, the disk cache's load), in
        # seconds (units: 1). Measured on the box above: manhattan 13-15 s, correlation
        # 15-42 s (less when another metric compiled the shared code first).
        "first:knn": 8.0,
        "first:knn:euclidean": 0.5,
        "first:knn:cosine": 0.5,
    },
    "gpu": {
        "load": 1e-9,
        "knn:exact": 1.1e-13,
        "knn:approx": 2.5e-11,
        "graph": 6e-8,
        "layout": 2.3e-9,
        "write": 1e-8,
        "cluster:kmeans": 2e-12,
        # the earlier priors (2e-11 per rows^2 x dims, 1.3e-7 per rows log2(rows) x dims)
        # in the /v2 units, equal at 100k x 64 (not measured again: no GPU since)
        "cluster:dbscan/v2": 4.5e-10,
        "cluster:hdbscan/v2": 8.8e-10,
        "transform": 1e-7,  # placement runs on the CPU cores of the GPU worker
        "index": 4e-10,
        "first:knn": 0.0,  # cuML compiles nothing per metric in a job
    },
}

# NN-descent's time per unit against euclidean's, for the metrics pynndescent computes
# more slowly (measured 2026-12-02 on 10k x 64 and 20k x 128, compiled; see the issue's
# ETA bench). A metric's own coefficient (``knn:approx:<metric>``) starts from this and
# is then learnt apart, so a slow metric does not skew every other job's ETA.
APPROX_KNN_METRIC_COST: dict[str, float] = {"manhattan": 1.8, "correlation": 2.7}
FAST_KNN_METRICS = frozenset({"euclidean", "cosine"})  # the base ``knn:approx`` key


def default_epochs(rows: int) -> int:
    """umap-learn's and cuML's default: 500 epochs up to 10,000 rows, else 200."""
    return 500 if rows <= 10_000 else 200


def stage_key_units(
    kind: str, stage: str, rows: int, dims: int, params: dict[str, Any], exact_max_rows: int
) -> tuple[str, float]:
    """The cost-model key and the work units of one stage of a job."""
    model_rows = int(params.get("model_rows") or 0)  # transform, refit: the kept model's rows
    if kind == "transform":
        k = max(1, int(params.get("n_neighbors", 15)))
        if stage == "index":  # the model's NN-descent index (cached after the first use)
            return "index", float(model_rows) * dims * k * math.log2(max(model_rows, 2))
        if stage == "transform":
            return "transform", float(rows) * k * 100
    sample = int(params.get("fit_sample_rows") or 0)
    placed = rows - sample if 0 < sample < rows else 0
    if placed and stage in ("knn", "graph", "layout"):
        rows = sample  # fitted on the sample; the rest is placed in the transform stage
    k = max(1, min(int(params.get("n_neighbors", 15)), max(1, rows - 1)))
    if stage == "transform":  # each placed row: a kNN query and 100 short epochs
        return "transform", float(placed) * k * 100
    if stage == "index":  # keep_model: the model's NN-descent index (see kind "transform")
        if not params.get("keep_model") or rows <= exact_max_rows:
            return "index", 0.0
        return "index", float(rows) * dims * k * math.log2(max(rows, 2))
    if stage == "place":  # a refit's rows beyond the model's, placed into it
        return "transform", float(max(0, rows - model_rows) if model_rows else 0) * k * 100
    if stage == "load":
        return "load", float(rows * dims)
    if stage == "write":
        return "write", float(rows * max(1, int(params.get("n_components", 1))))
    if stage == "knn":
        if rows <= exact_max_rows:
            return "knn:exact", float(rows) * rows * dims
        metric = str(params.get("metric", "euclidean"))
        key = "knn:approx" if metric in FAST_KNN_METRICS else f"knn:approx:{metric}"
        return key, float(rows) * dims * k * math.log2(max(rows, 2))
    if stage == "graph":
        return "graph", float(rows * k)
    if stage == "layout":
        epochs = int(params.get("n_epochs") or default_epochs(rows))
        return "layout", float(epochs) * rows * k
    if stage == "cluster":
        algorithm = str(params.get("algorithm", "dbscan"))
        if algorithm == "kmeans":
            return "cluster:kmeans", float(rows) * dims * int(params.get("n_clusters", 8)) * 20
        if algorithm == "dbscan":  # measured: ~rows^2, little dependence on dims
            return "cluster:dbscan/v2", float(rows) * rows * dims ** 0.25
        # measured at 5k-50k rows and 16-64 dims: rows^1.8 x dims^0.66
        return "cluster:hdbscan/v2", float(rows) ** 1.8 * dims ** 0.66
    return stage, 0.0


@dataclass(frozen=True)
class StagePlan:
    stage: str
    key: str
    units: float
    seconds: float
    # seconds added once the worker said this stage runs code it has not run yet (a
    # compile), and the cost-model key they are learnt under
    first_run_key: str = ""
    first_run_seconds: float = 0.0


@dataclass
class CostModel:
    backend: str
    coef: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        merged = dict(PRIORS.get(self.backend, PRIORS["cpu"]))
        merged.update(self.coef)
        self.coef = merged

    def _coef(self, key: str) -> float:
        """``coef[key]``; a key not seen yet (``knn:approx:manhattan``,
        ``first:knn:correlation``) starts from its family's coefficient (the key less its
        last part), scaled for a slower metric."""
        if key not in self.coef:
            family = key.rsplit(":", 1)[0]
            if family == key or family not in self.coef:
                return 0.0
            scale = APPROX_KNN_METRIC_COST.get(key.rsplit(":", 1)[1], 1.0) if family == "knn:approx" else 1.0
            self.coef[key] = self._coef(family) * scale
        return self.coef[key]

    def predict(self, key: str, units: float) -> float:
        return BASE_SECONDS + self._coef(key) * units

    def first_run(self, stage: str, params: dict[str, Any]) -> tuple[str, float]:
        """The key and predicted seconds of the extra cost of a stage whose code the
        worker runs for the first time (for now NN-descent: per metric, while the worker
        flags each metric and size class). Learnt from what the stage took beyond its
        own prediction, so that absorbs any error of the stage's coefficient too, and a
        first run that cost nothing extra leaves the value as it was (rough, by design:
        it is paid once per worker and metric)."""
        if stage != "knn":
            return "", 0.0
        key = f"first:knn:{params.get('metric', 'euclidean')}"
        return key, max(0.0, self._coef(key))

    def plan(
        self, kind: str, rows: int, dims: int, params: dict[str, Any], exact_max_rows: int
    ) -> list[StagePlan]:
        out = []
        for stage in STAGES[kind]:
            key, units = stage_key_units(kind, stage, rows, dims, params, exact_max_rows)
            if stage in OPTIONAL_STAGES and units <= 0:
                continue  # not part of this job (transform: only when fitted on a sample)
            out.append(StagePlan(stage, key, units, self.predict(key, units)))
        return out

    def calibrate(self, measured: dict[str, float], reference: str = "layout") -> float:
        """Scale every coefficient by this machine's speed, read off the warm-up's
        ``reference`` stage (the layout: linear in its units, little fixed cost).
        Other stages of a tiny warm-up run are dominated by fixed costs, so they
        only inform the model once real jobs finish. Returns the factor used."""
        coef = measured.get(reference)
        if not coef or reference not in self.coef:
            return 1.0
        factor = min(4.0, max(0.25, coef / PRIORS.get(self.backend, PRIORS["cpu"])[reference]))
        self.coef = {k: v * factor for k, v in PRIORS.get(self.backend, PRIORS["cpu"]).items()}
        return factor

    def observe(self, key: str, units: float, seconds: float, weight: float = 0.5) -> None:
        """Move ``coef[key]`` toward what was just measured (geometric mean step)."""
        if units <= 0 or seconds <= BASE_SECONDS or self._coef(key) <= 0:
            return
        measured = (seconds - BASE_SECONDS) / units
        old = self.coef[key]
        self.coef[key] = math.exp((1 - weight) * math.log(old) + weight * math.log(measured))

    def total(self, plan: list[StagePlan]) -> float:
        return sum(p.seconds for p in plan)


class _Clock:
    """Compute time: stops while the job is paused."""

    def __init__(self, now: float) -> None:
        self.elapsed = 0.0
        self.since: float | None = now

    def read(self, now: float) -> float:
        return self.elapsed + (now - self.since if self.since is not None else 0.0)

    def stop(self, now: float) -> None:
        if self.since is not None:
            self.elapsed += now - self.since
            self.since = None

    def start(self, now: float) -> None:
        if self.since is None:
            self.since = now


class ProgressTracker:
    """Turns stage and step events of one running job into progress and ETA."""

    def __init__(self, plan: list[StagePlan], now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.plan = plan
        self.clock = _Clock(now)
        self.index = -1
        self.stage_started = 0.0
        self.done = 0
        self.total = 1
        self.finished: list[tuple[StagePlan, float]] = []
        self.progress = 0.0

    def _position(self, stage: str) -> int:
        for i, p in enumerate(self.plan):
            if p.stage == stage:
                return i
        return -1

    def on_stage(self, stage: str, total: int, now: float, first_run: tuple[str, float] = ("", 0.0)) -> None:
        """``stage`` began; ``first_run`` (key, seconds): it runs code new to the worker,
        which costs that much more than the plan said."""
        position = self._position(stage)
        if position < 0 or position <= self.index:
            return
        key, extra = first_run
        if key and extra > 0:
            p = self.plan[position]
            self.plan[position] = StagePlan(p.stage, p.key, p.units, p.seconds + extra, key, extra)
        clock = self.clock.read(now)
        if self.index >= 0:
            self.finished.append((self.plan[self.index], clock - self.stage_started))
        self.index, self.stage_started = position, clock
        self.done, self.total = 0, max(1, total)

    def on_advance(self, done: int, now: float) -> None:
        self.done = max(self.done, min(done, self.total))

    def pause(self, now: float) -> None:
        self.clock.stop(now)

    def resume(self, now: float) -> None:
        self.clock.start(now)

    def finish(self, now: float) -> list[tuple[StagePlan, float]]:
        """Close the last stage; return (plan, measured seconds) of each stage seen."""
        if self.index >= 0:
            self.finished.append((self.plan[self.index], self.clock.read(now) - self.stage_started))
            self.index = len(self.plan)
        return self.finished

    def _speed(self) -> float:
        """How much slower (>1) or faster than predicted this job runs, from its finished
        stages, trusted in proportion to the share of the plan they cover: a short first
        stage that ran 5x off says little about the layout that follows."""
        predicted = sum(p.seconds for p, _ in self.finished)
        actual = sum(s for _, s in self.finished)
        if predicted < 0.2 or actual <= 0:
            return 1.0
        share = min(1.0, predicted / max(sum(p.seconds for p in self.plan), 1e-9))
        return float(min(5.0, max(0.2, actual / predicted)) ** share)

    def estimate(self, now: float) -> tuple[float, float]:
        """(progress percentage, ETA seconds), progress never decreasing."""
        clock = self.clock.read(now)
        speed = self._speed()
        if self.index < 0:
            remaining = sum(p.seconds for p in self.plan) * speed
        else:
            current = self.plan[self.index].seconds * speed
            spent = clock - self.stage_started
            fraction = self.done / self.total
            if fraction <= 0:  # no step done yet: count down, and once overdue, stay positive
                left = max(current - spent, 0.2 * current * math.sqrt(spent / current))
            else:
                by_rate = spent * (1 - fraction) / fraction
                weight = min(1.0, 2 * fraction)
                left = (1 - weight) * current * (1 - fraction) + weight * by_rate
            later = sum(p.seconds for p in self.plan[self.index + 1 :]) * speed
            remaining = max(0.0, left) + later
        if clock + remaining > 0:
            self.progress = max(self.progress, min(99.9, 100.0 * clock / (clock + remaining)))
        return self.progress, remaining


class RecordingCheckpoint:
    """A checkpoint that notes when each stage starts (for warm-up timing)."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def stage(self, name: str, total: int, **info: int) -> None:
        self.marks.append((name, time.perf_counter()))

    def advance(self, done: int, **counters: int) -> None:
        pass

    def poll(self) -> Verdict:
        return "go"

    def wants_layout(self, epoch: int) -> bool:
        return False

    def layout(self, epoch: int, embedding: np.ndarray) -> None:
        pass


def timed_stages(
    run: Callable[[RecordingCheckpoint], object],
    data: np.ndarray,
    params: Any,
    options: Any,
) -> dict[str, float]:
    """Run a small UMAP and return seconds per unit of each stage it went through."""
    import msgspec

    cp = RecordingCheckpoint()
    run(cp)
    cp.marks.append(("end", time.perf_counter()))
    values = msgspec.structs.asdict(params)
    out: dict[str, float] = {}
    for (stage, start), (_, stop) in zip(cp.marks, cp.marks[1:]):
        key, units = stage_key_units(
            "umap", stage, data.shape[0], data.shape[1], values, options.exact_knn_max_rows
        )
        if units > 0 and stop - start > BASE_SECONDS:
            out[key] = (stop - start - BASE_SECONDS) / units
    return out
