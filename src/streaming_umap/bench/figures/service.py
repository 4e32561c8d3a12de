"""Figure 1: the service end to end vs the bare library in a warm process.

End to end = POST of the ``.npy`` body until the result ``.npy`` is downloaded; the
library's time is ``fit_transform`` alone, data already in memory. Also: time from
the POST's answer to the first WebSocket frame (the snapshot) and to the first
``progress`` frame, frames received, peak RSS of the server, the worker and the
library's process, and where the service's time went (upload, queue, compute per
stage, download).
"""

from __future__ import annotations

from typing import Any

from ..context import Context

GOAL_RATIO = 1.1


def run(ctx: Context) -> dict[str, Any]:
    profile = ctx.profile
    params = profile.umap_params()
    sizes = []
    for rows in profile.service_rows:
        # the headline figure runs anyway; the report says when it went over budget
        ctx.budget.over("service", f"{rows} rows", ctx.budget.predict_pair(rows), run_anyway=True)
        figures, _, _ = ctx.side_by_side(ctx.mixture(rows, profile.dims), params)
        figures["goal_met"] = figures["ratio"] <= GOAL_RATIO
        sizes.append(figures)
    return {"baseline": f"{ctx.library} fit_transform, warm process", "params": params,
            "goal_ratio": GOAL_RATIO, "sizes": sizes}
