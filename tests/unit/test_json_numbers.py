"""The compiled JSON reader gives every value exactly as msgspec then numpy do."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from streaming_umap.config import Settings
from streaming_umap.errors import PayloadTooLarge
from streaming_umap.web import ingest

SETTINGS = Settings()


@pytest.fixture(autouse=True, params=["whole", "in parts"])
def pieces(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test reads its texts both ways: on one thread, and cut into up to 4 pieces read
    on as many threads (what bodies over 8 MiB get; here whatever their size)."""
    if request.param == "in parts":
        monkeypatch.setattr(ingest, "READ_PART_MIN_BYTES", 1)
        monkeypatch.setattr(ingest, "usable_cores", lambda: 4)
    return str(request.param)


def _reference(texts: list[str]) -> np.ndarray:
    """What the row decoder gives: msgspec's float, then numpy's float32 of it (for a
    number beyond float64, which msgspec refuses, Python's: infinity, as the reader gives;
    the finiteness check after either refuses it)."""
    values = []
    for text in texts:
        try:
            values.append(msgspec.json.decode(text.encode(), type=float))
        except msgspec.ValidationError:
            values.append(float(text))
    with np.errstate(over="ignore"):
        return np.array(values, dtype=np.float64).astype(np.float32)


def _compiled(texts: list[str], width: int = 1, sep: str = ",") -> np.ndarray:
    rows = [texts[i:i + width] for i in range(0, len(texts), width)]
    raw = ("[" + sep.join("[" + sep.join(row) + "]" for row in rows) + "]").encode()
    out = ingest._rows_compiled(msgspec.Raw(raw), SETTINGS)
    assert out is not None and out.shape == (len(rows), width)
    return out.reshape(-1)


def _same_bits(texts: list[str]) -> None:
    got, want = _compiled(texts), _reference(texts)
    bad = np.flatnonzero(got.view(np.uint32) != want.view(np.uint32))
    assert not bad.size, [(texts[i], got[i], want[i]) for i in bad[:5]]


def _halfway_texts(rng: np.random.Generator, count: int) -> list[str]:
    """Decimals at, just below and just above points halfway between neighbouring
    float32 values: where rounding through an inexact float64 would go wrong."""
    bits = rng.integers(0x00800000, 0x7F7FFFFF, count, dtype=np.uint32)
    low = bits.view(np.float32).astype(np.float64)
    high = np.nextafter(bits.view(np.float32), np.float32(np.inf)).astype(np.float64)
    middle = (low + high) / 2  # exact in float64
    texts = []
    for m in middle.tolist():
        texts += [repr(m), f"{m:.25e}", f"{m:.18e}", f"{m:.16e}",
                  repr(float(np.nextafter(m, 0.0))), repr(float(np.nextafter(m, np.inf)))]
    return texts


def test_random_float64_and_float32_texts() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=20000) * 10.0 ** rng.integers(-40, 40, 20000)
    _same_bits([repr(v) for v in values.tolist()])
    with np.errstate(over="ignore"):
        singles = values.astype(np.float32)
    _same_bits([str(v) for v in singles[np.isfinite(singles)]])  # numpy's shortest float32 text
    _same_bits([f"{v:.9g}" for v in values.tolist()])


def test_points_halfway_between_float32_values() -> None:
    _same_bits(_halfway_texts(np.random.default_rng(1), 3000))


def test_random_digit_strings_with_any_exponent() -> None:
    rng = np.random.default_rng(2)
    texts = []
    for _ in range(20000):
        digits = "".join(rng.choice(list("0123456789"), rng.integers(1, 26)))
        digits = digits.lstrip("0") or "0"
        point = int(rng.integers(0, len(digits) + 1))
        text = digits if point == len(digits) else (digits[:point] or "0") + "." + digits[point:]
        if rng.random() < 0.5:
            text += "eE"[int(rng.integers(2))] + rng.choice(["", "+", "-"]) + str(int(rng.integers(0, 80)))
        texts.append(("-" if rng.random() < 0.5 else "") + text)
    _same_bits(texts)


@pytest.mark.parametrize("text", [
    "0", "-0", "0.0", "-0.0", "-0e5", "0e-999", "1", "-1", "1E5", "1e+5", "1e-5", "123456789012345678",
    "1234567890123456789", "12345678901234567890", "9007199254740993", "18446744073709551616",
    "3.4028234663852886e38", "3.4028235677973366e38", "3.5e38", "1e39", "1e400", "-1e400",
    "1.1754943508222875e-38", "1.17549421e-38", "1.4e-45", "7e-46", "7.1e-46", "1e-46", "5e-324",
    "1e-400", "0.000000000000000000000000000001", "1" + "0" * 400, "0." + "0" * 300 + "1",
    "1.00000000000000000000000000001", "0.1", "0.2", "0.3", "16777217", "33554435",
])
def test_edge_numbers(text: str) -> None:
    _same_bits([text, "1.5"])  # a second column keeps the row valid


