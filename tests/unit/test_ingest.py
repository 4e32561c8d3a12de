from __future__ import annotations

import io
from pathlib import Path

import msgspec
import numpy as np
import pytest

from streaming_umap.config import Settings
from streaming_umap.errors import InvalidInput, MalformedBody, PayloadTooLarge
from streaming_umap.web.ingest import parse_submission

SETTINGS = Settings.from_env({})


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def parse(body: bytes, media: str = "application/json", query: dict[str, str] | None = None,
          kind: str = "umap", settings: Settings = SETTINGS):
    return parse_submission(kind, media, body, query or {}, settings)


def test_json_rows_become_float32() -> None:
    sub = parse(b'{"data": [[1, 2.5], [3, 4]], "metric": "cosine"}')
    assert sub.data.dtype == np.float32 and sub.data.shape == (2, 2)
    assert sub.params.metric == "cosine"


@pytest.mark.parametrize(
    ("body", "row", "fragment"),
    [
        (b'{"data": [[1, 2], [3, NaN]]}', 1, "row 1 contains NaN or Infinity"),
        (b'{"data": [[1, 2], [3, 4], [Infinity, 1]]}', 2, "row 2 contains NaN or Infinity"),
        (b'{"data": [[1, 2], [3, 1e39]]}', 1, "row 1 contains a non-finite value"),
        (b'{"data": [[1, 2], [3]]}', 1, "row 1 has 1 values, row 0 has 2"),
    ],
)
def test_bad_rows_are_named(body: bytes, row: int, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse(body)
    assert info.value.row == row and fragment in info.value.detail


def test_number_out_of_json_range_names_the_row() -> None:
    with pytest.raises(InvalidInput) as info:
        parse(b'{"data": [[1, 2], [3, 1e400]]}')
    assert info.value.row == 1 and "out of range" in info.value.detail


@pytest.mark.parametrize(
    ("body", "fragment"),
    [(b'{"data": []}', "data is empty"), (b'{"data": [[]]}', "row 0 is empty"), (b"", "body is empty")],
)
def test_empty_data(body: bytes, fragment: str) -> None:
    with pytest.raises((InvalidInput, MalformedBody), match=fragment):
        parse(body)


def test_npy_body_with_query_parameters() -> None:
    data = np.arange(12, dtype=np.int16).reshape(6, 2)
    sub = parse(npy(data), "application/x-npy", {"n_neighbors": "3"})
    assert sub.params.n_neighbors == 3 and np.array_equal(sub.data, data.astype(np.float32))
    fortran = np.asfortranarray(np.random.default_rng(0).normal(size=(5, 3)))
    assert np.allclose(parse(npy(fortran), "application/x-npy").data, fortran)


@pytest.mark.parametrize(
    ("array", "fragment"),
    [
        (np.zeros(5, dtype=np.float32), "must be 2-D"),
        (np.zeros((2, 2, 2), dtype=np.float32), "must be 2-D"),
        (np.array([["a", "b"]]), "dtype must be integer or floating point"),
        (np.zeros((0, 3), dtype=np.float32), "data is empty"),
        (np.array([[1.0, np.nan]]), "row 0 contains a non-finite value"),
    ],
)
def test_npy_problems(array: np.ndarray, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        parse(npy(array), "application/x-npy")


def test_npy_with_pickles_is_refused() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidInput, match="pickles are not accepted"):
        parse(buffer.getvalue(), "application/x-npy")


def test_truncated_and_garbage_npy() -> None:
    body = npy(np.zeros((100, 4), dtype=np.float32))
    with pytest.raises(MalformedBody, match="truncated"):
        parse(body[:-10], "application/x-npy")
    with pytest.raises(MalformedBody, match="not a valid .npy"):
        parse(b"hello world", "application/x-npy")


def test_element_limit_is_413_with_the_limit() -> None:
    small = Settings.from_env({"STREAMING_UMAP_MAX_ELEMENTS": "10"})
    with pytest.raises(PayloadTooLarge, match="limit is 10 values"):
        parse(npy(np.zeros((6, 2), dtype=np.float32)), "application/x-npy", settings=small)
    with pytest.raises(PayloadTooLarge, match="limit is 10 values"):
        parse(b'{"data": [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12]]}', settings=small)


def test_csv_with_header() -> None:
    sub = parse(b"a,b,c\n1,2,3\n4,5,6\n", "text/csv", {"metric": "manhattan"})
    assert sub.data.shape == (2, 3) and sub.params.metric == "manhattan"
    with pytest.raises(InvalidInput, match="CSV could not be read"):
        parse(b"1,2\n3,x\n", "text/csv")


def test_kmeans_checks_against_the_data() -> None:
    with pytest.raises(InvalidInput, match="n_clusters is 8 but only 3 rows"):
        parse(b'{"data": [[1, 2], [3, 4], [5, 6]], "algorithm": "kmeans"}', kind="cluster")
    with pytest.raises(InvalidInput, match="kmeans supports metric 'euclidean' only"):
        parse(b'{"data": [[1, 2]], "algorithm": "kmeans", "n_clusters": 1, "metric": "cosine"}',
              kind="cluster")


def _request(parts: list[bytes], content_length: int | None):
    from starlette.requests import Request

    headers = [(b"content-type", b"application/x-npy")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
                for i, p in enumerate(parts)]

    async def receive():
        return messages.pop(0)

    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers}, receive)


