"""What every figure shares: the server, the baseline, the samplers, the data, the
clock, and the side-by-side measurement (service vs bare library on the same data)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import labelled_mixture
from .baseline import BaselineProcess
from .budget import Budget
from .jobs import JobRun, ServiceClient, logged_stage_seconds
from .profiles import Profile
from .sampling import HealthProbe, MemorySampler
from .server import BenchServer

log = logging.getLogger(__name__)

DATA_CACHE = 3  # data sets kept in memory (100k x 512 float32 is 200 MB)


@dataclass
class Dataset:
    name: str
    data: np.ndarray
    labels: np.ndarray
    path: Path  # the same array as .npy, for the baseline process


@dataclass
class Context:
    profile: Profile
    server: BenchServer
    client: ServiceClient
    baseline: BaselineProcess
    memory: MemorySampler
    health: HealthProbe
    work_dir: Path
    budget: Budget
    library: str  # the baseline library: umap-learn or cuml
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # figure -> figures
    runs: list[JobRun] = field(default_factory=list)  # every completed UMAP job, for ETA
    _data: OrderedDict[tuple[str, int, int], Dataset] = field(default_factory=OrderedDict)

    # ------------------------------------------------------------------------ data

    def mixture(self, rows: int, dims: int) -> Dataset:
        key = ("mixture", rows, dims)
        if key not in self._data:
            data, labels = labelled_mixture(rows, dims, seed=0)
            self._remember(key, Dataset(f"mixture-{rows}x{dims}", data, labels,
                                        self._save(f"mixture-{rows}x{dims}", data)))
        self._data.move_to_end(key)
        return self._data[key]

    def digits(self) -> Dataset:
        from ..datasets import digits

        key = ("digits", 0, 0)
        if key not in self._data:
            data, labels = digits()
            self._remember(key, Dataset("digits", data, labels, self._save("digits", data)))
        return self._data[key]

    def _save(self, name: str, data: np.ndarray) -> Path:
        path = self.work_dir / f"{name}.npy"
        np.save(path, data)
        return path

    def _remember(self, key: tuple[str, int, int], dataset: Dataset) -> None:
        self._data[key] = dataset
        while len(self._data) > DATA_CACHE:
            _, old = self._data.popitem(last=False)
            old.path.unlink(missing_ok=True)

    # ----------------------------------------------------------- side by side

    def side_by_side(self, dataset: Dataset, params: dict[str, Any]) -> tuple[dict[str, Any], JobRun,
                                                                               np.ndarray]:
        """The bare library, then the service, on the same array with the same
        parameters. Returns the figures, the service run and the library's layout."""
        rows = int(dataset.data.shape[0])
        with self.memory.window() as lib_mem:
            reference, lib_s = self.baseline.fit(dataset.path, params)
        with self.memory.window() as svc_mem:
            run = self.client.run("umap", dataset.data, params)
        if run.status != "completed":
            raise RuntimeError(f"the service's job on {dataset.name} ended {run.status}: "
                               f"{run.error}")
        self.runs.append(run)
        self.budget.record(rows, run.end_to_end_s, lib_s)
        figures = {
            "rows": rows,
            "dims": int(dataset.data.shape[1]),
            "service_s": round(run.end_to_end_s, 3),
            "library_s": round(lib_s, 3),
            "ratio": round(run.end_to_end_s / lib_s, 3),
            "memory": {"server": svc_mem.summary("server"), "worker": svc_mem.summary("worker"),
                       "library": lib_mem.summary("baseline")},
            "memory_ratio": _ratio(svc_mem.growth_mib("worker"), lib_mem.growth_mib("baseline")),
            "job": run.summary(),
            "logged_stage_seconds": logged_stage_seconds(self.server.log_file, run.job_id),
            "library_stage_seconds": dict(self.baseline.last_stages),
        }
        assert run.result is not None
        return figures, run, reference


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return round(a / b, 3)
