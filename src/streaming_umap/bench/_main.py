"""``streaming-umap bench``: start a server and a baseline, run the figures, write the
results (JSON, PNG, README tables)."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import logging
import os
import platform
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from .. import __version__
from . import gpu_script, plots, report
from .baseline import BaselineProcess
from .budget import Budget
from .context import Context
from .figures import RUNNERS
from .jobs import ServiceClient
from .profiles import FIGURES, PROFILES, Profile
from .sampling import ContentionMonitor, HealthProbe, MemorySampler
from .server import BenchServer

log = logging.getLogger(__name__)

# the order figures run in, by priority: the headline first (issue 2's goals: ratio,
# first frame, then /health under load); scaling reuses figure 1's sizes and fills
# the budget that is left; progress only reads the jobs the others ran
EXECUTION = ("service", "ingest", "concurrency", "quality", "chunks", "scaling", "progress")


@dataclass
class Options:
    profile: Profile
    out: Path
    readme: Path | None
    server_url: str | None
    server_log: Path | None
    library: str  # "auto" until the backend is known
    note: str
    keep_work: bool


def _default_paths() -> tuple[Path, Path | None]:
    """Inside a checkout (a ``benchmarks/`` folder here): its results and README."""
    bench = Path.cwd() / "benchmarks"
    if bench.is_dir():
        return bench / "results", bench / "README.md"
    return Path.cwd() / "bench-results", None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streaming-umap bench", description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick",
                        help="quick: CPU, < 10 min on 2 cores; full: GPU machines; "
                             "service: issue 2's benchmark; smoke: tiny, for tests")
    parser.add_argument("--figures", default=None,
                        help=f"comma-separated subset of: {','.join(FIGURES)}")
    parser.add_argument("--budget", type=float, default=None, help="seconds (default: the profile's)")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    parser.add_argument("--readme", default=None,
                        help="README to write the tables into ('' = none)")
    parser.add_argument("--server", default=None, help="benchmark this running server")
    parser.add_argument("--server-log", type=Path, default=None,
                        help="that server's umap_service.log (per-stage seconds), if local")
    parser.add_argument("--library", choices=("auto", "umap-learn", "cuml"), default="auto",
                        help="the bare-library baseline (auto: cuml when the service may "
                             "use the GPU and cuML imports, else umap-learn)")
    parser.add_argument("--note", default="", help="recorded with the results")
    parser.add_argument("--keep-work", action="store_true",
                        help="keep the work folder (server data and logs)")
    parser.add_argument("--gpu-script", choices=("auto", "no"), default="auto",
                        help="auto: on a GPU backend, also run benchmarks/bench_gpu.py "
                             "of this checkout (full profile only)")
    parser.add_argument("--readme-only", action="store_true",
                        help="only rebuild the README tables from the results folder")
    return parser


def _options(args: argparse.Namespace) -> Options:
    profile = PROFILES[args.profile]
    if args.figures:
        chosen = tuple(f.strip() for f in args.figures.split(",") if f.strip())
        unknown = sorted(set(chosen) - set(FIGURES))
        if unknown:
            raise SystemExit(f"--figures: unknown {unknown}; expected some of {list(FIGURES)}")
        profile = profile.with_figures(chosen)
    if args.budget is not None:
        profile = replace(profile, budget_s=args.budget)
    out, readme = _default_paths()
    if args.out is not None:
        out = args.out
    if args.readme is not None:
        readme = Path(args.readme) if args.readme else None
    return Options(profile, out, readme, args.server, args.server_log, args.library, args.note,
                   args.keep_work)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"streaming-umap": __version__, "python": platform.python_version()}
    for name in ("umap-learn", "pynndescent", "numba", "numpy", "scikit-learn", "cuml"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def _library(choice: str, backend: str) -> str:
    """The baseline library: as asked, or cuML where the service may use the GPU."""
    if choice != "auto":
        return choice
    if backend != "cpu" and importlib.util.find_spec("cuml") is not None:
        return "cuml"
    return "umap-learn"


def _start(options: Options, work: Path) -> tuple[BenchServer, BaselineProcess, dict[str, float]]:
    """Server and baseline warm up side by side; both timed."""
    started = time.perf_counter()
    cache = os.environ.get("NUMBA_CACHE_DIR", str(Path.cwd() / ".cache" / "numba"))
    server: BenchServer | None = None
    if options.server_url:
        server = BenchServer.attach(options.server_url, options.server_log)
        backend = str(server.health.get("backend", "auto"))
    else:
        backend = os.environ.get("STREAMING_UMAP_BACKEND", "auto").strip().lower() or "auto"
    options.library = _library(options.library, backend)
    baseline = BaselineProcess(options.library, work, {"NUMBA_CACHE_DIR": cache})
    profile = options.profile
    largest = max((*profile.service_rows, *profile.scaling_rows, profile.chunk_rows,
                   profile.concurrency_rows, profile.quality_rows, 1), default=1)
    try:
        baseline.start_warm(["cosine", "euclidean"],
                            [1500] + ([6000] if largest > 4096 else []), min(profile.dims, 64))
        if server is None:
            env = {"NUMBA_CACHE_DIR": cache,
                   "GPU_UMAP_MAX_CONCURRENT_JOBS": str(profile.workers)}
            server = BenchServer.launch(work / "service", env)
            server.wait_ready()
        server_s = time.perf_counter() - started
        baseline.wait_warm()
    except BaseException:  # Ctrl-C or a server that never warms: leave nothing running
        baseline.close()
        if server is not None:
            server.stop()
        raise
    return server, baseline, {"server_ready_s": round(server_s, 1),
                              "baseline_warm_s": round(baseline.warm_seconds or 0.0, 1),
                              "both_ready_s": round(time.perf_counter() - started, 1)}


def run_suite(options: Options) -> dict[str, Any]:
    profile = options.profile
    began, began_wall = time.monotonic(), dt.datetime.now()
    work = Path(tempfile.mkdtemp(prefix="streaming-umap-bench-"))
    started: list[Any] = []  # what to stop, last first
    try:
        server, baseline, startup = _start(options, work)
        started += [server, baseline]
        # from here on: how busy other processes kept the machine while we measured
        own = [p for p in (server.pid, baseline.pid) if p]
        contention = ContentionMonitor(lambda: own).start()
        started.append(contention)
        memory = MemorySampler(lambda: {**server.pids(), "baseline": [baseline.pid]}).start()
        health = HealthProbe(server.url).start()
        started += [memory, health]
        ctx = Context(profile, server, ServiceClient(server.url, server.ws_url), baseline,
                      memory, health, work, Budget(began + profile.budget_s, profile.name),
                      options.library)
        errors = _run_figures(ctx)
    finally:
        for thing in reversed(started):
            if isinstance(thing, BaselineProcess):
                thing.close()
            else:
                thing.stop()
        if options.keep_work:
            log.info("work folder kept: %s", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return _result(options, ctx, startup, errors, contention, began, began_wall)


def _run_figures(ctx: Context) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name in EXECUTION:
        if name not in ctx.profile.figures:
            continue
        log.info("figure %s (%.0f s left of the budget)", name, ctx.budget.left())
        started = time.perf_counter()
        try:
            ctx.results[name] = RUNNERS[name](ctx)
            ctx.results[name]["seconds"] = round(time.perf_counter() - started, 1)
        except Exception as exc:  # one figure failing must not lose the others
            log.exception("figure %s failed", name)
            errors[name] = f"{type(exc).__name__}: {exc}"
    return errors


def _result(options: Options, ctx: Context, startup: dict[str, float], errors: dict[str, str],
            contention: ContentionMonitor, began: float, began_wall: dt.datetime) -> dict[str, Any]:
    health = ctx.server.health
    backend, device = str(health.get("backend", "?")), str(health.get("device", "?"))
    env = contention.summary()
    env["note"] = options.note
    figures = {k: ctx.results[k] for k in FIGURES if k in ctx.results}
    elapsed = time.monotonic() - began
    return {
        "schema": 1,
        "date": began_wall.date().isoformat(),
        "started": began_wall.isoformat(timespec="seconds"),
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
        "profile": options.profile.name,
        "device": report.device_slug(backend, device),
        "backend": backend,
        "device_name": device,
        "library": options.library,
        "versions": _versions(),
        "machine": {"cores": psutil.cpu_count(), "platform": platform.platform(),
                    "ram_gib": round(psutil.virtual_memory().total / 2**30, 1)},
        "environment": env,
        "budget_s": options.profile.budget_s,
        "elapsed_s": round(elapsed, 1),
        "over_budget": elapsed > options.profile.budget_s,
        "startup": startup,
        "goals": report.goals(figures),
        "figures": figures,
        "skipped": ctx.budget.skipped,
        "errors": errors,
    }


def _configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "httpcore", "matplotlib", "websockets"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _run_interruptible(options: Options) -> dict[str, Any]:
    """run_suite, with SIGTERM turned into KeyboardInterrupt (as Ctrl-C already is), so
    that either stops the server and the baseline it started."""
    if threading.current_thread() is not threading.main_thread():
        return run_suite(options)
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        return run_suite(options)
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark suite; 0 when every figure ran, 1 when one failed, 2 on
    usage errors."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage error (2) or --help (0): a code, not an exit
        return int(exc.code or 0)
    _configure_logging()
    try:
        options = _options(args)
    except SystemExit as exc:
        log.error("%s", exc)
        return 2
    if args.readme_only:
        if options.readme is None:
            log.error("--readme-only needs a README: run it in a checkout or pass --readme")
            return 2
        report.write_readme(options.readme, options.out)
        return 0
    result = _run_interruptible(options)
    options.out.mkdir(parents=True, exist_ok=True)
    stem = report.result_name(result["date"], result["device"], result["profile"]).removesuffix(".json")
    result["plots"] = plots.draw(result["figures"], options.out, stem)
    script = gpu_script.find_script()
    if (args.gpu_script == "auto" and script is not None and result["backend"] == "gpu"
            and options.profile.name == "full"):
        result["gpu_script"] = gpu_script.run_script(script, options.out / f"{stem}-gpu",
                                                     options.profile.budget_s / 4)
    path = report.write_json(result, options.out)
    if options.readme is not None:
        report.write_readme(options.readme, options.out)
    for goal in result["goals"]:
        log.info("goal %s: %s %s -> %s", goal["goal"], goal["value"], goal["unit"],
                 {True: "met", False: "MISSED", None: "unknown"}[goal["met"]])
    log.info("results: %s (%.0f s)", path, result["elapsed_s"])
    return 1 if result["errors"] else 0
