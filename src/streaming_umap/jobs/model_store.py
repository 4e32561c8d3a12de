"""Kept models: fitted layouts stored as plain arrays and parameters we own.

A model is a folder (never a pickle of a library object, so it outlives library
upgrades and moves between backends)::

    data/models/<id>/train.npy      float32 rows x dims: the rows the layout was fitted on
    data/models/<id>/embedding.npy  float32 rows x n_components: their positions
    data/models/<id>/model.json     a, b, metric, n_neighbors, n_epochs, random_state, the
                                    UMAP parameters, the backend and library versions
    data/models/<id>/index-*.pkl    a cache of the CPU neighbour index (rebuilt if unusable)
    data/models/<id>/cluster-labels.npy   int32 per training row, and cluster-centers.npy
                                    (kmeans): a clustering attached to the model (its entry
                                    in model.json's "clustering" says which, see
                                    :meth:`ModelStore.attach_clustering`)

The worker that fitted the layout writes the three files into its job folder under
``model-*`` names (:func:`write_model_files`; the training rows are a hard link to the
job's input where the file system allows, so keeping a model costs no copy); when the
job completes the supervisor moves them into ``models/<id>`` and records the model
(:class:`ModelStore`, a table beside the jobs in ``jobs.sqlite3``). A model has its own
retention (``STREAMING_UMAP_MODEL_TTL`` after its last use) and counts toward the disk
budget.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .store import save_npy

log = logging.getLogger(__name__)

FORMAT = 1  # model.json's "format": what this code writes and reads
TRAIN, EMBEDDING, META = "train.npy", "embedding.npy", "model.json"
STAGED = {TRAIN: "model-train.npy", EMBEDDING: "model-embedding.npy", META: "model.json"}
CLUSTER_LABELS, CLUSTER_CENTERS = "cluster-labels.npy", "cluster-centers.npy"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY, job_id TEXT, owner TEXT, meta TEXT, size_bytes INTEGER,
    created_at REAL, last_used_at REAL
);
CREATE INDEX IF NOT EXISTS models_created ON models (created_at);
"""


def library_versions(backend: str) -> dict[str, str]:
    """The versions of what fitted a model (shown by the models endpoints)."""
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    names = ["umap-learn", "pynndescent", "numba", "numpy"] + (["cuml-cu13", "cupy-cuda13x"] if backend == "gpu" else [])
    found = {"streaming-umap": __version__}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def model_meta(*, model_id: str, rows: int, dims: int, n_components: int, metric: str,
               n_neighbors: int, a: float, b: float, params: dict[str, Any], backend: str,
               job_id: str | None) -> dict[str, Any]:
    return {"format": FORMAT, "model_id": model_id, "job_id": job_id, "rows": rows, "dims": dims,
            "n_components": n_components, "metric": metric, "n_neighbors": n_neighbors,
            "a": a, "b": b, "n_epochs": params.get("n_epochs"),
            "random_state": params.get("random_state"),
            "params": {k: v for k, v in params.items() if k not in ("keep_model", "init_from")},
            "backend": backend, "versions": library_versions(backend)}


def write_model_files(folder: Path, data: np.ndarray, embedding: np.ndarray, meta: dict[str, Any],
                      train_file: Path | None = None) -> None:
    """Stage a model in ``folder`` (a job's folder, or a scratch one): the training rows
    (a hard link to ``train_file`` when it holds exactly ``data``, else written), the
    embedding, and ``model.json`` last, so a model.json names complete arrays."""
    train = folder / STAGED[TRAIN]
    train.unlink(missing_ok=True)
    linked = False
    if train_file is not None:
        try:
            os.link(train_file, train)
            linked = True
        except OSError:
            linked = False
    if not linked:
        save_npy(train, np.ascontiguousarray(data, dtype=np.float32))
    save_npy(folder / STAGED[EMBEDDING], np.ascontiguousarray(embedding, dtype=np.float32))
    tmp = folder / (STAGED[META] + ".tmp")
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, folder / STAGED[META])


