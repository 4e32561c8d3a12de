"""The GPU side of one worker process: memory resource, allocator, device facts.

Import this module only in a GPU worker: it imports rmm and cupy at call time, and
:meth:`DeviceRuntime.start` must run before anything allocates device memory.

Memory resource (one per worker process, wrapped in RMM's statistics adaptor so that
``/health`` and the logs can show what is in use and each job's peak):

* ``pool_bytes`` given (``GPU_UMAP_RMM_POOL_SIZE``, MiB): a fixed RMM pool of that
  size (initial = maximum). A job that needs more fails with DeviceOutOfMemory; the
  worker stays usable. Predictable, but N workers hold N pools all the time.
* default: RMM's ``CudaAsyncMemoryResource``, a stream-ordered pool kept by the
  driver, that grows on demand and gives memory above ``RELEASE_THRESHOLD`` back at
  the next synchronisation. Several workers share one device without holding on to
  a big job's peak, which a growable ``PoolMemoryResource`` never returns. Should the
  driver lack memory pools, a growable RMM pool starting at 1 GiB is used instead.

CuPy's allocator is bound to RMM, so CuPy arrays, cuML and cuVS all draw from it.
"""

from __future__ import annotations

import gc
import logging
import os
import warnings
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MiB = 1 << 20
GiB = 1 << 30
RELEASE_THRESHOLD = 1 * GiB
FALLBACK_POOL = 1 * GiB


def _round_down(value: int, step: int = 256) -> int:
    return max(step, value - value % step)


def quiet_import_cuml() -> Any:
    """``import cuml`` with its import-time warnings silenced (pytest turns warnings
    into errors; cuML and its dependencies emit a few deprecations on import)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import cuml

    return cuml


@dataclass
class DeviceRuntime:
    resource: Any  # rmm StatisticsResourceAdaptor over the base resource
    base: Any
    kind: str  # "pool" | "async"
    pool_limit: int | None
    device_id: int
    device_name: str
    total_memory: int

    @classmethod
    def start(cls, pool_bytes: int | None) -> DeviceRuntime:
        """Create this process's memory resource and bind CuPy to it."""
        import cupy
        import rmm
        from rmm.allocators.cupy import rmm_cupy_allocator

        device_id = int(cupy.cuda.runtime.getDevice())
        free, total = cupy.cuda.runtime.memGetInfo()
        base, kind, limit = cls._base_resource(rmm, pool_bytes, int(free))
        resource = rmm.mr.StatisticsResourceAdaptor(base)
        rmm.mr.set_current_device_resource(resource)
        cupy.cuda.set_allocator(rmm_cupy_allocator)
        props = cupy.cuda.runtime.getDeviceProperties(device_id)
        name = props["name"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        runtime = cls(resource, base, kind, limit, device_id, name, int(total))
        log.info("GPU %s (%d): %s memory resource%s, %.1f of %.1f GiB free", name, device_id,
                 kind, f" of {limit / GiB:.2f} GiB" if limit else "", free / GiB, total / GiB)
        return runtime

    @staticmethod
    def _base_resource(rmm: Any, pool_bytes: int | None, free: int) -> tuple[Any, str, int | None]:
        if pool_bytes:
            size = _round_down(int(pool_bytes))
            if size > free * 0.95:
                clamped = _round_down(int(free * 0.9))
                log.warning("GPU_UMAP_RMM_POOL_SIZE asks for %.2f GiB but only %.2f GiB is free; "
                            "using a pool of %.2f GiB", size / GiB, free / GiB, clamped / GiB)
                size = clamped
            pool = rmm.mr.PoolMemoryResource(
                rmm.mr.CudaMemoryResource(), initial_pool_size=size, maximum_pool_size=size
            )
            return pool, "pool", size
        try:
            return rmm.mr.CudaAsyncMemoryResource(release_threshold=RELEASE_THRESHOLD), "async", None
        except Exception as exc:  # no driver memory pools: a growable RMM pool instead
            log.warning("cudaMallocAsync pools unavailable (%s); using a growable RMM pool", exc)
            initial = _round_down(min(FALLBACK_POOL, int(free * 0.5)))
            return rmm.mr.PoolMemoryResource(rmm.mr.CudaMemoryResource(), initial_pool_size=initial), "pool", None

    # ------------------------------------------------------------------ figures

    def memory(self) -> tuple[int, int]:
        """(free, total) device memory in bytes, as the driver sees it."""
        import cupy

        free, total = cupy.cuda.runtime.memGetInfo()
        return int(free), int(total)

    def used_bytes(self) -> int:
        return int(self.resource.allocation_counts.current_bytes)

    def pool_size(self) -> int | None:
        if self.kind == "pool":
            try:
                return int(self.base.pool_size())
            except Exception:
                return self.pool_limit
        return None

    def job_budget(self) -> int:
        """Bytes one job may still allocate now (for choosing NN-descent batching)."""
        free, _ = self.memory()
        if self.pool_limit is not None:
            return max(0, self.pool_limit - self.used_bytes())
        return int(free * 0.9)

    def info(self) -> dict[str, Any]:
        free, total = self.memory()
        cuml = quiet_import_cuml()
        return {
            "name": self.device_name,
            "device_id": self.device_id,
            "total_memory": total,
            "free_memory": free,
            "rmm_resource": self.kind,
            "rmm_pool_size": self.pool_size(),
            "rmm_pool_limit": self.pool_limit,
            "rmm_pool_used": self.used_bytes(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "cuml_version": str(getattr(cuml, "__version__", "unknown")),
        }

    # ------------------------------------------------------------------ per job

    def begin_job(self) -> None:
        self.resource.push_counters()

    def end_job(self) -> int:
        """Close the job's statistics scope; return its peak allocated bytes."""
        try:
            return int(self.resource.pop_counters().peak_bytes)
        except Exception:  # a scope that was never opened
            return 0

    def release(self) -> None:
        """After a failed job: drop unreachable device arrays and let the pool trim."""
        import cupy

        gc.collect()
        try:
            cupy.cuda.runtime.deviceSynchronize()
        except Exception as exc:  # a sticky error: the caller reports DeviceFault anyway
            log.warning("device synchronisation after a failed job: %s", exc)

    def __repr__(self) -> str:
        return (f"DeviceRuntime({self.device_name!r}, {self.kind}, "
                f"used={self.used_bytes() / GiB:.2f} GiB)")
