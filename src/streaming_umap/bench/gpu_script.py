"""On a GPU machine, the GPU benchmark script of a checkout
(``benchmarks/bench_gpu.py``: bare cuML vs the service, immediate requests,
clustering, cancel) runs after the suite, into the same results folder, and the
suite's results point to what it wrote. The suite's own figures already use bare
``cuml.UMAP`` as their baseline there (``--library auto``)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def find_script() -> Path | None:
    path = Path.cwd() / "benchmarks" / "bench_gpu.py"
    return path if path.is_file() else None


def run_script(script: Path, out: Path, budget_s: float) -> dict[str, Any]:
    """Run it with ``--out out --budget budget_s``; what it wrote, and its exit code."""
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(script), "--out", str(out), "--budget", f"{budget_s:.0f}"]
    log.info("running %s", " ".join(command))
    try:
        done = subprocess.run(command, timeout=budget_s * 2 + 600, check=False)
        rc: int | None = done.returncode
    except subprocess.TimeoutExpired:
        rc = None
    return {"script": script.name, "rc": rc, "out": out.name,
            "files": sorted(p.name for p in out.iterdir() if p.is_file())}
