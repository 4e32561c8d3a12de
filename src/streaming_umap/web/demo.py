"""Built-in demo data sets, made on the server so the page needs no upload.

``digits``: scikit-learn's 1,797 8x8 handwritten digits (real images).
``mixture``: a labelled mixture, ``rows`` x ``dims`` (default 100,000 x 512), shaped
like clusters of image embeddings.
"""

from __future__ import annotations

import asyncio
import io
from functools import lru_cache

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from ..datasets import digits, labelled_mixture
from ..errors import InvalidInput, NotFound
from ..schemas import params_from_query
from .ingest import Submission, cross_check, finalize
from .responses import JSON
from .routes import submit_submission

MAX_DEMO_ROWS = 1_000_000
MAX_DEMO_DIMS = 1024

CATALOGUE = [
    {"name": "digits", "rows": 1797, "dims": 64, "classes": 10,
     "description": "scikit-learn's 8x8 handwritten digits (real images)"},
    {"name": "mixture", "rows": 100_000, "dims": 512, "classes": 20,
     "description": "labelled mixture shaped like image-embedding clusters; rows and dims adjustable"},
]


def _size(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 2 <= int(raw) <= high:
        raise InvalidInput(f"{name} must be an integer in 2..{high}, found {raw!r}", field=name)
    return int(raw)


@lru_cache(maxsize=4)
def _make(name: str, rows: int, dims: int) -> tuple[np.ndarray, np.ndarray]:
    if name == "digits":
        return digits()
    return labelled_mixture(rows, dims, seed=0)


async def _dataset(request: Request) -> tuple[np.ndarray, np.ndarray]:
    name = request.path_params["name"]
    if name not in ("digits", "mixture"):
        raise NotFound(f"no demo data set {name!r}; see /umap/streaming/demo")
    rows = _size(request, "rows", 100_000, MAX_DEMO_ROWS)
    dims = _size(request, "dims", 512, MAX_DEMO_DIMS)
    return await asyncio.to_thread(_make, name, rows, dims)


async def catalogue(request: Request) -> Response:
    return JSON({"datasets": CATALOGUE})


def _npy(array: np.ndarray) -> Response:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return Response(buffer.getvalue(), media_type="application/x-npy")


async def labels(request: Request) -> Response:
    _, target = await _dataset(request)
    if request.query_params.get("format") == "npy":
        return _npy(target)
    return JSON({"labels": target.tolist()})


async def data(request: Request) -> Response:
    values, _ = await _dataset(request)
    return _npy(values)


async def start(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind not in ("umap", "cluster"):
        raise NotFound(f"no demo job kind {kind!r}; use umap or cluster")
    values, _ = await _dataset(request)
    query = {k: v for k, v in request.query_params.items() if k not in ("rows", "dims")}
    params = params_from_query(kind, query)
    settings = request.app.state.settings
    sub = Submission(kind, params, finalize(values, settings), [])
    sub.warnings.extend(cross_check(sub))
    return await submit_submission(request, sub)
