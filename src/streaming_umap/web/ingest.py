"""Reading and checking submitted data, before anything is queued.

Bodies are read with a byte limit (413 as soon as it is passed) and parsed off the
event loop. Accepted: JSON (``application/json``, parsed by msgspec, which also
type-checks every field; a large ``data`` field by compiled code that releases the GIL,
:mod:`._json_kernels`), ``.npy`` (``application/x-npy`` or
``application/octet-stream``, no pickles, read without a copy), and CSV
(``text/csv``, an optional header line). Every problem becomes a 4xx that names it.

A ``.npy`` body of SPOOL_MIN_BYTES or more is written to a spool file as it arrives
(:func:`spool_body`) and checked through a memory map (:func:`parse_npy_file`); when
it already holds little-endian float32 rows in C order, that file becomes the job's
input by a rename, so a 2 GB upload is never held in memory nor written twice. A body
that fails or is cut off leaves no file behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import math
import os
import re
import threading
import tokenize
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
import numpy as np
from starlette.requests import Request

from ..config import Settings, usable_cores
from ..errors import (
    InvalidInput,
    MalformedBody,
    PayloadTooLarge,
    StorageFull,
    UnsupportedMediaType,
    is_disk_full,
)
from ..schemas import (
    ClusterParams,
    Params,
    check_unique_keys,
    decode_raw_request,
    decode_request,
    params_from_query,
    params_of,
)

log = logging.getLogger(__name__)

JSON_TYPES = ("application/json",)
NPY_TYPES = ("application/x-npy", "application/octet-stream", "application/npy")
CSV_TYPES = ("text/csv",)
ACCEPTED = ", ".join(JSON_TYPES + NPY_TYPES + CSV_TYPES)
SPOOL_MIN_BYTES = 16 << 20  # .npy bodies from this size go to disk as they arrive
NPY_HEADER_MAX = 1 << 20  # a .npy header longer than this is refused
SPOOL_WRITE_BYTES = 8 << 20  # written in pieces of this size, off the event loop


@dataclass
class Submission:
    kind: str
    params: Params
    data: np.ndarray  # float32, C-contiguous, rows x dims, finite
    warnings: list[str]
    input_file: Path | None = None  # a spooled .npy of exactly ``data``, for the job to adopt


def media_type(request: Request) -> str:
    raw = request.headers.get("content-type", "application/json")
    return raw.split(";")[0].strip().lower() or "application/json"


def check_media_type(kind: str) -> None:
    if kind not in JSON_TYPES + NPY_TYPES + CSV_TYPES:
        raise UnsupportedMediaType(f"unsupported Content-Type {kind!r}; send one of: {ACCEPTED}")


def _limit_text(limit: int) -> str:
    return f"the limit is {limit} bytes ({limit >> 20} MiB, STREAMING_UMAP_MAX_BODY_MB)"


def _declared_within(request: Request, limit: int) -> int | None:
    """The declared Content-Length, refused before reading when it is over ``limit``."""
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; {_limit_text(limit)}")
    return declared


async def read_body(request: Request, limit: int) -> bytearray:
    """The whole body, at most ``limit`` bytes, in one buffer that grows as the bytes
    arrive (held once, not as pieces and then a joined copy; a large buffer grows in
    place). A declared Content-Length over the limit is refused before reading."""
    declared = _declared_within(request, limit)
    buffer = bytearray()
    async for part in request.stream():
        if len(buffer) + len(part) > limit:
            raise PayloadTooLarge(f"request body is too large: {_limit_text(limit)}")
        buffer += part
    if declared is not None and len(buffer) != declared:
        raise MalformedBody(f"request body has {len(buffer)} bytes; its Content-Length says {declared}")
    return buffer


def declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    return int(raw) if raw and raw.isascii() and raw.isdigit() else None


@contextlib.asynccontextmanager
async def _opened(path: Path) -> AsyncIterator[BinaryIO]:
    """``path`` opened for writing, opened and closed off the event loop."""
    fh = await asyncio.to_thread(open, path, "wb")
    try:
        yield fh
    finally:
        await asyncio.to_thread(fh.close)


async def spool_body(request: Request, limit: int, folder: Path) -> Path:
    """Write the body to a new file in ``folder`` as it arrives and return its path.
    The request must declare its Content-Length (at most ``limit``). On any error,
    a cut-off body included, the file is removed."""
    declared = _declared_within(request, limit)
    if declared is None:
        raise MalformedBody("a spooled body needs a Content-Length")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.npy.part"
    buffer = bytearray(SPOOL_WRITE_BYTES)
    view = memoryview(buffer)
    size = filled = 0
    try:
        async with _opened(path) as fh:
            async for part in request.stream():
                size += len(part)
                if size > declared:
                    raise MalformedBody(f"request body is longer than its Content-Length ({declared} bytes)")
                part_view = memoryview(part)
                while part_view:
                    take = min(len(part_view), SPOOL_WRITE_BYTES - filled)
                    view[filled:filled + take] = part_view[:take]
                    filled += take
                    part_view = part_view[take:]
                    if filled == SPOOL_WRITE_BYTES:
                        await asyncio.to_thread(fh.write, view)
                        filled = 0
            if filled:
                await asyncio.to_thread(fh.write, view[:filled])
        if size < declared:
            raise MalformedBody(f"request body ended after {size} of its {declared} bytes")
    except OSError as exc:
        path.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise disk_full(declared) from None
        raise
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        view.release()
    return path


def disk_full(size: int) -> StorageFull:
    return StorageFull(f"the server's disk is full: {size} bytes of data could not be stored "
                       "(nothing was kept); try again later or send fewer rows")


def _check_elements(rows: int, dims: int, settings: Settings) -> None:
    if rows * dims > settings.max_elements:
        raise PayloadTooLarge(
            f"data has {rows} rows x {dims} columns = {rows * dims} values; the limit is "
            f"{settings.max_elements} values (STREAMING_UMAP_MAX_ELEMENTS)",
            field="data",
        )


def _first_non_finite(data: np.ndarray, block: int | None = None) -> int | None:
    """Index of the first row with a NaN or infinity; checked in blocks of about 16M
    values (``block`` rows) so that a large input needs no full-size boolean copy."""
    block = block or max(1, (1 << 24) // max(1, data.shape[1]))
    for start in range(0, data.shape[0], block):
        finite = np.isfinite(data[start:start + block]).all(axis=1)
        if not finite.all():
            return start + int(np.argmin(finite))
    return None


def finalize(data: np.ndarray, settings: Settings) -> np.ndarray:
    """Shape, size and finiteness checks; returns float32 C-contiguous rows."""
    if data.ndim != 2:
        raise InvalidInput(
            f"data must be 2-D (rows x columns); found an array of shape {tuple(data.shape)}",
            field="data",
        )
    rows, dims = data.shape
    if rows == 0 or dims == 0:
        raise InvalidInput(f"data is empty (shape {rows} x {dims}); send at least one row", field="data")
    if dims < 2:  # docs/API.md: rows of at least 2 columns (UMAP and clustering alike)
        raise InvalidInput(f"data has {dims} column per row; expected at least 2 columns", field="data")
    _check_elements(rows, dims, settings)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow becomes inf, reported below
        out = np.ascontiguousarray(data, dtype=np.float32)
    bad = _first_non_finite(out)
    if bad is not None:
        raise InvalidInput(
            f"row {bad} contains a non-finite value (NaN, Infinity, or beyond float32 range "
            f"+-3.4e38): {data[bad][~np.isfinite(out[bad])][:3].tolist()}",
            field="data",
            row=bad,
        )
    return out


def _rows_of(values: list[list[float]], settings: Settings) -> np.ndarray:
    if not values:
        raise InvalidInput("data is empty; send at least one row", field="data")
    width = len(values[0])
    if width == 0:
        raise InvalidInput("row 0 is empty; each row needs at least one number", field="data", row=0)
    for i, row in enumerate(values):
        if len(row) != width:
            raise InvalidInput(
                f"rows must all have the same length: row {i} has {len(row)} values, "
                f"row 0 has {width}",
                field="data",
                row=i,
            )
    _check_elements(len(values), width, settings)
    return np.array(values, dtype=np.float64)


def _explain_bad_json(body: bytes | bytearray, error: MalformedBody) -> Exception:
    """msgspec refuses NaN and Infinity as malformed JSON; find the row for the message."""
    if not any(token in body for token in (b"NaN", b"Infinity")):
        return error
    try:
        doc = json.loads(body)
    except ValueError:
        return error
    rows = doc.get("data") if isinstance(doc, dict) else None
    if isinstance(rows, list):
        for i, row in enumerate(rows):
            if isinstance(row, list) and any(
                isinstance(v, float) and not math.isfinite(v) for v in row
            ):
                return InvalidInput(
                    f"row {i} contains NaN or Infinity; every value must be a finite number",
                    field="data",
                    row=i,
                )
    return error


_JSON_ROWS = msgspec.json.Decoder(list[msgspec.Raw])
_JSON_ROW = msgspec.json.Decoder(list[float])
_JSON_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)


COMPILED_MIN_BYTES = 64 << 10  # a JSON body from this size is read by the compiled reader
READ_PART_MIN_BYTES = 4 << 20  # bodies above 8 MiB are read on 2+ threads (each piece at least this)
READ_PARTS_MAX = 4
SLOW_NUMBERS_MAX = 1 << 16  # numbers it may leave to float() before the row decoder takes over


def load_json_reader(settings: Settings | None = None) -> None:
    """Load the compiled JSON reader: numba (~120 MiB of this process's memory, half of
    it shared code) and the reader from numba's cache, where ``warm-cache`` compiled it
    (or compile it there now: a few seconds). About 0.5 s."""
    if settings is not None:
        os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.numba_cache_dir))  # before numba loads
    from . import _json_kernels

    _json_kernels.warm()


_reader_thread: threading.Thread | None = None


def start_loading_json_reader(settings: Settings) -> None:
    """Begin :func:`load_json_reader` in a thread, once per process: the server calls it
    as it starts, so that the first large JSON body after a start is read at full speed
    (loading it as that body arrived instead made its upload ~0.4 s slower)."""
    global _reader_thread
    if _reader_thread is None and settings.json_reader == "compiled":
        _reader_thread = threading.Thread(target=_load_logged, args=(settings,), name="json-reader",
                                          daemon=True)
        _reader_thread.start()


def _load_logged(settings: Settings) -> None:
    try:
        load_json_reader(settings)
    except Exception:  # the body that needs the reader meets the same problem and reports it
        log.exception("the compiled JSON reader could not be loaded")


def _compiled_request(kind: str, body: bytes | bytearray,
                      settings: Settings) -> tuple[Params, np.ndarray] | None:
    """The parameters and the rows of a large JSON body, by the compiled reader: it finds
    the ``data`` value in the body and reads it straight into float32 rows (no Python
    float per value, and without the GIL, so the event loop runs meanwhile); msgspec
    decodes and checks the rest of the body, with ``[]`` where the rows were. None for
    anything unusual: the row decoder then takes over."""
    from . import _json_kernels as kernels  # loaded as the server started (or now)

    start, end = kernels.data_span(np.frombuffer(body, dtype=np.uint8))
    if start < 0:
        return None
    decoded = decode_raw_request(kind, bytes(body[:start]) + b"[]" + bytes(body[end:]))
    if decoded is None:
        return None
    data = _rows_compiled(memoryview(body)[start:end], settings)
    return None if data is None else (decoded[0], data)


def _rows_compiled(text: Any, settings: Settings) -> np.ndarray | None:
    """The JSON text of a list of equally long lists of numbers (any buffer) as float32
    rows, by :mod:`._json_kernels`; each value is the one msgspec and numpy give. None
    for anything else, or very many numbers with over 19 digits (a ragged matrix whose
    brackets and commas count as a larger one than the limit allows is a 413 here, as
    the row decoder would make it from row 0)."""
    from . import _json_kernels as kernels

    buffer = np.frombuffer(text, dtype=np.uint8)
    rows, width = kernels.count(buffer)
    if rows < 0:
        return None
    _check_elements(rows, width, settings)  # before the rows are allocated
    out = np.empty((rows, width), dtype=np.float32)
    slow = np.empty((min(SLOW_NUMBERS_MAX, rows * width), 3), dtype=np.int64)
    parts = min(READ_PARTS_MAX, usable_cores(), len(buffer) // READ_PART_MIN_BYTES)
    n_slow = kernels.read_split(buffer, out, slow, parts) if parts > 1 else kernels.read(buffer, out, slow)
    if n_slow < 0:
        return None
    flat = out.reshape(-1)
    with np.errstate(over="ignore"):  # beyond float32 becomes inf, as in the row decoder
        for start, end, index in slow[:n_slow].tolist():
            flat[index] = float(buffer[start:end].tobytes())
    return out


def _rows_from_json(raw: msgspec.Raw, settings: Settings) -> np.ndarray | None:
    """``data``'s JSON text decoded one row at a time straight into float32 rows, so no
    Python float outlives its row (the full decode holds every value as a Python float:
    about 32 bytes each against 4). None for anything unusual (not a list of equally
    long lists of numbers): the full decode then names the problem. Values beyond
    float32 come back as infinities, for :func:`_parse_json_fast` to notice."""
    try:
        rows = _JSON_ROWS.decode(raw)
        width = len(_JSON_ROW.decode(rows[0])) if rows else 0
    except _JSON_ERRORS:
        return None
    if width == 0:
        return None
    # before any row is decoded: a body over the limit is refused without decoding it all
    # (if it is also ragged, the 413 counts row 0's width for every row)
    _check_elements(len(rows), width, settings)
    out = np.empty((len(rows), width), dtype=np.float32)
    with np.errstate(over="ignore"):  # beyond float32 becomes inf
        for i, row in enumerate(rows):
            try:
                values = _JSON_ROW.decode(row)
            except _JSON_ERRORS:
                return None
            if len(values) != width:
                return None
            out[i] = values
    return out


def _parse_json_fast(kind: str, body: bytes | bytearray, settings: Settings) -> Submission | None:
    compiled = (_compiled_request(kind, body, settings)
                if settings.json_reader == "compiled" and len(body) >= COMPILED_MIN_BYTES else None)
    if compiled is not None:
        params, data = compiled
    else:
        decoded = decode_raw_request(kind, body)
        if decoded is None:
            return None
        params, raw = decoded
        data = _rows_from_json(raw, settings)
        if data is None:
            return None
    try:
        return Submission(kind, params, finalize(data, settings), [])
    except InvalidInput:  # a value beyond float32: the full decode names it as it was sent
        return None


def parse_json(kind: str, body: bytes | bytearray, settings: Settings) -> Submission:
    if not body or body.isspace():
        raise MalformedBody("request body is empty; send a JSON object with a `data` field")
    check_unique_keys(body)
    fast = _parse_json_fast(kind, body, settings)
    return fast if fast is not None else _parse_json_full(kind, body, settings)


def _parse_json_full(kind: str, body: bytes | bytearray, settings: Settings) -> Submission:
    """Every value through msgspec into Python floats at once (~8x the memory of the row
    by row path), but it names any problem precisely."""
    try:
        request = decode_request(kind, body)
    except MalformedBody as exc:
        raise _explain_bad_json(body, exc) from None
    data = finalize(_rows_of(request.data, settings), settings)
    return Submission(kind, params_of(request), data, [])


def _npy_header(buffer: io.BytesIO | BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    try:
        version = np.lib.format.read_magic(buffer)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(buffer)
        return np.lib.format.read_array_header_2_0(buffer)
    except (ValueError, OSError, SyntaxError, TypeError, RecursionError, tokenize.TokenError) as exc:
        # numpy reads the header text with tokenize and ast: a cut-off header is a TokenError
        raise MalformedBody(f"body is not a valid .npy file: {_quiet(exc)}") from None


def _quiet(exc: BaseException) -> str:
    """An error's text without memory addresses (numpy names ast nodes by their id), cut short."""
    text = re.sub(r" (object )?at 0x[0-9a-fA-F]+", "", str(exc) or type(exc).__name__)
    return text if len(text) <= 300 else text[:300] + "..."


