"""Figure 4: JSON vs ``.npy`` upload: seconds from POST to the 202 answer (read,
parse, validate, store), and how much the server process grew meanwhile.

Measured on the clustering endpoint with a k-means job cancelled at once: the
ingest code is the same as the UMAP endpoint's, and k-means stops at its next
chunk, so no worker compute overlaps the next measurement. The baseline is the
``.npy`` upload of the same array.
"""

from __future__ import annotations

import time
from typing import Any

from ..context import Context
from ..jobs import json_body, npy_bytes

PARAMS = {"algorithm": "kmeans", "n_clusters": 8, "random_state": 0}


def _upload(ctx: Context, body: bytes, content_type: str) -> dict[str, Any]:
    with ctx.memory.window() as mem:
        answer, seconds = ctx.client.post("cluster", body, content_type, PARAMS)
    ctx.client.cancel(answer["job_id"])
    ctx.client.wait_terminal(answer["job_id"])
    return {"upload_s": round(seconds, 3), "body_mib": round(len(body) / 2**20, 1),
            "server_peak_mib": mem.peak_mib("server"),
            "server_growth_mib": mem.growth_mib("server")}


def run(ctx: Context) -> dict[str, Any]:
    profile = ctx.profile
    sizes = []
    for rows in profile.ingest_rows:
        data = ctx.mixture(rows, profile.dims).data
        npy = _upload(ctx, npy_bytes(data), "application/x-npy")
        started = time.perf_counter()
        body = json_body(data, PARAMS)
        encode_s = time.perf_counter() - started
        as_json = _upload(ctx, body, "application/json")
        del body
        as_json["client_encode_s"] = round(encode_s, 3)
        growth, npy_growth = as_json["server_growth_mib"], npy["server_growth_mib"]
        sizes.append({
            "rows": rows, "dims": profile.dims, "npy": npy, "json": as_json,
            "time_ratio": round(as_json["upload_s"] / npy["upload_s"], 2),
            "memory_ratio": (None if growth is None or not npy_growth
                             else round(growth / max(npy_growth, 1.0), 2)),
        })
    return {"endpoint": "POST /umap/streaming/cluster (k-means, cancelled at once)",
            "sizes": sizes}
