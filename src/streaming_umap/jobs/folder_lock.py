"""One server per data folder: an exclusive lock on ``<data>/server.lock``.

A second server started on the same folder used to mark the first one's running jobs
``failed`` during its recovery before it died on "address already in use". The lock is
taken before recovery and held for the server's life (the kernel drops it when the
process ends, however it ends); the file names the holder for the message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import ConfigError

LOCK_FILE = "server.lock"


class DataFolderInUse(ConfigError):
    """Another server holds the data folder."""


class FolderLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataFolderInUse(
                f"another streaming-umap server ({holder}) is using the data folder "
                f"{self.path.parent.resolve()}; stop it first, or give this one its own folder "
                "with STREAMING_UMAP_DATA_DIR") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __repr__(self) -> str:
        return f"FolderLock({str(self.path)!r}, held={self._fd is not None})"
