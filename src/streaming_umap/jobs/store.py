"""Job records in SQLite; job inputs and results as ``.npy`` files.

Layout of the data folder::

    data/jobs.sqlite3            one row per job, plus the ETA cost model
    data/jobs/<id>/input.npy     float32 rows x dims, deleted once the job ends
    data/jobs/<id>/embedding.npy float32 rows x n_components      (UMAP result)
    data/jobs/<id>/labels.npy    int32 rows                       (clustering result)
    data/jobs/<id>/centers.npy   float32 n_clusters x dims        (kmeans)
    data/models/<id>/...         kept models (see :mod:`.model_store`)

Files are written to a temporary name and renamed, so a crash never leaves a
half-written input or result under its real name.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from .models import ACTIVE_STATUSES, Job, Status

log = logging.getLogger(__name__)

_COLUMNS = (
    "id", "kind", "status", "stage", "params", "total_points", "dims", "total_chunks",
    "created_at", "started_at", "finished_at", "processed_points", "current_chunk",
    "epoch", "total_epochs", "progress", "error", "warning", "result", "result_expired",
    "paused_seconds", "seq", "worker", "owner",
)
_JSON_COLUMNS = {"params", "result"}
_WRITE_BYTES = 8 << 20
# Columns added after the first release, name -> SQL type: an older jobs.sqlite3 gets them
# at start (jobs recorded before the owner column have none: only admin keys see them).
_ADDED_COLUMNS = {"worker": "TEXT", "owner": "TEXT"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT, status TEXT, stage TEXT, params TEXT,
    total_points INTEGER, dims INTEGER, total_chunks INTEGER, created_at REAL,
    started_at REAL, finished_at REAL, processed_points INTEGER, current_chunk INTEGER,
    epoch INTEGER, total_epochs INTEGER, progress REAL, error TEXT, warning TEXT,
    result TEXT, result_expired INTEGER, paused_seconds REAL, seq INTEGER, worker TEXT, owner TEXT
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);
CREATE TABLE IF NOT EXISTS cost_model (
    backend TEXT, key TEXT, coef REAL, updated_at REAL, PRIMARY KEY (backend, key)
);
"""


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` all or nothing: a temporary name, flushed to disk,
    then renamed (recovery trusts that a file under its real name is complete).

    The rows go through ``write`` in pieces, not ``ndarray.tofile``: a full disk then
    raises ENOSPC (numpy's short write carries no errno, so it could not be told from
    any other failure), and the temporary file is removed."""
    tmp = path.with_suffix(".tmp")
    array = np.ascontiguousarray(array)
    try:
        with open(tmp, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(array))
            flat = array.reshape(-1).view(np.uint8)
            fh.writelines(flat[start:start + _WRITE_BYTES].data
                          for start in range(0, flat.size, _WRITE_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class JobStore:
    """Persistence for jobs. All methods are short; call them from any one thread
    at a time (the lock makes concurrent calls safe, not fast)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.jobs_dir = self.data_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        # request bodies being received; what a crash left there is never a job's input
        self.spool_dir = self.data_dir / "spool"
        shutil.rmtree(self.spool_dir, ignore_errors=True)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / "jobs.sqlite3"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._migrate()
        from .model_store import ModelStore

        self.models = ModelStore(self.data_dir, self._db, self._lock)

    def _migrate(self) -> None:
        """Columns added since a data folder was created (SQLite adds them in place)."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for name, kind in _ADDED_COLUMNS.items():
            if name not in have:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
                log.info("job store %s: added column %s", self.path, name)
        self._db.execute("CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner)")

    # ---------------------------------------------------------------- records

    def save(self, job: Job) -> None:
        values = []
        for name in _COLUMNS:
            value = getattr(job, name)
            if name == "status":
                value = job.status.value
            elif name in _JSON_COLUMNS:
                value = None if value is None else json.dumps(value)
            elif name == "result_expired":
                value = int(bool(value))
            values.append(value)
        marks = ", ".join("?" for _ in _COLUMNS)
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO jobs ({', '.join(_COLUMNS)}) VALUES ({marks})", values
            )

    def load_all(self) -> list[Job]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs ORDER BY created_at"
            ).fetchall()
        return [self._job_of(row) for row in rows]

    def _job_of(self, row: tuple[Any, ...]) -> Job:
        values = dict(zip(_COLUMNS, row))
        for name in _JSON_COLUMNS:
            values[name] = None if values[name] is None else json.loads(values[name])
        values["status"] = Status(values["status"])
        values["result_expired"] = bool(values["result_expired"])
        return Job(**values)

    def delete(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def recover(self, now: float | None = None) -> list[Job]:
        """Load every job after a restart (clean or crashed).

        Jobs that never started keep their state: queued ones stay queued, and one paused
        in the queue stays paused (its input is intact). A job that was running is failed
        (its worker's progress is lost), or cancelled if a cancel was under way, and its
        folder removed; so is any folder that no record names.
        """
        now = time.time() if now is None else now
        jobs = self.load_all()
        for job in jobs:
            if job.status not in ACTIVE_STATUSES:
                continue
            waiting = job.status == Status.PENDING or job.held_in_queue
            if waiting and self.input_path(job.id).exists():
                continue
            self._end_at_recovery(job, now)
        self._remove_orphans({job.id for job in jobs})
        return jobs

    def _end_at_recovery(self, job: Job, now: float) -> None:
        if job.status == Status.CANCELLING:
            job.status, job.error = Status.CANCELLED, "cancelled on request (the server stopped first)"
        elif job.status == Status.PENDING or job.held_in_queue:
            job.status = Status.FAILED
            job.error = "the input of this queued job was missing when the server started; submit it again"
        else:
            job.status = Status.FAILED
            job.error = ("the server stopped while this job was in flight (last recorded stage: "
                         f"'{job.stage}'); submit it again")
        job.finished_at = now
        job.paused_since = None
        job.eta_seconds = None
        self.save(job)
        self.remove_results(job.id)
        log.warning("job %s %s on recovery: %s", job.id, job.status.value, job.error)

    def _remove_orphans(self, known: set[str]) -> None:
        """Folders of jobs with no record (a crash between storing an input and its record)."""
        for folder in self.jobs_dir.iterdir():
            if folder.is_dir() and folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)
                log.warning("removed %s: no job record names it", folder)

    # ---------------------------------------------------------------- files

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def input_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "input.npy"

    def write_input(self, job_id: str, data: np.ndarray, source: Path | None = None) -> Path:
        """Store a job's input: ``data`` written all or nothing, or ``source`` (a
        complete ``.npy`` of ``data`` in the spool folder, same file system) flushed
        and renamed into place."""
        folder = self.job_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = self.input_path(job_id)
        if source is not None:
            fd = os.open(source, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(source, path)
        else:
            save_npy(path, np.ascontiguousarray(data, dtype=np.float32))
        return path

    def remove_input(self, job_id: str) -> None:
        self.input_path(job_id).unlink(missing_ok=True)

    def result_path(self, job_id: str, kind: str) -> Path:
        from .kinds import kind_of

        return self.job_dir(job_id) / kind_of(kind).result_file

    def centers_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "centers.npy"

    def folder_bytes(self, job_id: str) -> int:
        folder = self.job_dir(job_id)
        if not folder.exists():
            return 0
        return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())

    def remove_results(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    # ---------------------------------------------------------------- cost model

    def load_cost_model(self, backend: str) -> dict[str, float]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, coef FROM cost_model WHERE backend = ?", (backend,)
            ).fetchall()
        return {key: coef for key, coef in rows}

    def save_cost_model(self, backend: str, coef: dict[str, float]) -> None:
        now = time.time()
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO cost_model (backend, key, coef, updated_at) VALUES (?, ?, ?, ?)",
                [(backend, key, value, now) for key, value in coef.items()],
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"JobStore(path={str(self.path)!r})"