def read_meta(folder: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((folder / META).read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"model {folder.name}: format {meta.get('format')!r}, this server reads {FORMAT}")
    return meta


def load_layout_model(folder: Path) -> Any:
    """The model in ``folder`` as a :class:`~streaming_umap.pipeline.transform_cpu.LayoutModel`
    (arrays memory-mapped: placing rows reads what it needs)."""
    from ..pipeline.transform_cpu import LayoutModel

    meta = read_meta(folder)
    train = np.load(folder / TRAIN, mmap_mode="r")
    embedding = np.ascontiguousarray(np.load(folder / EMBEDDING), dtype=np.float32)
    return LayoutModel(train, embedding, float(meta["a"]), float(meta["b"]), str(meta["metric"]),
                       int(meta["n_neighbors"]), meta.get("n_epochs"), meta.get("random_state"))


def load_clustering(folder: Path) -> Any:
    """The clustering attached to the model in ``folder`` as a
    :class:`~streaming_umap.pipeline.place_labels.Clustering`, or None."""
    from ..pipeline.place_labels import Clustering

    entry = read_meta(folder).get("clustering")
    if not entry:
        return None
    points = np.load(folder / (EMBEDDING if entry["space"] == "layout" else TRAIN), mmap_mode="r")
    centers = folder / CLUSTER_CENTERS
    return Clustering(entry["algorithm"], entry["space"], np.load(folder / CLUSTER_LABELS), points,
                      str(entry["params"].get("metric", "euclidean")),
                      np.load(centers) if entry["algorithm"] == "kmeans" else None, entry["radius"])


def clustering_space(meta: dict[str, Any], job_id: str, kind: str, rows: int, dims: int) -> str:
    """Which of the model's spaces a cluster job of ``rows`` x ``dims`` clustered: its
    layout ("layout", checked first), or its training rows ("rows"); 422 naming the
    mismatch for anything else."""
    from ..errors import InvalidInput

    if kind != "cluster":
        raise InvalidInput(f"job {job_id} is a {kind} job; attach a cluster job", field="job_id")
    if rows == meta["rows"] and dims == meta["n_components"]:
        return "layout"
    if rows == meta["rows"] and dims == meta["dims"]:
        return "rows"
    raise InvalidInput(f"job {job_id} clustered {rows} rows of {dims} columns; model "
                       f"{meta['model_id']} has a layout of {meta['rows']} x {meta['n_components']} "
                       f"and training rows of {meta['rows']} x {meta['dims']}: cluster one of them",
                       field="job_id")


def clustering_entry(folder: Path, job_id: str, params: dict[str, Any], space: str,
                     labels: np.ndarray, centers: np.ndarray | None) -> dict[str, Any]:
    """model.json's "clustering": which job, what it ran, and its fitted distance
    (measured here on the model's ``space``: HDBSCAN's per-cluster radii read it)."""
    from ..pipeline.place_labels import fitted_radius

    algorithm = str(params.get("algorithm", "dbscan"))
    points = np.load(folder / (EMBEDDING if space == "layout" else TRAIN), mmap_mode="r")
    n_clusters = int(centers.shape[0]) if centers is not None else int(np.unique(labels[labels >= 0]).size)
    return {"job_id": job_id, "algorithm": algorithm, "space": space, "params": params,
            "n_clusters": n_clusters, "radius": fitted_radius(algorithm, params, points, labels)}


@dataclass
class ModelRecord:
    id: str
    job_id: str | None
    owner: str | None
    meta: dict[str, Any]
    size_bytes: int
    created_at: float
    last_used_at: float

    def info(self, ttl: float) -> dict[str, Any]:
        """The ModelInfo body of the models endpoints."""
        m = self.meta
        return {"model_id": self.id, "job_id": self.job_id, "rows": m["rows"], "dims": m["dims"],
                "n_components": m["n_components"], "metric": m["metric"],
                "n_neighbors": m["n_neighbors"], "a": m["a"], "b": m["b"], "params": m["params"],
                "backend": m["backend"], "versions": m["versions"], "size_bytes": self.size_bytes,
                "created_at": self.created_at, "last_used_at": self.last_used_at,
                "expires_at": self.last_used_at + ttl, "clustering": m.get("clustering")}


class ModelStore:
    """Model records in the data folder's SQLite file and model folders beside the jobs.
    Methods do file I/O: the server calls them off the event loop (``asyncio.to_thread``),
    except :meth:`get` and :meth:`list`, which read memory only."""

    def __init__(self, data_dir: Path, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self.dir = Path(data_dir) / "models"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._db, self._lock = db, lock
        with self._lock:
            self._db.executescript(_SCHEMA)
        self.records: dict[str, ModelRecord] = {}
        self._load()

    def _load(self) -> None:
        with self._lock:
            rows = self._db.execute("SELECT id, job_id, owner, meta, size_bytes, created_at, "
                                    "last_used_at FROM models ORDER BY created_at").fetchall()
        for row in rows:
            record = ModelRecord(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6])
            if (self.path(record.id) / META).exists():
                self.records[record.id] = record
            else:
                log.warning("model %s: its folder is gone; the record is dropped", record.id)
                self._delete_record(record.id)
        known = set(self.records)
        for folder in self.dir.iterdir():  # a crash between moving the files and the record
            if folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)
                log.warning("removed %s: no model record names it", folder)

    def path(self, model_id: str) -> Path:
        return self.dir / model_id

    def get(self, model_id: str) -> ModelRecord | None:
        return self.records.get(model_id)

    def list(self) -> list[ModelRecord]:
        return sorted(self.records.values(), key=lambda r: (r.created_at, r.id))

    def adopt(self, model_id: str, staged: Path, owner: str | None, job_id: str | None,
              now: float | None = None) -> ModelRecord:
        """Move the model files a worker staged in ``staged`` into the model's folder and
        record it. The folder is complete before the record exists."""
        meta = json.loads((staged / STAGED[META]).read_text())
        meta["model_id"], meta["job_id"] = model_id, job_id
        target = self.path(model_id)
        tmp = self.dir / f".{model_id}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for final, name in STAGED.items():
            if final != META:
                os.replace(staged / name, tmp / final)
        for cache in staged.glob("model-index-*.pkl"):  # built as the fit ended
            os.replace(cache, tmp / cache.name.removeprefix("model-"))
        (tmp / META).write_text(json.dumps(meta))
        (staged / STAGED[META]).unlink(missing_ok=True)
        os.replace(tmp, target)
        now = time.time() if now is None else now
        record = ModelRecord(model_id, job_id, owner, meta, _folder_bytes(target), now, now)
        try:
            self._save(record)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        self.records[model_id] = record
        log.info("kept model %s (%d x %d, %d bytes)", model_id, meta["rows"], meta["dims"], record.size_bytes)
        return record

    def _save(self, record: ModelRecord) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO models (id, job_id, owner, meta, size_bytes, created_at, "
                "last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.job_id, record.owner, json.dumps(record.meta), record.size_bytes,
                 record.created_at, record.last_used_at))

    def touch(self, model_id: str, now: float | None = None) -> None:
        """A transform or refit used the model: its retention starts again; its size is
        measured again (the first transform adds the index cache)."""
        record = self.records.get(model_id)
        if record is None:
            return
        record.last_used_at = time.time() if now is None else now
        record.size_bytes = _folder_bytes(self.path(model_id))
        self._save(record)

    def attach_clustering(self, model_id: str, job_id: str, job_dir: Path, params: dict[str, Any],
                          space: str) -> ModelRecord:
        """Copy a completed cluster job's labels (and kmeans centres) from ``job_dir`` into
        the model's folder and record them in model.json and the record, replacing any
        clustering attached before. The arrays are in place before model.json names them."""
        record = self.records[model_id]
        folder = self.path(model_id)
        labels = np.load(job_dir / "labels.npy").astype(np.int32)
        centers = np.load(job_dir / "centers.npy") if params.get("algorithm") == "kmeans" else None
        entry = clustering_entry(folder, job_id, params, space, labels, centers)
        save_npy(folder / CLUSTER_LABELS, labels)
        if centers is not None:
            save_npy(folder / CLUSTER_CENTERS, np.ascontiguousarray(centers, dtype=np.float32))
        else:
            (folder / CLUSTER_CENTERS).unlink(missing_ok=True)
        self._write_meta(record, {**record.meta, "clustering": entry})
        log.info("model %s: clustering of job %s attached (%s, %s)", model_id, job_id, entry["algorithm"], space)
        return record

    def detach_clustering(self, model_id: str) -> ModelRecord:
        """Remove the model's clustering (model.json first: a transform reading it then
        finds no clustering, never a clustering without its arrays)."""
        record = self.records[model_id]
        self._write_meta(record, {k: v for k, v in record.meta.items() if k != "clustering"})
        for name in (CLUSTER_LABELS, CLUSTER_CENTERS):
            (self.path(model_id) / name).unlink(missing_ok=True)
        record.size_bytes = _folder_bytes(self.path(model_id))
        self._save(record)
        return record

    def _write_meta(self, record: ModelRecord, meta: dict[str, Any]) -> None:
        folder = self.path(record.id)
        tmp = folder / (META + ".tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, folder / META)
        record.meta = meta
        record.size_bytes = _folder_bytes(folder)
        self._save(record)

    def delete(self, model_id: str) -> None:
        self.records.pop(model_id, None)
        self._delete_record(model_id)
        shutil.rmtree(self.path(model_id), ignore_errors=True)

    def _delete_record(self, model_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM models WHERE id = ?", (model_id,))

    def total_bytes(self) -> int:
        return sum(r.size_bytes for r in self.records.values())


def _folder_bytes(folder: Path) -> int:
    if not folder.exists():
        return 0
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
