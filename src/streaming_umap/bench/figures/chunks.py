"""Figure 3: time and peak memory vs chunk size (the per-job ``chunk_size``, which
overrides the server's ``GPU_UMAP_CHUNK_SIZE``).

The baseline is a job at the server's default chunk size, on the same data. On the
CPU only the exact kNN path (up to 4096 rows by default) is chunked, so the CPU
profiles sweep at a size that takes it; NN-descent above that size has no row
chunks and ignores the setting.
"""

from __future__ import annotations

from typing import Any

from ..context import Context
from ..jobs import JobRun, logged_stage_seconds


def _measure(ctx: Context, data: Any, params: dict[str, Any]) -> tuple[JobRun, dict[str, Any]]:
    with ctx.memory.window() as mem:
        run = ctx.client.run("umap", data, params)
    if run.status != "completed":
        raise RuntimeError(f"chunk sweep job ended {run.status}: {run.error}")
    logged = logged_stage_seconds(ctx.server.log_file, run.job_id)
    knn = next((v["measured"] for k, v in logged.items() if k.startswith("knn")), None)
    return run, {
        "chunk_size": params.get("chunk_size"),
        "total_chunks": run.record.get("total_chunks"),
        "service_s": round(run.end_to_end_s, 3),
        "compute_s": run.breakdown()["compute_s"],
        "knn_s": knn if knn is not None else run.stage_seconds().get("knn"),
        "frames": len(run.frames),
        "worker_peak_mib": mem.busiest_mib("worker"),
        "worker_growth_mib": mem.growth_mib("worker"),
    }


def run(ctx: Context) -> dict[str, Any]:
    profile = ctx.profile
    params = profile.umap_params()
    dataset = ctx.mixture(profile.chunk_rows, profile.dims)
    _, base = _measure(ctx, dataset.data, params)
    points = []
    for size in profile.chunk_sizes:
        if ctx.budget.over("chunks", f"chunk_size={size}", base["service_s"] * 1.5):
            continue
        _, point = _measure(ctx, dataset.data, dict(params, chunk_size=size))
        point["time_ratio"] = round(point["service_s"] / base["service_s"], 3)
        point["knn_ratio"] = (None if not point["knn_s"] or not base["knn_s"]
                              else round(point["knn_s"] / base["knn_s"], 3))
        growth, base_growth = point["worker_growth_mib"], base["worker_growth_mib"]
        point["memory_ratio"] = (None if growth is None or not base_growth
                                 else round(growth / base_growth, 3))
        points.append(point)
    return {"rows": profile.chunk_rows, "dims": profile.dims, "params": params,
            "baseline": dict(base, chunk_size="server default"), "points": points}
