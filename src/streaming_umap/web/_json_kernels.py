"""Compiled readers of a JSON request body's ``data`` field, a list of equally long lists
of numbers, all without the GIL.

:func:`data_span` finds the field's value in the body (the caller has msgspec check the
rest). :func:`count` counts its brackets and commas (a few ms for 100 MB): that gives the
size a matrix of that text would have, so that it is checked before anything is
allocated. :func:`read` then checks the grammar as it converts every number straight into
the float32 matrix, and that the text is that matrix (rows of equal length, as many as
counted). Each value is the one the decoder it replaces gives: the nearest float64 to the
decimal text, then the nearest float32 to that (msgspec makes a Python float, numpy
rounds it).

A number with at most 19 significant digits and a power of ten within 10^+-22 whose
digits fit 53 bits is converted exactly (one IEEE operation on exact operands: the
correctly rounded float64). Any other number within the table's range gets a float64
within about 2 units in the last place, which rounds to the same float32 unless it is
near a point halfway between two float32 values; those, and numbers with more digits
or far exponents, are left to the caller (``slow``) to convert with ``float()``.

Numba loads with this module (~0.5 s from its cache): the server imports it in a thread
as it starts (:func:`streaming_umap.web.ingest.start_loading_json_reader`).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np

_EXACT = np.array([float(10 ** k) for k in range(23)])  # 10^0 .. 10^22: exact in float64
_TABLE_MIN = -64
# 10^k, k in [-64, 64], each the nearest float64 (Python's float() rounds correctly)
_TABLE = np.array([float(f"1e{k}") for k in range(_TABLE_MIN, -_TABLE_MIN + 1)])
_TWO53 = np.uint64(1 << 53)
_TOLERANCE_UNITS = 32  # float64 units in the last place: well above the few of the error


@numba.njit(cache=True, nogil=True)
def count(buf):  # type: ignore[no-untyped-def]
    """(rows, columns) that a JSON list of equally long lists of numbers with these
    bytes would have, from its brackets and commas; (-1, 0) where no such list could."""
    opening = 0
    commas = 0
    for i in range(len(buf)):
        c = buf[i]
        opening += c == 91  # [
        commas += c == 44  # ,
    rows = opening - 1
    if rows < 1:
        return -1, 0
    values = commas - (rows - 1) + rows  # the commas within rows, plus one number per row
    if values < rows or values % rows:
        return -1, 0
    return rows, values // rows


@numba.njit(cache=True, nogil=True)
def _skip_ws(buf, i, n):  # type: ignore[no-untyped-def]
    while i < n:
        c = buf[i]
        if c == 32 or c == 10 or c == 13 or c == 9:
            i += 1
        else:
            break
    return i


@numba.njit(cache=True, nogil=True)
def _near_halfway(value, bits, pattern_of):  # type: ignore[no-untyped-def]
    """Whether ``value``, a float64 a few units in its last place off the exact number,
    might round to another float32 than the exact number would: the 29 bits float32
    drops are near half of their range. Also True outside the normal float32 range,
    where the caller converts the number exactly instead. ``bits``: a one-element
    float64 scratch array, ``pattern_of`` the same memory as uint64."""
    bits[0] = value
    pattern = pattern_of[0]
    exponent = (pattern >> np.uint64(52)) & np.uint64(0x7FF)
    if exponent < np.uint64(1023 - 126) or exponent > np.uint64(1023 + 127):
        return True
    dropped = pattern & np.uint64((1 << 29) - 1)
    half = np.uint64(1 << 28)
    distance = dropped - half if dropped >= half else half - dropped
    return distance <= np.uint64(_TOLERANCE_UNITS)


_ASCII_HIGH = np.uint64(0xF0F0F0F0F0F0F0F0)
_PLUS_SIX = np.uint64(0x0606060606060606)
_ALL_THREES = np.uint64(0x3333333333333333)
_ZEROS = np.uint64(0x3030303030303030)
_MASK = np.uint64(0x000000FF000000FF)
_MUL1 = np.uint64(100 + (1000000 << 32))
_MUL2 = np.uint64(1 + (10000 << 32))


@numba.njit(cache=True, nogil=True)
def _eight_digits(buf, i):  # type: ignore[no-untyped-def]
    """The value of the eight bytes at ``i`` as decimal digits, or -1 where one is not a
    digit (eight at once in one 64-bit word, as the fast_float library does)."""
    word = np.uint64(0)
    for k in range(8):
        word |= np.uint64(buf[i + k]) << np.uint64(8 * k)
    if ((word & _ASCII_HIGH) | (((word + _PLUS_SIX) & _ASCII_HIGH) >> np.uint64(4))) != _ALL_THREES:
        return -1
    word -= _ZEROS
    word = word * np.uint64(10) + (word >> np.uint64(8))
    word = (((word & _MASK) * _MUL1) + (((word >> np.uint64(16)) & _MASK) * _MUL2)) >> np.uint64(32)
    return np.int64(word & np.uint64(0xFFFFFFFF))


@numba.njit(cache=True, nogil=True)
def _number(buf, i, n, bits, pattern_of):  # type: ignore[no-untyped-def]
    """The JSON number at ``i``: (end, value, state), state 0 for a value converted here,
    1 for one to convert with float() (``buf[i:end]``), -1 where no number starts."""
    negative = False
    if i < n and buf[i] == 45:  # -
        negative = True
        i += 1
    if i >= n or not (48 <= buf[i] <= 57):
        return i, 0.0, -1
    mantissa = np.uint64(0)
    significant = 0
    too_many = False
    if buf[i] == 48:  # a leading 0 stands alone
        i += 1
    else:
        while i < n and 48 <= buf[i] <= 57:
            if significant < 19:
                mantissa = mantissa * np.uint64(10) + np.uint64(buf[i] - 48)
                significant += 1
            else:
                too_many = True
            i += 1
    fraction_digits = 0
    integer = True
    if i < n and buf[i] == 46:  # .
        integer = False
        i += 1
        start = i
        while i < n and 48 <= buf[i] <= 57:
            if 0 < significant <= 11 and i + 8 <= n:  # eight digits at once where they fit
                eight = _eight_digits(buf, i)
                if eight >= 0:
                    mantissa = mantissa * np.uint64(100000000) + np.uint64(eight)
                    significant += 8
                    fraction_digits += 8
                    i += 8
                    continue
            d = buf[i] - 48
            if significant > 0 or d != 0:
                if significant < 19:
                    mantissa = mantissa * np.uint64(10) + np.uint64(d)
                    significant += 1
                else:
                    too_many = True
            fraction_digits += 1  # (once there are too many, the count is not used)
            i += 1
        if i == start:
            return i, 0.0, -1
    power = 0
    if i < n and (buf[i] == 101 or buf[i] == 69):  # e E
        integer = False
        i += 1
        exponent_negative = False
        if i < n and (buf[i] == 43 or buf[i] == 45):  # + -
            exponent_negative = buf[i] == 45
            i += 1
        start = i
        while i < n and 48 <= buf[i] <= 57:
            if power < 100000:
                power = power * 10 + (buf[i] - 48)
            i += 1
        if i == start:
            return i, 0.0, -1
        if exponent_negative:
            power = -power
    if too_many:
        return i, 0.0, 1
    if mantissa == 0:  # "-0" is the integer 0 (+0.0); "-0.0" and "-0e1" are the float -0.0
        return i, (-0.0 if negative and not integer else 0.0), 0
    power -= fraction_digits
    if power < _TABLE_MIN or power > -_TABLE_MIN:
        return i, 0.0, 1
    value = float(mantissa)
    if mantissa < _TWO53 and -22 <= power <= 22:  # exact operands, one rounding: exact
        value = value * _EXACT[power] if power >= 0 else value / _EXACT[-power]
    else:
        if -22 <= power < 0:
            value = value / _EXACT[-power]
        else:
            value = value * _TABLE[power - _TABLE_MIN]
        if _near_halfway(value, bits, pattern_of):
            return i, 0.0, 1
    return i, (-value if negative else value), 0


@numba.njit(cache=True, nogil=True)
def read_rows(buf, i, out, first, rows, slow):  # type: ignore[no-untyped-def]
    """Read ``rows`` rows of the list of lists in ``buf``, the first opening at ``i``,
    into ``out[first:first + rows]``, rows separated by commas. A number this cannot
    convert exactly is recorded in ``slow`` as (start, end, flat index) for the caller.
    Returns (where the text goes on after the last row and its white space, how many
    numbers are slow); that count is -1 where the text is not such rows, -2 where more
    numbers are slow than ``slow`` holds."""
    n = len(buf)
    width = out.shape[1]
    n_slow = 0
    bits = np.empty(1, dtype=np.float64)
    pattern_of = bits.view(np.uint64)
    last = first + rows - 1
    for row in range(first, first + rows):
        if i >= n or buf[i] != 91:  # [
            return i, -1
        i = _skip_ws(buf, i + 1, n)
        for column in range(width):
            start = i
            i, value, state = _number(buf, i, n, bits, pattern_of)
            if state < 0:
                return i, -1
            if state == 0:
                out[row, column] = value
            else:
                if n_slow == slow.shape[0]:
                    return i, -2
                slow[n_slow, 0] = start
                slow[n_slow, 1] = i
                slow[n_slow, 2] = row * width + column
                n_slow += 1
            i = _skip_ws(buf, i, n)
            if i >= n:
                return i, -1
            if column < width - 1:
                if buf[i] != 44:  # ,
                    return i, -1
                i = _skip_ws(buf, i + 1, n)
            elif buf[i] != 93:  # ]
                return i, -1
        i = _skip_ws(buf, i + 1, n)
        if i >= n:
            return i, -1
        if row < last:
            if buf[i] != 44:
                return i, -1
            i = _skip_ws(buf, i + 1, n)
    return i, n_slow


@numba.njit(cache=True, nogil=True)
def read(buf, out, slow):  # type: ignore[no-untyped-def]
    """Read the JSON list of lists of numbers in ``buf`` into the float32 matrix ``out``
    (its shape from :func:`count`). A number this cannot convert exactly is recorded in
    ``slow`` as (start, end, flat index) for the caller. Returns how many there are;
    -1 where ``buf`` is not such a matrix, -2 where more numbers are slow than ``slow``
    holds."""
    n = len(buf)
    i = _skip_ws(buf, 0, n)
    if i >= n or buf[i] != 91:  # [
        return -1
    i, n_slow = read_rows(buf, _skip_ws(buf, i + 1, n), out, 0, out.shape[0], slow)
    if n_slow < 0:
        return n_slow
    if buf[i] != 93 or _skip_ws(buf, i + 1, n) != n:  # ]
        return -1
    return n_slow


@numba.njit(cache=True, nogil=True)
def row_start(buf, i):  # type: ignore[no-untyped-def]
    """The first ``[`` at ``i`` or after that follows ``]``, a comma and ``[`` (white
    space aside): in a list of lists of numbers, where a row other than the first opens;
    -1 where there is none. A cut there is checked by reading: see :func:`read_split`."""
    n = len(buf)
    for j in range(max(i, 1), n):
        if buf[j] != 91:
            continue
        k = j - 1
        while k > 0 and (buf[k] == 32 or buf[k] == 10 or buf[k] == 13 or buf[k] == 9):
            k -= 1
        if buf[k] != 44:
            continue
        k -= 1
        while k > 0 and (buf[k] == 32 or buf[k] == 10 or buf[k] == 13 or buf[k] == 9):
            k -= 1
        if buf[k] == 93:
            return j
    return -1


@numba.njit(cache=True, nogil=True)
def openings(buf, end):  # type: ignore[no-untyped-def]
    """How many ``[`` ``buf[:end]`` holds."""
    found = 0
    for j in range(end):
        found += buf[j] == 91
    return found


_POOL: Any = None
_POOL_LOCK = threading.Lock()


def _pool(workers: int) -> Any:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < workers:
            _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="json-rows")
        return _POOL


def read_split(buf: np.ndarray, out: np.ndarray, slow: np.ndarray, parts: int) -> int:
    """:func:`read`'s answer, the rows read in up to ``parts`` pieces on as many threads
    (the kernels hold no GIL). Each piece starts where :func:`row_start` finds a row
    opening, at the row the ``[`` before it number, and must end, white space and a
    comma aside, where the next begins; the last must end with ``]`` and the text. If
    every piece reads, the whole text is read exactly as :func:`read` reads it, so the
    answer is the same; a cut in text that is not such a matrix fails a piece. A text
    both broken and over ``slow``'s size may give -1 where :func:`read` gives -2 (the
    pieces' slow numbers are added up only once all have read); the caller treats both
    alike."""
    n, rows = len(buf), out.shape[0]
    i = _skip_ws(buf, 0, n)
    if i >= n or buf[i] != 91:
        return -1
    cuts = [(int(_skip_ws(buf, i + 1, n)), 0)]
    for part in range(1, parts):
        at = row_start(buf, max(n * part // parts, cuts[-1][0] + 1))
        if at < 0:
            break
        row = int(openings(buf, at)) - 1
        if row <= cuts[-1][1] or row >= rows:
            break
        cuts.append((int(at), row))
    if len(cuts) == 1:
        return int(read(buf, out, slow))
    spans = [(at, row, (cuts[k + 1][1] if k + 1 < len(cuts) else rows) - row)
             for k, (at, row) in enumerate(cuts)]
    slows = [slow] + [np.empty_like(slow) for _ in spans[1:]]
    pool = _pool(len(spans) - 1)
    later = [pool.submit(read_rows, buf, at, out, row, count_, part_slow)
             for (at, row, count_), part_slow in zip(spans[1:], slows[1:])]
    answers = [read_rows(buf, spans[0][0], out, spans[0][1], spans[0][2], slows[0])]
    answers += [future.result() for future in later]
    for k, (end, found) in enumerate(answers):
        if found < 0:
            return int(found)
        if k + 1 < len(answers):
            if end >= n or buf[end] != 44 or _skip_ws(buf, end + 1, n) != spans[k + 1][0]:
                return -1
        elif end >= n or buf[end] != 93 or _skip_ws(buf, end + 1, n) != n:
            return -1
    total = sum(int(found) for _, found in answers)
    if total > slow.shape[0]:
        return -2
    at = int(answers[0][1])
    for part_slow, (_, found) in zip(slows[1:], answers[1:]):
        slow[at:at + found] = part_slow[:found]
        at += found
    return total


@numba.njit(cache=True, nogil=True)
def _string_end(buf, i, n):  # type: ignore[no-untyped-def]
    """End (after the closing quote) of the JSON string whose opening quote is at ``i``;
    -1 where it does not end."""
    i += 1
    while i < n:
        c = buf[i]
        if c == 34:  # "
            return i + 1
        i += 2 if c == 92 else 1  # a backslash escapes the next byte
    return -1


@numba.njit(cache=True, nogil=True)
def _value_end(buf, i, n):  # type: ignore[no-untyped-def]
    """End of the JSON value at ``i`` as far as nesting and strings go (the value itself
    is checked by whoever reads it); -1 where it does not end."""
    if i >= n:
        return -1
    c = buf[i]
    if c == 34:
        return _string_end(buf, i, n)
    if c == 91 or c == 123:  # [ {
        depth = 0
        while i < n:
            c = buf[i]
            if c == 34:
                i = _string_end(buf, i, n)
                if i < 0:
                    return -1
                continue
            if c == 91 or c == 123:
                depth += 1
            elif c == 93 or c == 125:  # ] }
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return -1
    while i < n:  # a number, true, false or null
        c = buf[i]
        if c == 44 or c == 93 or c == 125 or c == 32 or c == 10 or c == 13 or c == 9:
            break
        i += 1
    return i


@numba.njit(cache=True, nogil=True)
def data_span(buf):  # type: ignore[no-untyped-def]
    """(start, end) of the value of the top-level key ``"data"`` (written as those four
    letters) of the JSON object in ``buf``; (-1, -1) where the text is not an object as
    far as its nesting goes, or has no such key. Whoever uses the span checks what is in
    it and what is around it."""
    n = len(buf)
    i = _skip_ws(buf, 0, n)
    if i >= n or buf[i] != 123:  # {
        return -1, -1
    start = end = -1
    i = _skip_ws(buf, i + 1, n)
    if i < n and buf[i] == 125:
        return -1, -1
    while True:
        if i >= n or buf[i] != 34:
            return -1, -1
        key_end = _string_end(buf, i, n)
        if key_end < 0:
            return -1, -1
        is_data = (key_end - i == 6 and buf[i + 1] == 100 and buf[i + 2] == 97
                   and buf[i + 3] == 116 and buf[i + 4] == 97)  # "data"
        i = _skip_ws(buf, key_end, n)
        if i >= n or buf[i] != 58:  # :
            return -1, -1
        i = _skip_ws(buf, i + 1, n)
        value_end = _value_end(buf, i, n)
        if value_end < 0:
            return -1, -1
        if is_data:
            if start >= 0:
                return -1, -1  # twice
            start, end = i, value_end
        i = _skip_ws(buf, value_end, n)
        if i >= n:
            return -1, -1
        if buf[i] == 44:  # ,
            i = _skip_ws(buf, i + 1, n)
        elif buf[i] == 125:  # }
            break
        else:
            return -1, -1
    if _skip_ws(buf, i + 1, n) != n:
        return -1, -1
    return start, end


def warm() -> None:
    """Compile (or load from numba's cache) the readers for the buffers they are given:
    read-only ones (``bytes``) and writable ones (the ``bytearray`` a body is read into)."""
    for text in (b'{"data": [[1.5,-2e-3], [1, 2]]}', bytearray(b'{"data": [[1.5,-2e-3], [1, 2]]}')):
        buffer = np.frombuffer(text, dtype=np.uint8)
        start, end = data_span(buffer)
        buffer = buffer[start:end]
        rows, width = count(buffer)
        read(buffer, np.empty((rows, width), dtype=np.float32), np.empty((1, 3), dtype=np.int64))
        read_split(buffer, np.empty((rows, width), dtype=np.float32), np.empty((1, 3), dtype=np.int64), 2)