def test_read_body_fills_one_buffer_of_the_declared_length() -> None:
    import asyncio

    from streaming_umap.web.ingest import read_body

    body = npy(np.arange(12, dtype=np.float32).reshape(3, 4))
    pieces = [body[i:i + 7] for i in range(0, len(body), 7)]
    got = asyncio.run(read_body(_request(pieces, len(body)), limit=1 << 20))
    assert isinstance(got, bytearray) and got == body
    assert parse(got, "application/x-npy").data.tolist() == np.arange(12).reshape(3, 4).tolist()
    assert asyncio.run(read_body(_request(pieces, None), limit=1 << 20)) == body  # no length: joined
    with pytest.raises(MalformedBody, match=f"has 7 bytes; its Content-Length says {len(body)}"):
        asyncio.run(read_body(_request(pieces[:1], len(body)), limit=1 << 20))
    with pytest.raises(PayloadTooLarge, match="is 2000 bytes; the limit is 1000 bytes"):
        asyncio.run(read_body(_request([b"x" * 2000], 2000), limit=1000))
    with pytest.raises(PayloadTooLarge, match="too large: the limit is 1000 bytes"):
        asyncio.run(read_body(_request([b"x" * 600, b"x" * 600], None), limit=1000))


def test_negative_npy_dimensions_are_refused(tmp_path) -> None:
    from streaming_umap.web.ingest import parse_spooled_submission

    header = np.lib.format.header_data_from_array_1_0(np.zeros((2, 3), dtype=np.float32))
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {**header, "shape": (2, -3)})
    body = buffer.getvalue() + bytes(64)
    with pytest.raises(MalformedBody, match=r"header gives shape \(2, -3\)"):
        parse(body, "application/x-npy")
    (tmp_path / "n.npy").write_bytes(body)
    with pytest.raises(MalformedBody, match="header gives shape"):
        parse_spooled_submission("umap", tmp_path / "n.npy", {}, SETTINGS)


def test_npy_sides_beyond_the_element_limit_are_refused() -> None:
    for shape in ((0, 2**70), (2**63, 0)):
        header = np.lib.format.header_data_from_array_1_0(np.zeros((2, 3), dtype=np.float32))
        buffer = io.BytesIO()
        np.lib.format.write_array_header_2_0(buffer, {**header, "shape": shape})
        with pytest.raises(PayloadTooLarge, match="no side may exceed"):
            parse(buffer.getvalue(), "application/x-npy")


def test_non_finite_rows_are_found_in_any_block() -> None:
    from streaming_umap.web.ingest import _first_non_finite

    data = np.zeros((1000, 3), dtype=np.float32)
    assert _first_non_finite(data, block=64) is None
    data[700, 2] = np.inf
    data[900, 0] = np.nan
    assert _first_non_finite(data, block=64) == 700
    assert _first_non_finite(data[701:], block=64) == 199
    assert _first_non_finite(data) == 700  # default block: 16M values


