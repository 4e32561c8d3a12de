"""The suite's figures, one module each, each ``run(ctx) -> dict``.

Every figure holds ratios against a baseline measured in the same run on the same
data (the bare library, the default chunk size, one job alone, ``.npy`` upload,
the reference layout, the actual completion time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..context import Context
from . import chunks, concurrency, ingest, progress, quality, scaling, service

RUNNERS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "service": service.run,
    "scaling": scaling.run,
    "chunks": chunks.run,
    "ingest": ingest.run,
    "concurrency": concurrency.run,
    "quality": quality.run,
    "progress": progress.run,
}
