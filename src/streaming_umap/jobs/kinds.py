"""The job kinds, in one table: what each computes, what its result is on disk and as
JSON, and what it keeps stored.

Adding a kind means one entry here (and its parameter and request types in
:mod:`..schemas`, its stages in :mod:`..pipeline.eta`), not a branch in the worker, the
store, the routes and the job record. The server process uses the result half (files,
JSON bodies, sizes); workers use the compute half, whose backend imports stay inside
the functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .store import save_npy

Compute = Callable[[Any, np.ndarray, dict[str, Any], Any, Any], Any]


@dataclass(frozen=True)
class Kind:
    name: str
    result_file: str  # the main result array, in the job's folder
    compute: Compute  # (backend, data, params, checkpoint, RunOptions) -> UMAPOutput | ClusterOutput
    write: Callable[[Any, Path], dict[str, Any]]  # output -> files in the folder; the summary
    payload: Callable[[Any], dict[str, Any]]  # output -> an immediate answer's arrays
    body: Callable[[dict[str, Any]], dict[str, Any]]  # those arrays -> JSON fields
    load: Callable[[Path, dict[str, Any]], dict[str, Any]]  # stored result -> JSON fields
    result_bytes: Callable[[int, int, dict[str, Any], dict[str, Any]], int]  # rows, dims, params, summary


# ---------------------------------------------------------------- layouts (umap, transform)


def _umap(backend: Any, data: np.ndarray, params: dict[str, Any], cp: Any, options: Any) -> Any:
    from ..schemas import UMAPParams, params_from_dict

    typed = params_from_dict("umap", params)
    assert isinstance(typed, UMAPParams)
    if typed.init_from:
        return _refit(backend, data, typed, cp, options)
    return backend.umap(data, typed, cp, options)


def _refit(backend: Any, data: np.ndarray, params: Any, cp: Any, options: Any) -> Any:
    """A refit that starts from a kept model: its training rows (the data's first rows)
    at their old positions, the new rows where the model places them; the result is
    aligned back onto the model's coordinates, so old points stay where they were drawn."""
    from ..errors import InvalidInput
    from ..pipeline.refit import align_to, starting_layout
    from .model_store import load_layout_model

    if not options.model_dir:
        raise InvalidInput("init_from: the model's files were not given to the worker", field="init_from")
    model = load_layout_model(Path(options.model_dir))
    init, note = starting_layout(model, data, params, cp, backend, options)
    out = backend.umap(data, params, cp, replace(options, init=init, fit_sample_rows=0))
    out.embedding = align_to(out.embedding, model.embedding)
    out.warnings.append(note)
    return out


def _transform(backend: Any, data: np.ndarray, params: dict[str, Any], cp: Any, options: Any) -> Any:
    """Place the rows; label them too when the model has a clustering (read before
    placing: a clustering attached meanwhile applies to the next transform)."""
    from ..backends.base import PlacedOutput
    from ..errors import InvalidInput
    from ..pipeline.place_labels import label_points
    from .model_store import load_clustering, load_layout_model

    if not options.model_dir:
        raise InvalidInput("transform: the model's files were not given to the worker")
    model = load_layout_model(Path(options.model_dir))
    if data.shape[1] != model.dims:
        raise InvalidInput(f"the model was fitted on rows of {model.dims} columns; these have "
                           f"{data.shape[1]}", field="data")
    clustering = load_clustering(Path(options.model_dir))
    out = backend.transform(model, data, cp, options)
    placed = PlacedOutput(out.embedding, out.warnings, out.stage_seconds)
    if clustering is not None:
        placed.labels = label_points(clustering, out.embedding if clustering.space == "layout" else data)
        placed.n_clusters = clustering.n_clusters
    return placed


def _write_embedding(out: Any, folder: Path) -> dict[str, Any]:
    save_npy(folder / "embedding.npy", out.embedding)
    return {"n_components": int(out.embedding.shape[1])}


def _embedding_payload(out: Any) -> dict[str, Any]:
    return {"embedding": out.embedding}


def _embedding_body(payload: dict[str, Any]) -> dict[str, Any]:
    return {"embeddings": payload["embedding"].tolist()}


def _load_embedding(folder: Path, summary: dict[str, Any]) -> dict[str, Any]:
    return {"embeddings": np.load(folder / "embedding.npy").tolist()}


def _embedding_bytes(rows: int, dims: int, params: dict[str, Any], summary: dict[str, Any]) -> int:
    return rows * int(summary.get("n_components") or params.get("n_components") or 2) * 4


def _write_placed(out: Any, folder: Path) -> dict[str, Any]:
    summary = _write_embedding(out, folder)
    if out.labels is not None:
        save_npy(folder / "labels.npy", out.labels.astype(np.int32))
        summary["n_clusters"] = out.n_clusters
    return summary


def _placed_payload(out: Any) -> dict[str, Any]:
    return {"embedding": out.embedding, "labels": out.labels, "n_clusters": out.n_clusters}


def _placed_body(payload: dict[str, Any]) -> dict[str, Any]:
    """The positions; with a clustering attached to the model, their labels too."""
    body = _embedding_body(payload)
    if payload.get("labels") is not None:
        body.update(labels=payload["labels"].tolist(), n_clusters=payload["n_clusters"])
    return body


def _load_placed(folder: Path, summary: dict[str, Any]) -> dict[str, Any]:
    body = _load_embedding(folder, summary)
    labels = folder / "labels.npy"
    if labels.exists():
        body.update(labels=np.load(labels).tolist(), n_clusters=summary.get("n_clusters"))
    return body


def _placed_bytes(rows: int, dims: int, params: dict[str, Any], summary: dict[str, Any]) -> int:
    labelled = rows * 4 if summary.get("n_clusters") is not None else 0
    return _embedding_bytes(rows, dims, params, summary) + labelled


# ---------------------------------------------------------------- clustering


def _cluster(backend: Any, data: np.ndarray, params: dict[str, Any], cp: Any, options: Any) -> Any:
    from ..schemas import params_from_dict

    return backend.cluster(data, params_from_dict("cluster", params), cp, options)


def _write_labels(out: Any, folder: Path) -> dict[str, Any]:
    save_npy(folder / "labels.npy", out.labels.astype(np.int32))
    if out.centers is not None:
        save_npy(folder / "centers.npy", out.centers.astype(np.float32))
    return {"n_clusters": out.n_clusters, "noise_points": out.noise_points,
            "has_centers": out.centers is not None}


def _labels_payload(out: Any) -> dict[str, Any]:
    return {"labels": out.labels, "n_clusters": out.n_clusters, "noise_points": out.noise_points,
            "centers": out.centers}


def _labels_body(payload: dict[str, Any]) -> dict[str, Any]:
    centers = payload.get("centers")
    return {"labels": payload["labels"].tolist(), "n_clusters": payload["n_clusters"],
            "noise_points": payload["noise_points"],
            "centers": None if centers is None else centers.tolist()}


def _load_labels(folder: Path, summary: dict[str, Any]) -> dict[str, Any]:
    centers = folder / "centers.npy"
    return {"labels": np.load(folder / "labels.npy").tolist(),
            "n_clusters": summary.get("n_clusters"), "noise_points": summary.get("noise_points"),
            "centers": np.load(centers).tolist() if centers.exists() else None}


def _labels_bytes(rows: int, dims: int, params: dict[str, Any], summary: dict[str, Any]) -> int:
    centers = int(summary.get("n_clusters") or 0) * dims * 4
    return rows * 4 + (centers if params.get("algorithm") == "kmeans" else 0)


KINDS: dict[str, Kind] = {
    "umap": Kind("umap", "embedding.npy", _umap, _write_embedding, _embedding_payload,
                 _embedding_body, _load_embedding, _embedding_bytes),
    "cluster": Kind("cluster", "labels.npy", _cluster, _write_labels, _labels_payload,
                    _labels_body, _load_labels, _labels_bytes),
    "transform": Kind("transform", "embedding.npy", _transform, _write_placed, _placed_payload,
                      _placed_body, _load_placed, _placed_bytes),
}


def kind_of(name: str) -> Kind:
    return KINDS[name]