def test_whitespace_and_layout() -> None:
    texts = ["1.5", "-2", "3e1", "4.25", "5", "6"]
    for sep in [",", " , ", ",\n\t", "\r\n,\r\n"]:
        got = _compiled(texts, width=2, sep=sep)
        assert np.array_equal(got, _reference(texts))


@pytest.mark.parametrize("raw", [
    b"[]", b"[[]]", b"[[1,2],[]]", b"[1,2]", b"[[1,2],3]", b"[[[1,2]]]", b'[[1,"2"]]', b"[[1,null]]",
    b"[[true,1]]", b"[[1,2],[3]]", b"[[1,2],[3,4,5]]", b"[[1,2]] x", b"[[01,2]]", b"[[1.,2]]", b"[[.5,2]]",
    b"[[1e,2]]", b"[[-,2]]", b"[[+1,2]]", b"[[1,2,]]", b"[[1,2],]", b"[[1 2]]", b"[[1,2]", b"[[1,2", b"",
    b"[[NaN,1]]", b"[[Infinity,1]]", b"[[1,2]]]", b"{}", b"[[0x10,1]]",
])
def test_anything_else_is_left_to_the_decoder(raw: bytes) -> None:
    assert ingest._rows_compiled(msgspec.Raw(raw), SETTINGS) is None


def test_size_is_checked_before_the_rows_are_made() -> None:
    raw = msgspec.Raw(b"[" + b",".join([b"[1,2,3]"] * 1000) + b"]")
    with pytest.raises(PayloadTooLarge, match="3000 values"):
        ingest._rows_compiled(raw, Settings(max_elements=2999))


def test_many_long_numbers_fall_back_to_the_row_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f"0.{i:02d}{'7' * 23}" for i in range(10, 50)]  # 25 digits: each left to float()
    matrix = "[" + ",".join("[" + ",".join(texts[i:i + 4]) + "]" for i in range(0, 40, 4)) + "]"
    want = _reference(texts).reshape(10, 4)
    assert np.array_equal(ingest._rows_compiled(msgspec.Raw(matrix.encode()), SETTINGS), want)
    monkeypatch.setattr(ingest, "SLOW_NUMBERS_MAX", 39)  # one more than it may leave
    assert ingest._rows_compiled(msgspec.Raw(matrix.encode()), SETTINGS) is None
    monkeypatch.setattr(ingest, "COMPILED_MIN_BYTES", 0)
    body = f'{{"data": {matrix}, "metric": "cosine"}}'.encode()
    assert ingest._compiled_request("umap", body, SETTINGS) is None
    sub = ingest._parse_json_fast("umap", body, SETTINGS)  # by the row decoder
    assert sub is not None and np.array_equal(sub.data, want) and sub.params.metric == "cosine"


@pytest.mark.parametrize("body, span", [
    (b'{"data": [[1,2]]}', b"[[1,2]]"),
    (b' {\n "metric" : "cosine" ,\t"data"\r\n:\n[[1, 2]] , "n_neighbors": 5 } ', b"[[1, 2]]"),
    (b'{"a": "x\\" [ { \\"data\\": 1", "data": [[3,4]]}', b"[[3,4]]"),  # quotes and brackets in a string
    (b'{"a": {"data": [[9]]}, "b": [1, {"c": "]"}], "data": [[5,6]]}', b"[[5,6]]"),  # nested: not top level
    (b'{"a": true, "b": null, "c": -1.5e3, "data": [[7,8]]}', b"[[7,8]]"),
    (b'{"d\\u0061ta": [[1,2]]}', None),  # the same key escaped: left to msgspec
    (b'{"data": [[1,2]], "data": [[3,4]]}', None), (b'{"metric": "cosine"}', None), (b"{}", None),
    (b"[[1,2]]", None), (b'{"data": [[1,2]]', None), (b'{"data": [[1,2]]} x', None),
    (b'{"data" [[1,2]]}', None), (b'{"data": [[1,2]] "x": 1}', None), (b'{"data": "[[1,2]]', None),
])
def test_the_data_value_is_found_in_the_body(body: bytes, span: bytes | None) -> None:
    from streaming_umap.web import _json_kernels

    start, end = _json_kernels.data_span(np.frombuffer(body, dtype=np.uint8))
    assert (body[start:end] if start >= 0 else None) == span


