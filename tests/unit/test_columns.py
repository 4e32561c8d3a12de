"""Rows need at least two columns (docs/API.md), whichever way the data arrives."""

from __future__ import annotations

import io

import numpy as np
import pytest

from streaming_umap.config import Settings
from streaming_umap.errors import InvalidInput
from streaming_umap.web.ingest import parse_spooled_submission, parse_submission

SETTINGS = Settings.from_env({})
ONE_COLUMN = np.arange(1500, dtype=np.float32).reshape(-1, 1)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


BODIES = {
    "json": ("application/json", b'{"data": [[1], [2], [3]]}'),
    "npy": ("application/x-npy", _npy(ONE_COLUMN)),
    "csv": ("text/csv", b"score\n1\n2\n3\n"),
}


@pytest.mark.parametrize("kind", ["umap", "cluster"])
@pytest.mark.parametrize("how", sorted(BODIES))
def test_one_column_is_refused_with_the_documented_minimum(kind: str, how: str) -> None:
    media, body = BODIES[how]
    with pytest.raises(InvalidInput) as info:
        parse_submission(kind, media, body, {}, SETTINGS)
    assert info.value.field == "data"
    assert info.value.detail == "data has 1 column per row; expected at least 2 columns"


def test_a_spooled_one_column_npy_is_refused_too(tmp_path) -> None:
    path = tmp_path / "upload.npy"
    path.write_bytes(_npy(ONE_COLUMN))
    with pytest.raises(InvalidInput, match="at least 2 columns"):
        parse_spooled_submission("umap", path, {}, SETTINGS)


def test_two_columns_are_enough() -> None:
    sub = parse_submission("cluster", "application/json", b'{"data": [[1, 2], [3, 4]]}', {}, SETTINGS)
    assert sub.data.shape == (2, 2)
