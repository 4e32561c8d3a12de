"""Logging: ``logs/umap_service.log`` (rotating) and stderr, for server and workers
(workers send their records to the server over their pipe)."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE = "umap_service.log"


def configure_logging(log_dir: Path, level: int = logging.INFO) -> Path:
    """Attach our handlers once; returns the log file's path."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_FILE
    root = logging.getLogger()
    if any(getattr(h, "_streaming_umap", False) for h in root.handlers):
        return path
    formatter = logging.Formatter(FORMAT)
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=10 << 20, backupCount=5)
    stream_handler = logging.StreamHandler()
    for handler in (file_handler, stream_handler):
        handler.setFormatter(formatter)
        setattr(handler, "_streaming_umap", True)  # noqa: B010 (marks our own handlers)
        root.addHandler(handler)
    root.setLevel(level)
    return path
