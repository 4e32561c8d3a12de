"""Which Origins may act: the page's own (its Host) and the configured ones."""

from __future__ import annotations

import pytest

from streaming_umap.web.guard import OriginPolicy


@pytest.mark.parametrize(("origin", "host", "scheme", "allowed"), [
    ("http://localhost:8003", "localhost:8003", "http", True),
    ("http://LOCALHOST:8003/", "localhost:8003", "http", True),
    ("http://localhost", "localhost:80", "http", True),  # default ports made explicit
    ("https://api.example", "api.example", "https", True),
    ("http://localhost:8004", "localhost:8003", "http", False),  # another port is another site
    ("http://127.0.0.1:8003", "localhost:8003", "http", False),
    ("https://evil.example", "localhost:8003", "http", False),
    ("http://[::1]:8003", "[::1]:8003", "http", True),
    ("null", "localhost:8003", "http", False),  # sandboxed frames and file:// pages
    ("file://", "localhost:8003", "http", False),
    ("http://localhost:8003", None, "http", False),  # no Host: nothing to be the same as
    ("http://page.example:9000", "localhost:8003", "http", True),  # configured
    ("http://page.example:9001", "localhost:8003", "http", False),
    ("http://localhost:notaport", "localhost:8003", "http", False),
])
def test_origins(origin: str, host: str | None, scheme: str, allowed: bool) -> None:
    assert OriginPolicy(("http://page.example:9000",)).allows(origin, host, scheme) is allowed


def test_a_wildcard_allows_every_origin() -> None:
    assert OriginPolicy(("*",)).allows("https://anything.example", "localhost:8003", "http")
