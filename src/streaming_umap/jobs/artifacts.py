"""Where job inputs and results live when the workers are on other machines.

The local executor's workers read and write the job's folder directly. Workers of a
Dask cluster may share no disk with the server: ``STREAMING_UMAP_ARTIFACTS`` names a
place both can reach, as an fsspec URL (``file:///shared/streaming-umap``,
``s3://bucket/prefix``, ...). The server puts a job's input there before the task
starts and fetches the results back into the job's folder when it reports done; a
worker downloads the input into a scratch folder, computes, and uploads what it wrote.
Unset, the data folder itself is used (workers on the same machine, or a shared mount
at the same path). Large data never travels through the Dask scheduler.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import protocol as msg

INPUT = "input.npy"


class Artifacts:
    """The data folder itself, shared by server and workers (no copies)."""

    url = ""

    # server side
    def put_input(self, job_id: str, local: Path) -> str:
        return str(local)

    def output_ref(self, job_id: str, local_dir: Path) -> str:
        return str(local_dir)

    def fetch_results(self, ref: str, local_dir: Path) -> None:
        """Bring the results at ``ref`` into ``local_dir`` (nothing to do here)."""

    def put_array(self, array: np.ndarray, folder: Path) -> str:
        path = folder / f"immediate-{uuid.uuid4().hex}.npy"
        np.save(path, array)
        return str(path)

    def remove(self, job_id: str) -> None:
        """Forget what this store holds for the job (the job's folder is the server's)."""

    # worker side
    @contextlib.contextmanager
    def working_copy(self, run: msg.RunJob) -> Iterator[msg.RunJob]:
        yield run

    def put_file(self, local: Path, ref_dir: str) -> str:
        """Make a file the worker wrote visible to other workers; its reference."""
        return str(local)

    @contextlib.contextmanager
    def open_npz(self, ref: str) -> Iterator[Any]:
        """An ``.npz`` another worker stored."""
        with np.load(ref) as saved:
            yield saved

    def publish_results(self, local: msg.RunJob, run: msg.RunJob) -> None:
        """Make what the job wrote into ``local.output_dir`` visible at ``run.output_dir``."""

    def take_array(self, ref: str) -> np.ndarray:
        array: np.ndarray = np.load(ref)
        os.unlink(ref)
        return array

    def __repr__(self) -> str:
        return "Artifacts(the data folder)"


class FsspecArtifacts(Artifacts):
    """Inputs and results under an fsspec URL, copied to and from local folders."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url)

    def _job(self, job_id: str) -> str:
        return f"{self.root}/jobs/{job_id}"

    def put_input(self, job_id: str, local: Path) -> str:
        remote = f"{self._job(job_id)}/{INPUT}"
        self.fs.makedirs(self._job(job_id), exist_ok=True)
        self.fs.put_file(str(local), remote)
        return remote

    def output_ref(self, job_id: str, local_dir: Path) -> str:
        return self._job(job_id)

    def fetch_results(self, ref: str, local_dir: Path) -> None:
        for remote in self.fs.ls(ref, detail=False):
            name = Path(remote).name
            if name == INPUT or not name.endswith(".npy"):
                continue  # the input, and the workers' own files (a sample-fit's model)
            partial = local_dir / f".{name}.part"
            self.fs.get_file(remote, str(partial))
            os.replace(partial, local_dir / name)

    def put_array(self, array: np.ndarray, folder: Path) -> str:
        remote = f"{self.root}/immediate/{uuid.uuid4().hex}.npy"
        self.fs.makedirs(f"{self.root}/immediate", exist_ok=True)
        with self.fs.open(remote, "wb") as handle:
            np.save(handle, array)
        return remote

    def remove(self, job_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._job(job_id), recursive=True)

    @contextlib.contextmanager
    def working_copy(self, run: msg.RunJob) -> Iterator[msg.RunJob]:
        scratch = Path(tempfile.mkdtemp(prefix=f"streaming-umap-{run.job_id}-"))
        try:
            local_input = scratch / INPUT
            self.fs.get_file(run.input_path, str(local_input))
            yield dataclasses.replace(run, input_path=str(local_input), output_dir=str(scratch))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def put_file(self, local: Path, ref_dir: str) -> str:
        remote = f"{ref_dir}/{local.name}"
        self.fs.put_file(str(local), remote)
        return remote

    @contextlib.contextmanager
    def open_npz(self, ref: str) -> Iterator[Any]:
        with self.fs.open(ref, "rb") as handle, np.load(handle) as saved:
            yield saved

    def publish_results(self, local: msg.RunJob, run: msg.RunJob) -> None:
        for path in Path(local.output_dir).iterdir():
            if path.name != INPUT and path.suffix == ".npy":
                self.fs.put_file(str(path), f"{run.output_dir}/{path.name}")

    def take_array(self, ref: str) -> np.ndarray:
        with self.fs.open(ref, "rb") as handle:
            array: np.ndarray = np.load(handle)
        self.fs.rm(ref)
        return array

    def __repr__(self) -> str:
        return f"FsspecArtifacts({self.url!r})"


def open_artifacts(url: str | None) -> Artifacts:
    return FsspecArtifacts(url) if url else Artifacts()
