"""A full disk, for real: the data folder on a small tmpfs filled to the last byte.

Needs root (to mount the tmpfs); skipped elsewhere with the reason. Every request that
would store something is a 507 that keeps nothing, a pause of a queued job is refused
without changing it, and a job that cannot write its result fails saying so."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from streaming_umap.datasets import labelled_mixture

from .conftest import Service
from .helpers import npy_bytes, start_job, wait_for, wait_status

SIZE_MB = 64


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the disk-full paths are tested where it runs as root")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


class Filler:
    """Fills the file system of ``folder`` to the last byte, and frees it again."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "filler"

    def fill(self) -> None:
        with open(self.path, "ab", buffering=0) as fh:
            block = b"\0" * (1 << 20)
            for size in (1 << 20, 4096, 1):
                while True:
                    try:
                        fh.write(block[:size])
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC
                        break

    def free(self) -> None:
        self.path.unlink(missing_ok=True)


def _jobs_on_disk(svc: Service) -> set[str]:
    return {p.name for p in (svc.data_dir / "jobs").iterdir()}


def test_a_full_disk_is_a_507_that_keeps_nothing(tmpfs: Path, make_service: object) -> None:
    svc: Service = make_service(data_dir=tmpfs, out_dir=tmpfs.parent,  # type: ignore[operator]
                                STREAMING_UMAP_LOG_DIR=str(tmpfs.parent / "logs"),
                                GPU_UMAP_MAX_CONCURRENT_JOBS="1", STREAMING_UMAP_WARMUP="light")
    disk = Filler(tmpfs)
    data, _ = labelled_mixture(2500, 16, seed=1)
    with svc.client() as c:
        running = start_job(c, "umap", data, n_epochs=1500, random_state=1)  # holds the one worker
        wait_for(lambda: c.get(f"/umap/streaming/status/{running}").json()["stage"] == "layout", timeout=120)
        queued = start_job(c, "umap", data[:1200], n_epochs=30)
        before = _jobs_on_disk(svc)
        disk.fill()
        try:
            # pausing the queued job needs its record written: refused, and nothing changed
            r = c.post(f"/umap/streaming/pause/{queued}")
            assert r.status_code == 507 and "disk is full" in r.json()["detail"], r.text
            assert c.get(f"/umap/streaming/status/{queued}").json()["status"] == "pending"
            # uploads held in memory, in every format: 507, nothing kept
            rows = np.random.default_rng(2).normal(size=(1100, 8)).astype(np.float32)
            uploads = [
                ("application/x-npy", npy_bytes(rows)),
                ("application/json", json.dumps({"data": rows.tolist()}).encode()),
                ("text/csv", "\n".join(",".join(map(str, r)) for r in rows.tolist()).encode()),
            ]
            for media, body in uploads:
                r = c.post("/umap/streaming/umap", content=body, headers={"Content-Type": media})
                assert r.status_code == 507 and "disk is full" in r.json()["detail"], (media, r.text)
            assert _jobs_on_disk(svc) == before
            # the running job cannot write its result: it fails saying why, in words
            final = wait_status(c, running, timeout=300)
            assert final["status"] == "failed"
            assert final["error"].startswith("the server's disk is full: the result could not be stored")
            assert "Errno" not in final["error"] and str(tmpfs) not in final["error"]
        finally:
            disk.free()
        assert c.get("/health").status_code == 200
        paused = c.post(f"/umap/streaming/pause/{queued}")  # with room again, it works
        assert paused.status_code in (200, 409), paused.text  # 409: it started meanwhile and ended
