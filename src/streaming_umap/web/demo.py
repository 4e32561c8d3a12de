"""Built-in demo data sets, made on the server so the page needs no upload.

``digits``: scikit-learn's 1,797 8x8 handwritten digits (real images).
``mixture``: a labelled mixture, ``rows`` x ``dims`` (default 100,000 x 512), shaped
like clusters of image embeddings.

The mixture is never held whole: its ``.npy`` is streamed block by block as it is made
(:func:`~streaming_umap.datasets.mixture_blocks`, float32 blocks of 2,048 rows), and a
demo job's input is written block by block to the spool folder and adopted as the job's
input, as a large upload would be. A request costs about 100 MB of server memory at any
size, and nothing is cached but the digits (120 KB).
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path

import numpy as np
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..auth import Principal
from ..datasets import digits, mixture_blocks, mixture_labels
from ..errors import InvalidInput, NotFound, PayloadTooLarge, StorageFull, is_disk_full
from ..schemas import params_from_query
from .auth import principal_of
from .ingest import parse_spooled_submission
from .responses import JSON
from .routes import result_format, submit_submission

MAX_DEMO_ROWS = 1_000_000
MAX_DEMO_DIMS = 1024
DEFAULT_ROWS, DEFAULT_DIMS = 100_000, 512

CATALOGUE = [
    {"name": "digits", "rows": 1797, "dims": 64, "classes": 10,
     "description": "scikit-learn's 8x8 handwritten digits (real images)"},
    {"name": "mixture", "rows": DEFAULT_ROWS, "dims": DEFAULT_DIMS, "classes": 20,
     "description": "labelled mixture shaped like image-embedding clusters; rows and dims adjustable"},
]


def _size(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 2 <= int(raw) <= high:
        raise InvalidInput(f"{name} must be an integer in 2..{high}, found {raw!r}", field=name)
    return int(raw)


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    return digits()


def _shape(request: Request) -> tuple[str, int, int]:
    """The data set and its size (digits: its own), refused as a 404 or 422."""
    name = request.path_params["name"]
    if name not in ("digits", "mixture"):
        raise NotFound(f"no demo data set {name!r}; see /umap/streaming/demo")
    rows = _size(request, "rows", DEFAULT_ROWS, MAX_DEMO_ROWS)
    dims = _size(request, "dims", DEFAULT_DIMS, MAX_DEMO_DIMS)
    if name == "digits":
        rows, dims = _digits()[0].shape
    return name, rows, dims


def _check_size(principal: Principal, rows: int, dims: int, limit: int) -> None:
    """A demo set counts as an upload of its float32 size, for the server and the key."""
    size = rows * dims * 4
    own = principal.quota.max_upload_bytes
    if size > limit or (own is not None and size > own):
        allowed = limit if own is None else min(limit, own)
        raise PayloadTooLarge(f"the demo set would be {size} bytes ({rows} x {dims} float32); "
                              f"the limit here is {allowed} bytes", field="rows")


def _blocks(name: str, rows: int, dims: int) -> AsyncIterator[np.ndarray]:
    async def gen() -> AsyncIterator[np.ndarray]:
        if name == "digits":
            yield _digits()[0]
            return
        blocks = mixture_blocks(rows, dims, seed=0)
        while (block := await asyncio.to_thread(next, blocks, None)) is not None:
            yield block
    return gen()


def _header(rows: int, dims: int, dtype: str = "<f4") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": dtype, "fortran_order": False, "shape": (rows, dims)})
    return buffer.getvalue()


async def catalogue(request: Request) -> Response:
    return JSON({"datasets": CATALOGUE})


def _npy(array: np.ndarray) -> Response:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return Response(buffer.getvalue(), media_type="application/x-npy")


async def labels(request: Request) -> Response:
    name, rows, dims = _shape(request)
    target = _digits()[1] if name == "digits" else await asyncio.to_thread(
        mixture_labels, rows, dims, 20, 0)
    if result_format(request) == "npy":
        return _npy(target)
    return JSON({"labels": target.tolist()})


async def data(request: Request) -> Response:
    name, rows, dims = _shape(request)
    _check_size(principal_of(request), rows, dims, request.app.state.settings.max_body_bytes)
    head = _header(rows, dims)

    async def body() -> AsyncIterator[bytes]:
        yield head
        async for block in _blocks(name, rows, dims):
            yield block.tobytes()

    return StreamingResponse(body(), media_type="application/x-npy",
                             headers={"Content-Length": str(len(head) + rows * dims * 4)})


async def _spool(name: str, rows: int, dims: int, folder: Path) -> Path:
    """The demo set as a ``.npy`` in the spool folder, written as it is made."""
    path = folder / f"{uuid.uuid4().hex}.npy.part"
    try:
        fh = await asyncio.to_thread(path.open, "wb")
        with fh:
            await asyncio.to_thread(fh.write, _header(rows, dims))
            async for block in _blocks(name, rows, dims):
                await asyncio.to_thread(fh.write, block.data)
    except OSError as exc:
        path.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise StorageFull(f"the server's disk is full: the demo set of {rows} x {dims} could "
                              "not be stored (nothing was kept); try again later") from None
        raise
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


async def start(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind not in ("umap", "cluster"):
        raise NotFound(f"no demo job kind {kind!r}; use umap or cluster")
    name, rows, dims = _shape(request)
    settings = request.app.state.settings
    _check_size(principal_of(request), rows, dims, settings.max_body_bytes)
    query = {k: v for k, v in request.query_params.items() if k not in ("rows", "dims")}
    params_from_query(kind, query)  # a bad parameter is refused before anything is made
    sup = request.app.state.supervisor
    path = await _spool(name, rows, dims, sup.store.spool_dir)
    try:
        sub = await asyncio.to_thread(parse_spooled_submission, kind, path, query, settings)
        return await submit_submission(request, sub)
    finally:
        path.unlink(missing_ok=True)  # adopted by a job: renamed away already
