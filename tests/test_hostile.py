"""Hostile and odd inputs a probe of the service sent: each is a 4xx that says what is
wrong (never a 500, never a leak of the server's insides), and nothing is queued."""

from __future__ import annotations

import json

import pytest

from streaming_umap.schemas import METRICS

from .conftest import Service


def _npy(header: bytes, body: bytes = b"") -> bytes:
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + body


def _header(text: str) -> bytes:
    raw = text.encode()
    return raw + b" " * (63 - len(raw) % 64) + b"\n"


NPY = "application/x-npy"
CASES = [
    # (method, path, content type, body, status, fragment of the detail)
    *[("POST", "/umap/streaming/cluster", "application/json",
       json.dumps({"data": [[1, 2]], "algorithm": "hdbscan", "metric": m}).encode(),
       422, "hdbscan needs at least 2 rows") for m in METRICS],
    ("POST", "/umap/streaming/cluster", NPY, _npy(_header("{'descr': '<f4', 'fortran_order': False, "
                                                          "'shape': (1, 2), }"), b"\0" * 8) ,
     422, "hdbscan needs at least 2 rows"),  # the same from a .npy (query: algorithm)
    ("POST", "/umap/streaming/umap", NPY, b"\x93NUMPY\x01\x00\x0c\x00{'shape': (1", 400, "not a valid .npy"),
    ("POST", "/umap/streaming/umap", NPY, b"\x93NUMPY\x01\x00", 400, "not a valid .npy"),
    ("POST", "/umap/streaming/umap", NPY, _npy(_header("{'descr': '<f4', 'fortran_order': False, "
                                                       "'shape': (1, 2), 'x': print}")), 400, "not a valid .npy"),
    ("POST", "/umap/streaming/umap", NPY, _npy(_header("{'descr': '<f4', 'shape': " + "(" * 2000 + ")" * 2000 + "}")),
     400, "not a valid .npy"),
    ("POST", "/umap/streaming/umap", NPY, _npy(_header("[1, 2]")), 400, "not a valid .npy"),
    ("POST", "/umap/streaming/umap", "application/json", b'{"data": [[1, 2], [3, 4]], "data": [[5, 6]]}',
     400, "repeats the key 'data'"),
    ("POST", "/umap/streaming/umap", "application/json",
     b'{"data": [[1, 2], [3, 4]], "metric": "cosine", "metric": "euclidean"}', 400, "repeats the key 'metric'"),
    ("POST", "/umap/streaming/umap", "application/json", b'{"data": [[1, 2], [3, 4]], "d\\u0061ta": [[5, 6]]}',
     400, "repeats the key 'data'"),
    ("POST", "/umap/streaming/umap?random_state=4294967296", "application/json", b'{"data": [[1, 2], [3, 4]]}',
     422, "the parameters go in the body"),
    ("POST", "/umap/streaming/umap", "application/json", b'{"data": []}', 422, "data is empty"),
    ("GET", "/umap/streaming/jobs?include=AAA", None, b"", 422, "include must be 'all'"),
    ("GET", "/umap/streaming/jobs?limit=0", None, b"", 422, "limit must be an integer in 1..1000"),
    ("GET", "/umap/streaming/jobs?limit=1e3", None, b"", 422, "limit must be an integer"),
    ("GET", "/umap/streaming/jobs?after=nonsense", None, b"", 422, "after must be the next_after"),
    ("GET", "/umap/streaming/status/x?include_result=maybe", None, b"", 422, "include_result must be true or false"),
    ("GET", "/umap/streaming/demo/digits/labels?format=AAA", None, b"", 422, "format must be json or npy"),
    ("GET", "/umap/streaming/demo/mixture/data?rows=%D9%A3", None, b"", 422, "rows must be an integer"),
]


@pytest.mark.parametrize(("method", "path", "media", "body", "status", "fragment"), CASES,
                         ids=[f"{c[0]} {c[1][:40]} {c[3][:30]!r}" for c in CASES])
def test_hostile_input_is_a_clear_4xx(service: Service, method: str, path: str, media: str | None,
                                      body: bytes, status: int, fragment: str) -> None:
    if media == NPY and "cluster" in path:
        path += "?algorithm=hdbscan"
    with service.client() as c:
        before = c.get("/umap/streaming/jobs", params={"include": "all"}).json()["total"]
        r = c.request(method, path, content=body, headers={"Content-Type": media} if media else {})
        after = c.get("/umap/streaming/jobs", params={"include": "all"}).json()["total"]
    assert r.status_code == status and fragment in r.json()["detail"], r.text
    assert " at 0x" not in r.text and "Traceback" not in r.text  # no memory addresses, no internals
    assert after == before


def test_the_published_schema_refuses_what_the_server_refuses(service: Service) -> None:
    with service.client() as c:
        spec = c.get("/openapi.json").json()
    for name in ("UMAPRequest", "ClusterRequest"):
        data = spec["components"]["schemas"][name]["properties"]["data"]
        assert data["minItems"] == 1 and data["items"]["minItems"] == 1  # data: [] and [[]] are refused


def test_jobs_come_a_page_at_a_time(service: Service) -> None:
    with service.client() as c:
        first = c.get("/umap/streaming/jobs", params={"include": "all", "limit": 1}).json()
        assert first["count"] == len(first["jobs"]) <= 1 and first["total"] >= first["count"]
        if first["total"] > 1:
            second = c.get("/umap/streaming/jobs", params={"include": "all", "limit": 1,
                                                           "after": first["next_after"]}).json()
            assert second["jobs"][0]["job_id"] != first["jobs"][0]["job_id"]
        else:
            assert first["next_after"] is None
