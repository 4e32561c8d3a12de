"""The lock files in requirements/ against pyproject.toml: complete, hashed, in range."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# lock file -> the extras of pyproject.toml it holds (besides the base dependencies, which
# are the client); test, bench, dask and gpu name the server extra themselves
SETS = {"server": ["server"], "test": ["test"], "bench": ["bench"], "client": ["client"],
        "dask": ["dask"], "gpu": ["gpu"]}
SELF = "streaming-umap"
CPU_SETS = ("server", "test", "bench", "client", "dask")


def _drift_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock_drift", ROOT / "scripts" / "lock_drift.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


drift = _drift_module()


def _extra(extra: str) -> list[Requirement]:
    """An extra's requirements, with ``streaming-umap[other]`` replaced by other's."""
    found = []
    for line in PYPROJECT["project"]["optional-dependencies"][extra]:
        req = Requirement(line)
        if drift.canonical(req.name) == SELF:
            for inner in sorted(req.extras):
                found += _extra(inner)
        else:
            found.append(req)
    return found


def _requirements(name: str) -> list[Requirement]:
    found = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    for extra in SETS[name]:
        found += _extra(extra)
    return found


@pytest.mark.parametrize("name", sorted(SETS) + ["tools", "fuzz"])
def test_every_pin_is_exact_and_hashed(name: str) -> None:
    text = (LOCKS / f"{name}.txt").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    problems = [e.splitlines()[0] for e in entries
                if e.strip() and ("==" not in e.splitlines()[0] or "--hash=sha256:" not in e)]
    assert problems == [], f"requirements/{name}.txt has unpinned or unhashed lines"


@pytest.mark.parametrize("name", sorted(SETS))
def test_the_lock_pins_every_dependency_within_its_range(name: str) -> None:
    pins = drift.locked(LOCKS / f"{name}.txt")
    missing, outside = [], []
    for req in _requirements(name):
        versions = pins.get(drift.canonical(req.name))
        if not versions:
            missing.append(req.name)
        else:
            outside += [f"{req.name}=={v} (pyproject: {req.specifier})" for v in versions
                        if not req.specifier.contains(v, prereleases=True)]
    assert (missing, outside) == ([], []), "pyproject.toml changed without `make lock`"


def test_the_client_lock_holds_nothing_of_the_server_side() -> None:
    client = set(drift.locked(LOCKS / "client.txt"))
    base = {drift.canonical(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    server_only = {drift.canonical(r.name) for r in _extra("server")} - base
    assert {"numba", "umap-learn", "scipy", "scikit-learn", "uvicorn", "starlette"} <= server_only
    assert sorted(client & server_only) == []
    assert sorted(client - set(drift.locked(LOCKS / "server.txt"))) == []


def test_the_cpu_sets_agree_on_every_shared_version() -> None:
    pins = {name: drift.locked(LOCKS / f"{name}.txt") for name in CPU_SETS}
    test = pins["test"]
    differ = [f"{name}: {pkg} {versions} vs test {test.get(pkg)}" for name in CPU_SETS
              for pkg, versions in pins[name].items() if test.get(pkg, versions) != versions]
    assert differ == []


def test_build_in_is_the_build_system_requirement() -> None:
    lines = (LOCKS / "build.in").read_text().splitlines()
    wanted = [line for line in lines if line.strip() and not line.startswith("#")]
    assert wanted == PYPROJECT["build-system"]["requires"]


def test_drift_names_moved_and_new_packages() -> None:
    pins = {"msgspec": {"0.22.0"}, "numpy": {"2.4.6", "2.5.5"}}
    have = {"msgspec": "0.23.0", "numpy": "2.5.5", "newdep": "1.0", "pip": "26.0"}
    assert drift.drift(pins, have) == ["msgspec: locked 0.22.0 -> newest 0.23.0",
                                       "newdep: not in the lock -> 1.0 (a new dependency)"]