def test_the_msgspec_setting_reads_the_same_rows_without_numba() -> None:
    """STREAMING_UMAP_JSON_READER=msgspec: a server process that never loads numba (run in
    a fresh interpreter, since this one has it loaded) gives the same rows."""
    import json
    import subprocess
    import sys

    rows = np.random.default_rng(8).random((400, 64))
    body = json.dumps({"data": rows.tolist()}).encode()
    assert len(body) > ingest.COMPILED_MIN_BYTES
    code = (
        "import sys, hashlib\n"
        "from streaming_umap.config import Settings\n"
        "from streaming_umap.web import ingest\n"
        "s = Settings.from_env({'STREAMING_UMAP_JSON_READER': 'msgspec'})\n"
        "ingest.start_loading_json_reader(s)\n"
        "sub = ingest.parse_json('umap', sys.stdin.buffer.read(), s)\n"
        "print(hashlib.sha256(sub.data.tobytes()).hexdigest(), 'numba' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], input=body, capture_output=True, check=True)
    digest, loaded = done.stdout.decode().split()
    compiled = ingest.parse_json("umap", body, SETTINGS)
    assert loaded == "False"
    assert digest == __import__("hashlib").sha256(compiled.data.tobytes()).hexdigest()


def _matrix_text(rng: np.random.Generator, rows: int, width: int) -> bytes:
    """A list of lists of numbers with random white space, some numbers long enough to be
    left to float()."""
    def space() -> str:
        return "".join(rng.choice([" ", "\n", "\t", "\r"], int(rng.integers(0, 3))))

    def number() -> str:
        if rng.random() < 0.05:
            return f"0.{int(rng.integers(10**9)):09d}{'3' * 20}"
        return repr(float(rng.normal() * 10.0 ** int(rng.integers(-5, 5))))

    body = ",".join(space() + "[" + ",".join(space() + number() + space() for _ in range(width)) + "]" + space()
                    for _ in range(rows))
    return f"{space()}[{space()}{body}]{space()}".encode()


def _read(text: bytes, parts: int) -> tuple[int, np.ndarray, np.ndarray]:
    from streaming_umap.web import _json_kernels

    buffer = np.frombuffer(text, dtype=np.uint8)
    rows, width = _json_kernels.count(buffer)
    out = np.full((max(rows, 1), max(width, 1)), np.nan, dtype=np.float32)
    slow = np.full((64, 3), -7, dtype=np.int64)
    if rows < 0:
        return -1, out, slow
    found = (_json_kernels.read(buffer, out, slow) if parts == 1
             else _json_kernels.read_split(buffer, out, slow, parts))
    return int(found), out, slow[:max(int(found), 0)]


def test_reading_in_pieces_gives_what_one_read_gives(pieces: str) -> None:
    """Cut anywhere into 2-7 pieces, valid texts read to the same bits and the same slow
    numbers, and texts with one byte changed are refused or read alike."""
    if pieces != "whole":
        pytest.skip("calls the readers itself")
    rng = np.random.default_rng(5)
    for trial in range(300):
        text = _matrix_text(rng, int(rng.integers(1, 40)), int(rng.integers(1, 6)))
        if trial % 2:
            broken = bytearray(text)
            broken[int(rng.integers(len(broken)))] = int(rng.choice(list(b"[],.0 e-x")))
            text = bytes(broken)
        want = _read(text, 1)
        for parts in range(2, 8):
            got = _read(text, parts)
            assert got[0] == want[0], (text, parts)
            if want[0] >= 0:
                assert np.array_equal(got[1].view(np.uint32), want[1].view(np.uint32)), (text, parts)
                assert np.array_equal(got[2], want[2]), (text, parts)


def test_too_many_slow_numbers_over_all_pieces_is_refused() -> None:
    from streaming_umap.web import _json_kernels

    long = "0." + "7" * 25
    text = ("[" + ",".join(f"[{long},{long}]" for _ in range(30)) + "]").encode()
    buffer = np.frombuffer(text, dtype=np.uint8)
    out = np.empty((30, 2), dtype=np.float32)
    assert _json_kernels.read_split(buffer, out, np.empty((60, 3), dtype=np.int64), 3) == 60
    assert _json_kernels.read_split(buffer, out, np.empty((59, 3), dtype=np.int64), 3) == -2