def _checked_header(fh: io.BytesIO | BinaryIO, settings: Settings) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    shape, fortran, dtype = _npy_header(fh)
    if dtype.hasobject or dtype.kind not in "iuf":
        raise InvalidInput(
            f".npy dtype must be integer or floating point; found {dtype} "
            "(object arrays and pickles are not accepted)",
            field="data",
        )
    if len(shape) != 2:
        raise InvalidInput(
            f"data must be 2-D (rows x columns); the .npy holds shape {tuple(shape)}", field="data"
        )
    if min(shape) < 0:
        raise MalformedBody(f"body is not a valid .npy file: its header gives shape {tuple(shape)}")
    if max(shape) > settings.max_elements:  # (0, 2**70) has no elements, but no array has that shape
        raise PayloadTooLarge(
            f"the .npy header gives shape {tuple(shape)}; no side may exceed "
            f"{settings.max_elements} (STREAMING_UMAP_MAX_ELEMENTS)", field="data")
    _check_elements(shape[0], shape[1], settings)
    return shape, fortran, dtype


def _check_length(shape: tuple[int, ...], dtype: np.dtype[Any], available: int) -> int:
    expected = int(np.prod(shape)) * dtype.itemsize
    if available < expected:
        raise MalformedBody(
            f".npy body is truncated: header says {shape} {dtype} ({expected} bytes of data), "
            f"found {available} bytes"
        )
    return expected


