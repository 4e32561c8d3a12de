"""``streaming-umap run``: a file in, a layout (and labels) out, with a progress bar.

Ctrl-C cancels the job on the server, waits briefly for it to stop, then re-raises
as :class:`Interrupted` so the caller exits 130.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ENV_URL = "STREAMING_UMAP_URL"
CANCEL_WAIT = 30.0


class UsageError(Exception):
    """Bad arguments or an unreadable input file (exit 2)."""


class Interrupted(Exception):
    """Ctrl-C during a run; ``job_id`` was cancelled (``final`` is what it ended as)."""

    def __init__(self, job_id: str | None, final: str | None) -> None:
        what = f"; job {job_id} {final or 'cancel requested'}" if job_id else ""
        super().__init__(f"interrupted{what}")
        self.job_id, self.final = job_id, final


def note(message: str) -> None:
    sys.stderr.write(f"streaming-umap: {message}\n")
    sys.stderr.flush()


def check_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"the server URL must start with http:// or https://, found {url!r}")
    return url


def _csv_header_lines(path: Path) -> int:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        first = handle.readline()
    try:
        [float(cell) for cell in first.strip().split(",") if cell.strip()]
    except ValueError:
        return 1
    return 0


def load_input(path: Path) -> np.ndarray:
    """A 2-D array from ``.npy`` (memory-mapped) or ``.csv`` (one optional header line)."""
    if not path.is_file():
        raise UsageError(f"input file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            data = np.load(path, mmap_mode="r", allow_pickle=False)
        elif suffix == ".csv":
            data = np.loadtxt(path, delimiter=",", skiprows=_csv_header_lines(path), ndmin=2,
                              dtype=np.float32)
        else:
            raise UsageError(f"input must be a .npy or .csv file, found {path.name!r}")
    except (ValueError, OSError) as exc:
        raise UsageError(f"cannot read {str(path)!r}: {exc}") from None
    if data.ndim != 2:
        raise UsageError(f"{str(path)!r} holds an array of shape {data.shape}; expected rows x columns")
    return np.asarray(data)


def beside(out: Path, suffix: str) -> Path:
    """``emb.npy`` -> ``emb{suffix}``: what else a run writes sits next to the layout."""
    stem = out.name[:-4] if out.name.lower().endswith(".npy") else out.name
    return out.with_name(stem + suffix)


def labels_path(out: Path) -> Path:
    """``emb.npy`` -> ``emb.labels.npy``."""
    return beside(out, ".labels.npy")


def model_path(out: Path) -> Path:
    """``emb.npy`` -> ``emb.model_id``: the id of the model ``--keep-model`` kept."""
    return beside(out, ".model_id")


def save(path: Path, array: np.ndarray) -> None:
    with path.open("wb") as handle:  # exactly this name: np.save(str) would append .npy
        np.save(handle, array, allow_pickle=False)


def follow(job: Any, progress: bool) -> Any:
    """The job's result; on Ctrl-C, cancel it on the server and raise Interrupted."""
    from ..client import Conflict, JobError, StreamingUMAPClientError, WaitTimeout

    try:
        return job.result(progress=progress)
    except KeyboardInterrupt:
        if job.immediate:
            raise Interrupted(None, None) from None
        note(f"interrupted: cancelling job {job.job_id} ...")
        final: str | None = None
        try:
            try:
                job.cancel()
            except Conflict:  # it ended meanwhile; wait() tells how
                pass
            final = job.wait(timeout=CANCEL_WAIT).status
        except JobError as exc:
            final = getattr(exc.frame, "status", None) or "cancelled"
        except (WaitTimeout, StreamingUMAPClientError, KeyboardInterrupt) as exc:
            log.debug("while cancelling: %r", exc)
        raise Interrupted(job.job_id, final) from None


def _umap_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"metric": args.metric, "n_neighbors": args.n_neighbors, "min_dist": args.min_dist,
            "n_components": args.n_components, "random_state": args.seed,
            "n_epochs": args.n_epochs}


def _model_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--keep-model`` and ``--init-from``, as the server takes them (unset: left out)."""
    from .models import model_arg

    return {"keep_model": True if args.keep_model else None,
            "init_from": None if args.init_from is None else model_arg(args.init_from)}


def _keep(job: Any, out: Path) -> Path:
    """Write the id of the model the job kept next to the layout."""
    from ..client import StreamingUMAPClientError

    model = job.model_id
    if model is None:
        raise StreamingUMAPClientError(f"job {job.job_id} completed but the server names no "
                                       "model_id for it (keep_model=true was sent)")
    model_path(out).write_text(model + "\n", encoding="utf-8")
    note(f"kept model {model} (its id is in {model_path(out)}); place new rows into it with "
         f"`streaming-umap transform {model_path(out)} NEW.npy --out PLACED.npy`")
    return model_path(out)


def _cluster_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"algorithm": args.cluster, "n_clusters": args.n_clusters, "eps": args.eps,
            "min_samples": args.min_samples, "min_cluster_size": args.min_cluster_size,
            "random_state": args.seed}


def _describe(job: Any, what: str, data: np.ndarray, url: str) -> None:
    rows, dims = data.shape
    if job.immediate:
        note(f"{what} of {rows} x {dims} answered immediately by {url}")
    else:
        note(f"job {job.job_id} queued: {what} of {rows} x {dims} on {url}")
    if job.warning:
        note(f"warning from the server: {job.warning}")


def run_on(url: str, data: np.ndarray, args: argparse.Namespace) -> int:
    from ..client import Client

    out = Path(args.out)
    progress = not args.quiet
    with Client(url, api_key=getattr(args, "api_key", None)) as client:
        job = client.submit_umap(data, **_umap_options(args), **_model_options(args))
        _describe(job, "umap", data, url)
        embedding = follow(job, progress)
        save(out, embedding)
        written = [out]
        if args.keep_model:
            written.append(_keep(job, out))
        if args.cluster:
            job = client.submit_cluster(embedding, **_cluster_options(args))
            _describe(job, f"{args.cluster} clustering of the layout", embedding, url)
            clusters = follow(job, progress)
            save(labels_path(out), clusters.labels)
            written.append(labels_path(out))
            noise = "" if clusters.noise_points is None else f", {clusters.noise_points} noise points"
            note(f"{clusters.n_clusters} clusters{noise}")
    for path in written:
        sys.stdout.write(f"{path}\n")
    return 0


def command(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not out.parent.is_dir():
        raise UsageError(f"the output folder {str(out.parent)!r} does not exist")
    server = args.server or os.environ.get(ENV_URL)
    if not server and (args.keep_model or args.init_from):
        raise UsageError("--keep-model and --init-from need a server (--server URL or "
                         f"${ENV_URL}): models are kept by the service")
    data = load_input(Path(args.input))
    if server:
        return run_on(check_url(server), data, args)
    from .here import run_here

    return run_here(data, args, _umap_options(args), _cluster_options(args))
