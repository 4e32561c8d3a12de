"""Figure 2: time and peak memory vs rows (log-log), service and bare library.

Sizes already measured by figure 1 are reused. Larger sizes run only while the
profile's time budget allows (predicted from the nearest size measured); the
others are listed as skipped with the reason.
"""

from __future__ import annotations

from typing import Any

from ..context import Context


def run(ctx: Context) -> dict[str, Any]:
    profile = ctx.profile
    params = profile.umap_params()
    points: dict[int, dict[str, Any]] = {}
    service = ctx.results.get("service", {})
    for figures in service.get("sizes", []):
        points[int(figures["rows"])] = _point(figures, reused=True)
    for rows in sorted(profile.scaling_rows):
        if rows in points:
            continue
        if ctx.budget.over("scaling", f"{rows} rows", ctx.budget.predict_pair(rows)):
            continue
        figures, _, _ = ctx.side_by_side(ctx.mixture(rows, profile.dims), params)
        points[rows] = _point(figures, reused=False)
    ordered = [points[r] for r in sorted(points)]
    return {"params": params, "points": ordered,
            "largest_rows": max(points) if points else None}


def _point(figures: dict[str, Any], reused: bool) -> dict[str, Any]:
    memory = figures["memory"]
    return {
        "rows": figures["rows"],
        "service_s": figures["service_s"],
        "library_s": figures["library_s"],
        "ratio": figures["ratio"],
        "service_compute_s": figures["job"]["breakdown"]["compute_s"],
        "worker_peak_mib": memory["worker"]["peak_mib"],
        "worker_growth_mib": memory["worker"]["growth_mib"],
        "library_peak_mib": memory["library"]["peak_mib"],
        "library_growth_mib": memory["library"]["growth_mib"],
        "memory_ratio": figures["memory_ratio"],
        "service_stage_seconds": {k: v["measured"]
                                  for k, v in figures["logged_stage_seconds"].items()},
        "library_stage_seconds": figures["library_stage_seconds"],
        "from_figure_1": reused,
    }