def parse_npy(kind: str, body: bytes | bytearray, query: dict[str, str], settings: Settings) -> Submission:
    params = params_from_query(kind, query)
    buffer = io.BytesIO(memoryview(body)[:NPY_HEADER_MAX])  # the header only: no copy of the rows
    shape, fortran, dtype = _checked_header(buffer, settings)
    offset = buffer.tell()
    _check_length(shape, dtype, len(body) - offset)
    flat = np.frombuffer(body, dtype=dtype, count=int(np.prod(shape)), offset=offset)
    data = flat.reshape(shape, order="F" if fortran else "C")
    return Submission(kind, params, finalize(data, settings), [])


def parse_npy_file(kind: str, path: Path, query: dict[str, str], settings: Settings) -> Submission:
    """:func:`parse_npy` for a spooled body, read through a memory map. The caller owns
    ``path`` (and removes it unless a job adopts it as ``input_file``)."""
    params = params_from_query(kind, query)
    with open(path, "rb") as fh:
        shape, fortran, dtype = _checked_header(fh, settings)
        offset = fh.tell()
    size = path.stat().st_size
    expected = _check_length(shape, dtype, size - offset)
    adoptable = dtype == np.dtype("<f4") and not fortran and expected > 0
    if adoptable and size > offset + expected:
        os.truncate(path, offset + expected)  # bytes after the array are not part of it
    if expected == 0:
        data = np.empty(shape, dtype=dtype)
    else:
        data = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=tuple(shape),
                         order="F" if fortran else "C")
    return Submission(kind, params, finalize(data, settings), [],
                      input_file=path if adoptable else None)