def test_spool_body_writes_the_file_and_removes_it_on_any_failure(tmp_path, monkeypatch) -> None:
    import asyncio

    from streaming_umap.web import ingest

    monkeypatch.setattr(ingest, "SPOOL_WRITE_BYTES", 64)  # several flushes for a small body
    body = npy(np.arange(200, dtype=np.float32).reshape(50, 4))
    pieces = [body[i:i + 37] for i in range(0, len(body), 37)]
    path = asyncio.run(ingest.spool_body(_request(pieces, len(body)), 1 << 20, tmp_path / "spool"))
    assert path.parent == tmp_path / "spool" and path.read_bytes() == body
    path.unlink()
    with pytest.raises(MalformedBody, match=f"ended after 37 of its {len(body)} bytes"):
        asyncio.run(ingest.spool_body(_request(pieces[:1], len(body)), 1 << 20, tmp_path / "spool"))
    with pytest.raises(PayloadTooLarge, match="the limit is 100 bytes"):
        asyncio.run(ingest.spool_body(_request(pieces, len(body)), 100, tmp_path / "spool"))
    with pytest.raises(MalformedBody, match="needs a Content-Length"):
        asyncio.run(ingest.spool_body(_request(pieces, None), 1 << 20, tmp_path / "spool"))
    assert list((tmp_path / "spool").iterdir()) == []  # nothing half-written is left


def test_spooled_npy_is_read_through_a_map_and_adopted_when_float32(tmp_path) -> None:
    from streaming_umap.web.ingest import parse_spooled_submission

    rows = np.random.default_rng(0).random((300, 6)).astype(np.float32)
    path = tmp_path / "a.npy"
    path.write_bytes(npy(rows) + b"trailing junk")
    sub = parse_spooled_submission("umap", path, {"n_neighbors": "7"}, SETTINGS)
    assert sub.input_file == path and sub.params.n_neighbors == 7
    assert np.array_equal(np.asarray(sub.data), rows)
    assert np.array_equal(np.load(path), rows)  # the junk after the array was cut off

    wide = tmp_path / "b.npy"
    wide.write_bytes(npy(rows.astype(np.float64)))  # converted: the job writes its own input
    sub = parse_spooled_submission("umap", wide, {}, SETTINGS)
    assert sub.input_file is None and sub.data.dtype == np.float32
    assert np.allclose(sub.data, rows)
    fortran = tmp_path / "c.npy"
    fortran.write_bytes(npy(np.asfortranarray(rows)))
    sub = parse_spooled_submission("umap", fortran, {}, SETTINGS)
    assert sub.input_file is None and np.array_equal(sub.data, rows)

    bad = rows.copy()
    bad[123, 4] = np.nan
    (tmp_path / "d.npy").write_bytes(npy(bad))
    with pytest.raises(InvalidInput, match="row 123 contains a non-finite value"):
        parse_spooled_submission("umap", tmp_path / "d.npy", {}, SETTINGS)
    (tmp_path / "e.npy").write_bytes(npy(rows)[:-10])
    with pytest.raises(MalformedBody, match="truncated"):
        parse_spooled_submission("umap", tmp_path / "e.npy", {}, SETTINGS)
    (tmp_path / "f.npy").write_bytes(npy(np.zeros((3, 4, 5), dtype=np.float32)))
    with pytest.raises(InvalidInput, match="must be 2-D"):
        parse_spooled_submission("umap", tmp_path / "f.npy", {}, SETTINGS)


def test_a_full_disk_is_507_and_keeps_nothing(tmp_path, monkeypatch) -> None:
    import asyncio
    import errno

    from streaming_umap.errors import StorageFull
    from streaming_umap.web import ingest

    class FullDisk:
        def __init__(self, path: str, mode: str) -> None:
            self.fh = open(path, mode)  # noqa: SIM115 - closed by close()

        def close(self) -> None:
            self.fh.close()

        def write(self, data: object) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ingest, "SPOOL_WRITE_BYTES", 64)
    monkeypatch.setattr(ingest, "open", FullDisk, raising=False)
    body = npy(np.zeros((50, 4), dtype=np.float32))
    with pytest.raises(StorageFull, match=f"disk is full: {len(body)} bytes") as raised:
        asyncio.run(ingest.spool_body(_request([body], len(body)), 1 << 20, tmp_path / "spool"))
    assert raised.value.status_code == 507
    assert list((tmp_path / "spool").iterdir()) == []


