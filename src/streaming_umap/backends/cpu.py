"""CPU backend: umap-learn + pynndescent + scikit-learn."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import types
import warnings
from collections.abc import Callable, Collection
from typing import Any

import numpy as np

from ..config import usable_cores
from ..pipeline.checkpoint import NullCheckpoint
from ..pipeline.knn import NND_LARGE_ROWS
from ..schemas import ClusterParams, UMAPParams
from .base import ClusterOutput, RunOptions, UMAPOutput

log = logging.getLogger(__name__)


def _cache_twin(func: Any, options: dict[str, Any]) -> Any:
    """``func`` as numba should cache it with these options.

    numba names a function's disk cache after its module and qualified name, and keys the
    entries by signature and code, never by ``parallel``: umap-learn jits one Python
    function twice, ``parallel=False`` for seeded layouts and ``parallel=True`` for the
    others, so with both cached the second loaded the first one's machine code. Measured:
    every unseeded layout in a worker ran on one thread (1.0 cores in use, 15 s against
    11.5 s on 2 cores for 10k rows). A function jitted with ``parallel`` given is cached
    under a name that says which (a twin of it, same code and globals).
    """
    if "parallel" not in options or not inspect.isfunction(func):
        return func
    twin = types.FunctionType(func.__code__, func.__globals__, func.__name__,
                              func.__defaults__, func.__closure__)
    twin.__kwdefaults__ = func.__kwdefaults__
    twin.__module__ = func.__module__
    twin.__doc__ = func.__doc__
    twin.__dict__.update(func.__dict__)
    twin.__qualname__ = f"{func.__qualname__}__{'parallel' if options['parallel'] else 'serial'}"
    return twin


def enable_numba_cache() -> None:
    """Make numba cache what it can on disk (``NUMBA_CACHE_DIR``).

    umap-learn and pynndescent mark few functions ``cache=True``; with this default,
    a fresh worker loads ~60 compiled functions from disk instead of compiling them.
    Functions numba cannot cache (those taking other jitted functions as arguments)
    still compile once per process, which is what warm-up is for. Call it before
    importing umap or pynndescent. A function jitted with ``parallel`` set is cached
    apart from its twin with the other setting (:func:`_cache_twin`).
    """
    import numba

    if getattr(numba.njit, "_streaming_umap_cached", False):
        return
    plain_njit, plain_jit = numba.njit, numba.jit

    def cached(plain: Any) -> Any:
        def jit(*args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("cache", True)
            if args and inspect.isfunction(args[0]):  # njit(func, **options)
                return plain(_cache_twin(args[0], kwargs), *args[1:], **kwargs)
            decorator = plain(*args, **kwargs)  # njit(**options) or njit(signature, ...)

            def decorate(func: Any) -> Any:
                return decorator(_cache_twin(func, kwargs))

            return decorate
        return jit

    njit, jit = cached(plain_njit), cached(plain_jit)
    njit._streaming_umap_cached = True
    numba.njit, numba.jit = njit, jit
    warnings.filterwarnings("ignore", module="numba")
    warnings.filterwarnings("ignore", message=".*Cannot cache compiled function.*")




def _sample(rows: int, dims: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(8, dims))
    return (centres[rng.integers(0, 8, rows)] + rng.normal(size=(rows, dims))).astype(np.float32)


# Compiled by a helper process at a first start (see CPUBackend.warm_up). Measured on 2
# cores with an empty cache, one process: 209 s in all, of which NN-descent for cosine
# 36 s and placement 73 s; the template's own steps take the rest.
HELPER_STEPS = ("NN-descent (cosine, inputs below 16,384 rows)",
                "NN-descent (cosine, inputs above 16,384 rows)",
                "umap-learn's seeded layout (refits)",
                "placing rows into a kept model")


def _markers(parts: tuple[str, ...] = ("core", "helper")) -> list[Any]:
    """Files in the numba cache folder that say which warm-up steps it holds, named by the
    versions whose compiled code it holds (none without ``NUMBA_CACHE_DIR``)."""
    import hashlib
    import sys
    from importlib.metadata import PackageNotFoundError, version
    from pathlib import Path

    folder = os.environ.get("NUMBA_CACHE_DIR")
    if not folder:
        return []
    names = []
    for package in ("numba", "umap-learn", "pynndescent", "scikit-learn", "streaming-umap"):
        try:
            names.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            names.append(f"{package}=?")
    key = hashlib.sha1(" ".join([sys.version, *names]).encode()).hexdigest()[:12]
    return [Path(folder) / f".streaming-umap-warm-{part}-{key}" for part in parts]


def _mark(part: str, light: bool) -> None:
    """Note that the cache now holds this part of the warm-up ("all": both)."""
    if light:
        return
    for marker in _markers(("core", "helper") if part == "all" else (part,)):
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("")
        except OSError:
            pass  # no marker: the next start splits its warm-up again, nothing worse


def cache_holds_warm_up() -> bool:
    """Whether ``NUMBA_CACHE_DIR`` says it holds every warm-up step for these versions."""
    markers = _markers()
    return bool(markers) and all(m.exists() for m in markers)


def _start_helper(steps: list[str]) -> Any:
    """:func:`fill_cache` for ``steps`` in a fresh interpreter (a ``subprocess.Popen``:
    the warm template is a daemonic ``multiprocessing`` process, which may not start
    ``multiprocessing`` children), or None if it cannot start: the warm-up then runs
    every step itself."""
    import subprocess
    import sys

    if not steps or not _markers():
        return None
    code = ("import sys; from streaming_umap.backends.cpu import fill_cache; "
            "fill_cache(sys.argv[2:], int(sys.argv[1]))")
    try:
        return subprocess.Popen([sys.executable, "-c", code, str(os.getpid()), *steps],
                                stdin=subprocess.DEVNULL)
    except OSError as exc:
        log.warning("could not start the warm-up helper (%s); compiling every step here", exc)
        return None


def warm_cache(progress: Callable[[str], None] | None = None) -> bool:
    """Fill the disk cache with every warm-up step (``streaming-umap warm-cache``), the
    template's steps here and the helper's beside them, as a first start does. False if
    the helper failed (the cache then lacks its steps)."""
    backend = CPUBackend()
    backend.warm_up(progress=progress, split=True)
    if backend.helper is None:
        return True
    if progress:
        progress(f"waiting for the helper process: {'; '.join(HELPER_STEPS)}")
    return bool(backend.helper.wait() == 0)


def fill_cache(steps: list[str], parent: int) -> None:
    """A helper process: run these warm-up steps only to fill the disk cache, at a lower
    priority than jobs, then note that the cache holds them. Dies with ``parent``."""
    import sys

    from ..jobs.executors._template import die_with_parent

    die_with_parent()  # gone with the template...
    if os.getppid() != parent:
        sys.exit(1)  # ...which may have gone while this interpreter started
    try:
        os.nice(10)
    except OSError:
        pass
    CPUBackend().run_steps(steps)
    _mark("helper", light=False)


def _also_on_one_thread(run: Callable[[], Any]) -> Callable[[], Any]:
    """``run`` on the threads there are, then on one (the code a job with a one-thread
    share takes where it differs)."""
    from ..pipeline.knn import numba_threads

    def both() -> None:
        run()
        with numba_threads(1):
            run()

    return both


class CPUBackend:
    name = "cpu"

    def __init__(self) -> None:
        enable_numba_cache()
        self.helper: Any = None  # a first start's warm-up helper process (warm_up(split=True))

    def describe(self) -> dict[str, Any]:
        cores = usable_cores()
        return {"device": f"CPU ({cores} cores)", "cores": cores}

    def warm_up(self, light: bool = False, progress: Callable[[str], None] | None = None,
                split: bool = False) -> dict[str, float]:
        """Compile what jobs need (both kNN paths, NN-descent's code for inputs below and
        above 16,384 rows, the graph and the layout, for the common metrics), then time a
        small layout so the ETA model knows this machine's speed. ``light`` (immediate
        requests only: < 1000 rows, exact kNN) skips NN-descent, the slowest part (~15 s
        per metric on 2 cores). ``progress`` is told each step as it begins.

        ``split`` (the warm template): while the disk cache does not yet hold every step
        (the first start on a machine), the steps of :data:`HELPER_STEPS` are compiled
        into it by a helper process on another core instead of here, so the workers are
        ready sooner (:func:`fill_cache`). When the helper is done the template loads its
        steps from disk (:meth:`adopt_helper`), so workers forked after that hold them;
        one forked before loads them from disk too, or, if the helper is not done yet,
        compiles them itself when a job needs them. Once the cache holds everything,
        every step runs here (a load from disk: seconds)."""
        from ..pipeline.eta import timed_stages

        say = progress or (lambda step: None)
        steps = self._warm_steps(light)
        self.helper = None
        if split and not light and usable_cores() >= 2 and not cache_holds_warm_up():
            self.helper = _start_helper([name for name, _ in steps if name in HELPER_STEPS])
            if self.helper is not None:
                steps = [(name, run) for name, run in steps if name not in HELPER_STEPS]
                log.info("first start: a helper process (pid %d) compiles %s into the disk cache",
                         self.helper.pid, "; ".join(HELPER_STEPS))
        for name, run in steps:
            say(name)
            run()
        _mark("core" if self.helper is not None else "all", light)
        say("timing a small layout for the ETA model")
        exact = RunOptions(chunk_size=500, exact_knn_max_rows=10_000)
        data = _sample(3000, 64, 1)
        params = UMAPParams(n_neighbors=15, metric="euclidean", n_epochs=100, random_state=0)
        return timed_stages(lambda cp: self.umap(data, params, cp, exact), data, params, exact)

    def adopt_helper(self) -> None:
        """The helper of :meth:`warm_up` has ended: run its steps here too, now loaded from
        the disk cache (seconds), so workers forked from now on hold them."""
        helper, self.helper = self.helper, None
        if helper is None:
            return
        if helper.returncode != 0:
            log.warning("the warm-up helper (pid %d) exited with code %s; workers compile its "
                        "steps when a job needs them", helper.pid, helper.returncode)
            return
        self.run_steps(HELPER_STEPS)
        log.info("the warm-up helper (pid %d) is done; its steps are loaded here too", helper.pid)

    def run_steps(self, names: Collection[str]) -> None:
        """The full warm-up's steps of these names, in their order; unknown names fail."""
        steps = self._warm_steps(light=False)
        missing = set(names) - {name for name, _ in steps}
        if missing:
            raise ValueError(f"unknown warm-up steps: {sorted(missing)}")
        for name, run in steps:
            if name in names:
                run()

    def _warm_steps(self, light: bool) -> list[tuple[str, Callable[[], Any]]]:
        """The warm-up's steps in order, each a name and what it runs."""
        from ..pipeline.umap_cpu import unseeded_by_blocks

        exact = RunOptions(chunk_size=500, exact_knn_max_rows=10_000)
        approx = RunOptions(chunk_size=5000, exact_knn_max_rows=0)
        small = _sample(1200, 32, 0)
        # NND_LARGE_ROWS; pynndescent's forest splits nodes over 1 MiB of rows breadth-first
        # (other compiled code, measured: the first 10k x 512 job compiled it for 30 s), so the
        # larger sample is wide enough to take that path too (64 dims: nodes over 4,096 rows)
        sizes = {"below": _sample(8000, 8, 3), "above": _sample(20_000, 64, 2)}
        for data in sizes.values():  # a job's input is a read-only memory map: numba compiles
            data.setflags(write=False)  # NN-descent for read-only arrays apart (another 30 s)
        steps: list[tuple[str, Callable[[], Any]]] = []
        for metric in ("euclidean", "cosine"):
            # a seeded fit lays out by blocks (pipeline.layout_parallel), one without a seed
            # by umap-learn's parallel layout; with STREAMING_UMAP_UNSEEDED_LAYOUT=blocks by
            # blocks on 2+ threads, and a job with a one-thread share still by umap-learn's
            # (which does not depend on the metric: compiled once, in the euclidean step)
            for seed in (0, None):
                params = UMAPParams(n_neighbors=15, metric=metric, n_epochs=20, random_state=seed)
                fit = functools.partial(self.umap, small, params, NullCheckpoint(), exact)
                if seed is None and metric == "euclidean" and unseeded_by_blocks():
                    fit = _also_on_one_thread(fit)
                steps.append((f"exact kNN, graph and {'seeded' if seed is not None else 'parallel'} "
                              f"layout ({metric})", fit))
            for where, data in sizes.items() if not light else ():
                params = UMAPParams(n_neighbors=15, metric=metric, n_epochs=1)
                steps.append((f"NN-descent ({metric}, inputs {where} 16,384 rows)",
                              functools.partial(self.umap, data, params, NullCheckpoint(), approx)))
        # seeded fits lay out by blocks (pipeline.layout_parallel); a refit from a kept
        # model keeps umap-learn's seeded layout, another compiled function
        refit = RunOptions(chunk_size=500, exact_knn_max_rows=10_000, init=_sample(1200, 2, 6))
        steps.append(("umap-learn's seeded layout (refits)",
                      functools.partial(self.umap, small, UMAPParams(n_epochs=20, random_state=0),
                                        NullCheckpoint(), refit)))
        steps.append(("placing rows into a kept model", self._warm_placement))
        steps.append(("k-means", lambda: self.cluster(small, ClusterParams(algorithm="kmeans", n_clusters=4),
                                                      NullCheckpoint(), exact)))
        return steps

    @staticmethod
    def _warm_placement() -> None:
        """A transform's own compiled code (measured: ~7 s on 2 cores in a fresh process,
        the first placement's layout and membership code, not on disk): a model above
        the brute-force size, so its NN-descent index and search are built too, placed
        into with and without a seed (one-thread and parallel layouts)."""
        from ..pipeline.transform_cpu import (
            LayoutModel,
            NeighbourIndex,
            curve_parameters,
            place_block,
        )

        train = _sample(5000, 8, 4)
        train.setflags(write=False)  # a kept model's rows are a read-only memory map
        a, b = curve_parameters(0.1)
        layout = _sample(5000, 2, 5)
        index = NeighbourIndex(train, "euclidean", 15)
        for seed in (0, None):
            model = LayoutModel(train, layout, a, b, "euclidean", 15, 30, seed)
            place_block(model, index, np.asarray(train[:200]), epochs=5)

    def job_path(self, params: UMAPParams, rows: int, options: RunOptions) -> str:
        """The compiled code a UMAP job of this size takes, in words."""
        if rows <= options.exact_knn_max_rows:
            knn = "exact kNN"
        else:
            knn = f"NN-descent for inputs {'below' if rows <= NND_LARGE_ROWS else 'above'} 16,384 rows"
        seeded = "seeded layout" if params.random_state is not None else "parallel layout"
        return f"{knn}, {params.metric}, {seeded}"

    def prepare(self, params: UMAPParams, rows: int, options: RunOptions) -> None:
        """Compile only what a UMAP job of this size and these parameters needs (for a
        job run in this process), by running a small one down the same code path."""
        if rows <= options.exact_knn_max_rows:
            sample, chosen = _sample(min(rows, 1200), 8, 0), options
        else:
            sample = _sample(8000 if rows <= NND_LARGE_ROWS else 20_000, 8, 2)
            chosen = RunOptions(chunk_size=options.chunk_size, exact_knn_max_rows=0)
        if sample.shape[0] < 4:
            return
        small = UMAPParams(n_neighbors=min(params.n_neighbors, sample.shape[0] - 1),
                           n_components=params.n_components, metric=params.metric, n_epochs=1,
                           random_state=params.random_state)
        self.umap(sample, small, NullCheckpoint(), chosen)

    def umap(
        self, data: np.ndarray, params: UMAPParams, cp: Any, options: RunOptions
    ) -> UMAPOutput:
        from ..pipeline.sample_fit import fit_sample_then_place, wants_sample
        from ..pipeline.umap_cpu import run_umap

        if wants_sample(data.shape[0], options):
            return fit_sample_then_place(data, params, cp, options, run_umap)
        return run_umap(data, params, cp, options)

    def transform(self, model: Any, data: np.ndarray, cp: Any, options: RunOptions,
                  stage: str = "transform") -> UMAPOutput:
        from pathlib import Path

        from ..pipeline.transform_cpu import transform_model

        folder = Path(options.model_dir) if options.model_dir else None
        embedding = transform_model(model, data, cp, options.chunk_size, folder, stage=stage)
        return UMAPOutput(embedding, _unplaced_note(embedding))

    def cluster(
        self, data: np.ndarray, params: ClusterParams, cp: Any, options: RunOptions
    ) -> ClusterOutput:
        from ..pipeline.cluster_cpu import run_cluster
        from .cluster_notes import cluster_warnings

        out = run_cluster(data, params, cp, options)
        out.warnings.extend(cluster_warnings(params, out))
        return out

    def memory_estimate(self, rows: int, dims: int, kind: str, params: dict[str, Any]) -> int | None:
        return None

    def __repr__(self) -> str:
        return f"CPUBackend(pid={os.getpid()})"


def _unplaced_note(embedding: np.ndarray) -> list[str]:
    """A row with no neighbour within the metric's reach gets no position (NaN), as in
    umap-learn; say how many."""
    missing = int((~np.isfinite(embedding).all(axis=1)).sum())
    if not missing:
        return []
    return [f"{missing} rows had no neighbour in the model within reach of the metric and were "
            "not placed (their positions are NaN)"]