def parse_csv(kind: str, body: bytes | bytearray, query: dict[str, str], settings: Settings) -> Submission:
    params = params_from_query(kind, query)
    text = body.decode("utf-8", errors="replace")
    lines = text.splitlines()
    skip = 1 if lines and any(c.isalpha() for c in lines[0].replace("e", "").replace("E", "")) else 0
    try:
        data = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=skip, ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise InvalidInput(f"CSV could not be read as numbers: {exc}", field="data") from None
    return Submission(kind, params, finalize(data, settings), [])


def parse_submission(
    kind: str, media: str, body: bytes | bytearray, query: dict[str, str], settings: Settings
) -> Submission:
    """Parse and check one submission; synchronous, so run it in a thread."""
    if media in NPY_TYPES:
        submission = parse_npy(kind, body, query, settings)
    elif media in CSV_TYPES:
        submission = parse_csv(kind, body, query, settings)
    else:
        submission = parse_json(kind, body, settings)
    submission.warnings.extend(cross_check(submission))
    return submission


def parse_spooled_submission(kind: str, path: Path, query: dict[str, str], settings: Settings) -> Submission:
    """:func:`parse_submission` for a ``.npy`` body spooled to ``path``."""
    submission = parse_npy_file(kind, path, query, settings)
    submission.warnings.extend(cross_check(submission))
    return submission


def cross_check(sub: Submission) -> list[str]:
    """Checks that need both the parameters and the data's shape."""
    rows = sub.data.shape[0]
    notes: list[str] = []
    if isinstance(sub.params, ClusterParams):
        p = sub.params
        if p.algorithm == "hdbscan" and rows < 2:
            raise InvalidInput(f"hdbscan needs at least 2 rows, found {rows}", field="data")
        if p.algorithm == "kmeans" and p.n_clusters > rows:
            raise InvalidInput(
                f"n_clusters is {p.n_clusters} but only {rows} rows were given; "
                f"expected an integer in 1..{rows}",
                field="n_clusters",
            )
        if p.algorithm == "kmeans" and p.metric != "euclidean":
            raise InvalidInput(
                f"kmeans supports metric 'euclidean' only, found {p.metric!r}", field="metric"
            )
    return notes

