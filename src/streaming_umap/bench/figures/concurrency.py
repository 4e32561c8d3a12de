"""Figure 5: 1, 2, 4, 8 jobs of the same size submitted at once: throughput (jobs a
minute) and job latency (POST to downloaded result, p50 and p99; with at most 8
jobs a level, p99 is the slowest job), and ``/health`` latency meanwhile.

The baseline is one job alone (level 1, or figure 1's job of the same size).
``/health`` is also summarised over the samples taken while at least 3 jobs were
running (``workers.busy`` in its own answer): issue 2's goal.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ...config import usable_cores
from ..context import Context
from ..jobs import npy_bytes

HEALTH_GOAL_MS = 50.0
HEALTH_GOAL_BUSY = 3


def _level(ctx: Context, n: int, data: np.ndarray, body: bytes) -> dict[str, Any]:
    params = ctx.profile.umap_params()
    with ctx.health.window() as health, ctx.memory.window() as mem:
        started = time.perf_counter()
        with ThreadPoolExecutor(n, thread_name_prefix="bench-job") as pool:
            runs = list(pool.map(lambda _: ctx.client.run("umap", data, params, body=body,
                                                          fetch=True), range(n)))
        makespan = time.perf_counter() - started
    failed = [r for r in runs if r.status != "completed"]
    if failed:
        raise RuntimeError(f"{len(failed)} of {n} concurrent jobs did not complete: "
                           f"{failed[0].status} {failed[0].error}")
    for r in runs:
        r.tag = f"{n} at once"
    ctx.runs.extend(runs)
    latency = np.array([r.end_to_end_s for r in runs])
    return {
        "jobs": n,
        "makespan_s": round(makespan, 3),
        "throughput_per_min": round(n / makespan * 60, 3),
        "latency_p50_s": round(float(np.percentile(latency, 50)), 3),
        "latency_p99_s": round(float(np.percentile(latency, 99)), 3),
        "queue_s_max": max((r.breakdown()["queue_s"] or 0.0) for r in runs),
        "health": health.summary(),
        "health_busy": health.summary(min_busy=HEALTH_GOAL_BUSY),
        "server_peak_mib": mem.peak_mib("server"),
        "_samples": health.samples,
    }


def run(ctx: Context) -> dict[str, Any]:
    profile = ctx.profile
    rows = profile.concurrency_rows
    dataset = ctx.mixture(rows, profile.dims)
    body = npy_bytes(dataset.data)
    cores = usable_cores()
    levels: list[dict[str, Any]] = []
    # always measured: the first level (the figure's baseline) and the first one with
    # enough jobs for issue 2's /health goal; the others while the budget allows
    required = {profile.concurrency_levels[0],
                next((n for n in profile.concurrency_levels if n >= HEALTH_GOAL_BUSY), 0)}
    for n in profile.concurrency_levels:
        single = levels[0]["latency_p50_s"] if levels and levels[0]["jobs"] == 1 else (
            ctx.budget.single(rows))
        predicted = (single or rows * 1e-3) * max(1.0, n / cores) * 1.3
        if ctx.budget.over("concurrency", f"{n} jobs", predicted, run_anyway=n in required):
            continue
        levels.append(_level(ctx, n, dataset.data, body))
    return _summarise(levels, ctx.budget.single(rows), rows, profile.dims)


def _summarise(levels: list[dict[str, Any]], single_s: float | None, rows: int,
               dims: int) -> dict[str, Any]:
    from ..sampling import HealthWindow

    everything = HealthWindow([s for level in levels for s in level.pop("_samples")])
    alone = next((lv for lv in levels if lv["jobs"] == 1), None)
    base_latency = alone["latency_p50_s"] if alone else single_s
    base_throughput = 60.0 / base_latency if base_latency else None
    for level in levels:
        level["throughput_ratio"] = (None if not base_throughput
                                     else round(level["throughput_per_min"] / base_throughput, 3))
        level["latency_ratio"] = (None if not base_latency
                                  else round(level["latency_p99_s"] / base_latency, 3))
    busy = everything.summary(min_busy=HEALTH_GOAL_BUSY)
    return {
        "rows": rows, "dims": dims, "levels": levels,
        "baseline": "one job alone" if alone else "figure 1's job of the same size",
        "baseline_latency_s": base_latency,
        "health_all": everything.summary(),
        "health_busy": busy,
        "health_goal_ms": HEALTH_GOAL_MS,
        "health_goal_met": None if busy["p99_ms"] is None else busy["p99_ms"] <= HEALTH_GOAL_MS,
    }