def test_a_500_is_json_and_carries_the_cors_headers(tmp_path: Path) -> None:
    import asyncio

    import httpx
    from starlette.applications import Starlette
    from starlette.routing import Route

    from streaming_umap.auth import KeyStore
    from streaming_umap.web.app import middleware_for
    from streaming_umap.web.auth import Authenticator
    from streaming_umap.web.responses import EXCEPTION_HANDLERS

    def boom(request: object) -> None:
        raise RuntimeError("a bug in /srv/secret/path")

    settings = Settings.from_env({"STREAMING_UMAP_CORS_ORIGINS": "http://Page.example"})
    app = Starlette(routes=[Route("/boom", boom)], middleware=middleware_for(settings),
                    exception_handlers=EXCEPTION_HANDLERS)
    app.state.auth = Authenticator(settings, KeyStore(tmp_path))
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get("/boom", headers={"Origin": "http://page.example"})

    r = asyncio.run(get())
    detail = r.json()["detail"]
    assert r.status_code == 500 and detail.startswith("internal error (reference ")
    assert "secret" not in detail and "log" in detail and "RuntimeError" not in detail  # nothing leaks
    assert r.headers["access-control-allow-origin"] == "http://page.example"


def _outcome(parse_fn, body: bytes):
    try:
        sub = parse_fn("umap", body, SETTINGS)
    except (InvalidInput, MalformedBody, PayloadTooLarge) as exc:
        return type(exc).__name__, exc.detail, exc.row
    return sub.data.dtype, sub.data.tolist(), msgspec.structs.asdict(sub.params)


@pytest.mark.parametrize("body", [
    b'{"data": [[1, 2.5], [3, 4]], "metric": "cosine"}',
    b'{"n_neighbors": 5, "data": [ [ -1e-3 ,2E+2],\n [3.25,-0] ,[0, 7] ] }',
    b'{"data": [[1]]}', b'{"data": [[1, 2], [3]]}', b'{"data": [[1, 2], [3, 4, 5]]}',
    b'{"data": [[1, 2], [3, 1e39]]}', b'{"data": [[1, 2], [3, 1e400]]}', b'{"data": [[1, 2], [3, NaN]]}',
    b'{"data": []}', b'{"data": [[]]}', b'{"data": [[1, 2], []]}', b'{"data": [1, 2]}',
    b'{"data": [[1, 2], 3]}', b'{"data": [[[1, 2]]]}', b'{"data": [[1, "2"]]}', b'{"data": [[1, null]]}',
    b'{"data": [[true, 1]]}', b'{"data": [[1, 2]], "n_neighbors": 1}', b'{"data": [[1, 2]], "bogus": 1}',
    b'{"data": {"a": 1}}', b'{"metric": "cosine"}', b'[[1, 2]]', b'{"data": [[1, 2]],}',
    b'{"data": "bad", "data": [[1, 2]]}', b'{"data": [[1, "x"]], "data": [[1, 2]]}',
    b'{"data": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    b'{"metric": "cosine", "data": [[1, 2], [3, 4]], "n_neighbors": 5}', b'{"d\\u0061ta": [[1, 2]]}',
    b'{"metric": "cos\\"ine", "data": [[1, 2]]}', b'{"metric": ["cosine"], "data": [[1, 2]]}',
    b'{"data": [[1, 2]], "metric": "cosine"', b'{"data": [[1, 2]]} [', b'{"data": [[1, 2]], "n_neighbors": 5.5}',
    b'{"data": [[1, 2], [3, 4]],, "metric": "cosine"}', b'{"data": [[1, 2]] , "data2": 1}',
])
@pytest.mark.parametrize("reader", ["rows", "compiled"])
def test_the_fast_json_path_answers_as_the_full_decode_does(body: bytes, reader: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from streaming_umap.web import ingest

    # small bodies go row by row through msgspec; from COMPILED_MIN_BYTES, the compiled reader
    monkeypatch.setattr(ingest, "COMPILED_MIN_BYTES", 0 if reader == "compiled" else 1 << 60)
    assert _outcome(ingest.parse_json, body) == _outcome(ingest._parse_json_full, body)


def test_the_fast_json_path_parses_large_matrices_exactly() -> None:
    import json

    from streaming_umap.web import ingest

    rows = np.random.default_rng(5).normal(size=(3000, 17)) * 10.0 ** np.random.default_rng(6).integers(-8, 8, (3000, 17))
    body = json.dumps({"data": rows.tolist(), "metric": "cosine"}, indent=1).encode()
    assert len(body) > ingest.COMPILED_MIN_BYTES  # read by the compiled reader:
    assert ingest._compiled_request("umap", body, SETTINGS) is not None  # which reads this one
    fast = ingest._parse_json_fast("umap", body, SETTINGS)
    assert fast is not None  # took the fast path
    assert np.array_equal(fast.data, rows.astype(np.float32)) and fast.params.metric == "cosine"
    assert np.array_equal(fast.data, ingest._parse_json_full("umap", body, SETTINGS).data)
