"""The client installed alone, as `pip install "streaming-umap[client]"` does it: a fresh
venv with exactly requirements/client.txt (hash-checked) and this checkout's wheel
without dependencies. It must hold nothing of the server side, and still run jobs
against a real server, from Python and from the command line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROOT, Service

SERVER_MODULES = ("uvicorn", "starlette", "msgspec", "umap", "pynndescent", "numba", "sklearn",
                  "scipy", "psutil")
# Runs inside the client-only venv: imports, then one background job, one immediate job and
# one clustering through the public client, over the WebSocket.
SCRIPT = """
import importlib.util, json, sys
import numpy as np
from streaming_umap.client import Client

url, modules = sys.argv[1], sys.argv[2].split(",")
rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(c, 0.3, size=(400, 8)) for c in (0, 5, 10)]).astype("f4")
with Client(url) as client:
    job = client.submit_umap(X, n_neighbors=10, random_state=1)
    sources = {frame.source for frame in job.frames()}
    emb = job.result()
    small = client.umap(X[:50], progress=False)
    km = client.cluster(emb, algorithm="kmeans", n_clusters=3, progress=False)
print(json.dumps({
    "server_modules_found": [m for m in modules if importlib.util.find_spec(m) is not None],
    "job_id": job.job_id, "sources": sorted(sources), "embedding": list(emb.shape),
    "immediate": list(small.shape), "clusters": km.n_clusters,
    "sizes": sorted(np.bincount(km.labels).tolist()),
}))
"""


def _installed(python: Path) -> set[str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], check=True,
                         capture_output=True, text=True).stdout
    return {re.sub(r"[-_.]+", "-", p["name"]).lower() for p in json.loads(out)}


def _locked(lock: Path) -> set[str]:
    """The packages the lock installs on this machine (markers evaluated)."""
    from packaging.markers import Marker

    names = set()
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==\S+(?:\s*;\s*([^\\]+))?", line)
        if match and (match[2] is None or Marker(match[2].strip()).evaluate()):
            names.add(re.sub(r"[-_.]+", "-", match[1]).lower())
    return names


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv with only the client: the lock, then our wheel with --no-deps."""
    work = tmp_path_factory.mktemp("client-only")
    source = work / "source"  # a copy, so that building leaves nothing in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(work / "wheels"), str(source)], check=True)
    wheel = next((work / "wheels").glob("streaming_umap-*.whl"))
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "--require-hashes", "-r", str(ROOT / "requirements" / "client.txt")], check=True)
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True)
    yield env_dir


def test_the_client_venv_holds_the_client_lock_and_nothing_else(client_venv: Path) -> None:
    installed = _installed(client_venv / "bin" / "python") - {"pip", "setuptools", "wheel"}
    assert installed == _locked(ROOT / "requirements" / "client.txt") | {"streaming-umap"}
    assert not installed & {"numba", "umap-learn", "scipy", "scikit-learn", "uvicorn", "starlette"}


def test_the_client_alone_runs_jobs_against_a_real_server(client_venv: Path, service: Service) -> None:
    done = subprocess.run([str(client_venv / "bin" / "python"), "-c", SCRIPT, service.url,
                           ",".join(SERVER_MODULES)],
                          capture_output=True, text=True, timeout=300, cwd=client_venv)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["server_modules_found"] == []
    assert out["job_id"] != "immediate" and out["sources"] == ["websocket"]
    assert out["embedding"] == [1200, 2] and out["immediate"] == [50, 2]
    assert out["clusters"] == 3 and out["sizes"] == [400, 400, 400]


def test_the_command_line_alone_lists_jobs_and_names_the_server_extra(
        client_venv: Path, service: Service) -> None:
    cli = client_venv / "bin" / "streaming-umap"
    env = {k: v for k, v in os.environ.items() if k != "STREAMING_UMAP_URL"}
    listed = subprocess.run([str(cli), "jobs", "--all", "--json", "--server", service.url],
                            capture_output=True, text=True, timeout=60, env=env)
    assert listed.returncode == 0, listed.stderr
    assert isinstance(json.loads(listed.stdout), list)
    serve = subprocess.run([str(cli), "serve", "--port", "9"], capture_output=True, text=True,
                           timeout=60, env=env)
    assert serve.returncode == 2
    assert 'pip install "streaming-umap[server]"' in serve.stderr
    assert "Traceback" not in serve.stderr
