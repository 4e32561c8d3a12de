from __future__ import annotations

import httpx
import pytest

from streaming_umap import client as c
from streaming_umap._client.errors import error_from_response


@pytest.mark.parametrize(("status", "kind"), [
    (400, c.InvalidRequest), (415, c.InvalidRequest), (422, c.InvalidRequest), (404, c.NotFound),
    (409, c.Conflict), (410, c.Gone), (413, c.PayloadTooLarge), (429, c.QueueFull),
    (503, c.Unavailable), (507, c.Unavailable), (500, c.ServerError),
])
def test_each_error_status_has_its_exception(status: int, kind: type) -> None:
    request = httpx.Request("POST", "http://server/umap/streaming/umap")
    response = httpx.Response(status, json={"detail": "what went wrong", "field": "data", "row": 3},
                              request=request)
    error = error_from_response(response)
    assert type(error) is kind and error.status == status
    assert "what went wrong" in str(error) and error.field == "data" and error.row == 3
