"""Parent side of the bare-library baseline process (see :mod:`._baseline`)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class BaselineProcess:
    """A warm process running ``UMAP(**params).fit_transform`` of the bare library.

    The same ``NUMBA_CACHE_DIR`` as the service's workers is used, so both sides start
    from the same compiled cache.
    """

    def __init__(self, library: str, work_dir: Path, env: dict[str, str] | None = None) -> None:
        self.library = library
        self.work_dir = work_dir
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env["PYTHONUNBUFFERED"] = "1"
        with open(work_dir / "baseline.err", "ab") as err:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streaming_umap.bench._baseline", library],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                env=full_env, text=True, start_new_session=True,
            )
        self.warm_seconds: float | None = None
        self.last_stages: dict[str, float] = {}
        self._pending_warm = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _send(self, request: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()

    def _answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.library} baseline process exited "
                               f"(code {self.proc.poll()}); see {self.work_dir / 'baseline.err'}")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise RuntimeError(f"the {self.library} baseline failed: {answer.get('error')}")
        return answer

    def start_warm(self, metrics: list[str], sizes: list[int], dims: int) -> None:
        """Begin warming (numba compiles) without waiting: the server warms meanwhile."""
        self._send({"op": "warm", "metrics": metrics, "sizes": sizes, "dims": dims})
        self._pending_warm = True

    def wait_warm(self) -> float:
        if self._pending_warm:
            self.warm_seconds = float(self._answer()["seconds"])
            self._pending_warm = False
        return self.warm_seconds or 0.0

    def fit(self, data_path: Path, params: dict[str, Any]) -> tuple[np.ndarray, float]:
        """Embedding and the seconds ``fit_transform`` took (the load is not timed);
        :attr:`last_stages` then holds the fit's seconds per stage, where known."""
        self.wait_warm()
        out = self.work_dir / f"baseline-{data_path.stem}.npy"
        self._send({"op": "fit", "path": str(data_path), "out": str(out), "params": params})
        answer = self._answer()
        self.last_stages = {str(k): float(v) for k, v in answer.get("stages", {}).items()}
        embedding = np.load(out)
        out.unlink()
        return embedding, float(answer["seconds"])

    def close(self) -> None:
        """Ask the process to quit; kill it if it is busy (e.g. still warming)."""
        if self.proc.poll() is None:
            try:
                self._send({"op": "quit"})
                self.proc.wait(0 if self._pending_warm else 10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()

    def __repr__(self) -> str:
        return f"BaselineProcess(library={self.library!r}, pid={self.pid}, warm={self.warm_seconds})"
