"""Telling CUDA out-of-memory from other CUDA errors (pure Python, no CUDA imports).

Errors reach Python in several shapes: RMM raises ``MemoryError`` ("std::bad_alloc:
out_of_memory: RMM failure ... Maximum pool size exceeded"), cuML/RAFT turn C++
exceptions into ``RuntimeError`` ("CUDA error encountered at: ... cudaErrorIllegalAddress"),
CuPy raises ``OutOfMemoryError`` or ``CUDARuntimeError``. Out-of-memory leaves the
CUDA context usable (the job fails, the worker stays); any other CUDA error may be
sticky (the worker must be replaced). A NumPy ``MemoryError`` ("Unable to allocate
...") is host memory and stays what it is.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["oom", "fault"]

_OOM_MARKERS = (
    "out_of_memory",
    "out of memory",
    "cudaerrormemoryallocation",
    "cuda_error_out_of_memory",
    "maximum pool size exceeded",
    "std::bad_alloc",
    "status_alloc_failed",  # cuBLAS / cuSOLVER / cuSPARSE workspace allocation
)
_FAULT_MARKERS = (
    "cuda error",
    "cudaerror",
    "cuda_error",
    "illegal memory access",
    "illegal instruction",
    "unspecified launch failure",
    "misaligned address",
    "device-side assert",
    "launch timed out",
    "cublas_status",
    "cusolver_status",
    "cusparse_status",
    "curand_status",
    "nccl error",
)
_CUDA_ERROR_TYPES = frozenset({
    "CUDARuntimeError", "CUDADriverError", "CUBLASError", "CUSOLVERError",
    "CUSPARSEError", "CURANDError", "CUFFTError", "CUDARTError",
})
_HOST_MEMORY_MARKERS = ("unable to allocate",)


def classify(exc: BaseException) -> Kind | None:
    """``"oom"`` for device out-of-memory, ``"fault"`` for any other CUDA error, else None."""
    name = type(exc).__name__
    text = f"{name}: {exc}".lower()
    if isinstance(exc, MemoryError) or name == "OutOfMemoryError":
        if any(marker in text for marker in _HOST_MEMORY_MARKERS):
            return None
        return "oom"
    if any(marker in text for marker in _OOM_MARKERS):
        return "oom"
    if name in _CUDA_ERROR_TYPES or any(marker in text for marker in _FAULT_MARKERS):
        return "fault"
    return None


def summary(exc: BaseException, limit: int = 400) -> str:
    """The first line of an error, short enough for a job's ``error`` field."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first if len(first) <= limit else first[: limit - 3] + "..."
