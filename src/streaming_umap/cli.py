"""Command line: ``streaming-umap serve | run | transform | jobs | status | cancel | pause |
resume | models | keys | bench``.

``run INPUT.npy|INPUT.csv --out OUT.npy`` computes a UMAP layout with a live progress
bar (stage, ETA) and writes it (float32, rows x n_components) to exactly ``OUT.npy``.
With ``--cluster hdbscan|dbscan|kmeans`` it then clusters that layout and writes the
int32 labels (-1 = noise) to ``OUT.labels.npy`` next to it. The server is ``--server
URL``, else ``$STREAMING_UMAP_URL``; with neither, ``run`` starts a service inside its
own process (free port, temporary data folder, one worker), waits until it is warm,
runs, and stops it. The other client commands use ``--server``, else
``$STREAMING_UMAP_URL``, else ``http://127.0.0.1:8003``.

``run --keep-model`` (with a server) keeps the fitted layout on the server as a model and
writes its id to ``OUT.model_id``; ``transform MODEL NEW.npy --out PLACED.npy`` places new
rows into it; ``models`` lists the kept models (``models show MODEL``, ``models rm MODEL``);
``run --init-from MODEL`` refits data whose first rows are the model's training rows.

The client commands send ``--api-key``, else ``$STREAMING_UMAP_API_KEY``, where the
server requires keys; ``keys create NAME [--admin]`` makes one (printed once).

Standard output carries results only (the written paths, the job and model tables,
status and model JSON, control replies as JSON); messages and progress go to standard error.

Exit codes (scripts may rely on them):

    0    success
    1    the job failed or was cancelled (by someone else)
    2    usage error or bad input (unreadable file, refused by the server: 400/413/415/422)
    3    the server cannot be reached
    4    no such job or model, or the job is in the wrong state (404, 409, 410)
    5    the server is busy or broken (429 queue full, 503, 500)
    6    not authorised: no API key, or not a valid one (401), or a cross-site refusal (403)
    130  interrupted by Ctrl-C or SIGTERM; ``run`` cancels its job on the server first
    141  standard output was closed early (``streaming-umap jobs --all | head -5``);
         nothing more is written, and no traceback
"""

from __future__ import annotations

import argparse
import enum
import importlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import ConfigError

ENV_URL = "STREAMING_UMAP_URL"
# Imported only by the service, and installed by the `server` extra: the base install is the client.
SERVER_MODULES = frozenset({"uvicorn", "starlette", "msgspec", "umap", "pynndescent", "numba",
                            "sklearn", "scipy", "psutil", "prometheus_client", "distributed"})
DEFAULT_URL = "http://127.0.0.1:8003"


class Exit(enum.IntEnum):
    OK = 0
    JOB_FAILED = 1
    USAGE = 2
    UNREACHABLE = 3
    NOT_FOUND = 4
    SERVER = 5
    UNAUTHORIZED = 6
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command cut off by `| head`


def _serve(args: argparse.Namespace) -> int:
    from .jobs.folder_lock import FolderLock
    from .web.app import create_app
    from .web.server import serve

    settings = Settings.from_env()
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if args.workers is not None:
        overrides["max_concurrent_jobs"] = args.workers
    if args.dask:
        overrides.update(executor="dask", dask_scheduler=args.dask)
    settings = settings.with_overrides(**overrides)
    FolderLock(settings.data_dir).acquire().release()  # a clear message before binding the port
    serve(create_app(settings), settings, log_level="info", ws_max_size=16 << 20)
    return 0


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _server(args: argparse.Namespace) -> str:
    from ._cli.run import check_url

    return check_url(str(args.server or os.environ.get(ENV_URL) or DEFAULT_URL))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    """``run`` cancels its job on Ctrl-C and on SIGTERM (``timeout``, a scheduler), also
    when started from a shell that set SIGINT to be ignored (background jobs in scripts)."""
    from ._cli.run import command

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    return command(args)


def _transform(args: argparse.Namespace) -> int:
    """Ctrl-C and SIGTERM cancel the transform job, as for ``run``."""
    from ._cli.models import transform_command

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    return transform_command(args, _server(args))


def _models(args: argparse.Namespace) -> int:
    from ._cli.models import models_command

    return models_command(args, _server(args))


def _jobs(args: argparse.Namespace) -> int:
    from ._client.progress import format_eta
    from .client import Client

    with Client(_server(args), api_key=args.api_key) as client:
        jobs = client.jobs(include_all=args.all)
    if args.json:
        _out(json.dumps([job.raw for job in jobs], indent=2))
        return 0
    _out(f"{'JOB ID':<32}  {'KIND':<7}  {'STATUS':<10}  {'STAGE':<7}  {'DONE':>6}  {'ETA':>8}  ROWS")
    for job in jobs:
        eta = "" if job.terminal or job.eta_seconds is None else format_eta(job.eta_seconds)
        _out(f"{job.job_id:<32}  {job.kind or '':<7}  {job.status:<10}  {job.stage:<7}  "
             f"{job.progress_percentage:5.1f}%  {eta:>8}  {job.total_points}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from .client import Client, JobError

    ended: JobError | None = None
    with Client(_server(args), api_key=args.api_key) as client:
        job = client.job(args.job_id)
        if args.wait:
            try:
                job.wait(progress=not args.quiet)
            except JobError as exc:
                ended = exc
        _out(json.dumps(job.status().raw, indent=2))
    if ended is not None:
        _error(str(ended))
        return Exit.JOB_FAILED
    return Exit.OK


def _control(args: argparse.Namespace) -> int:
    from .client import Client

    with Client(_server(args), api_key=args.api_key) as client:
        reply = getattr(client.job(args.job_id), args.command)()
    _out(json.dumps({"job_id": reply.job_id, "status": reply.status, "message": reply.message}))
    return 0


def _bench(argv: Sequence[str]) -> int:
    try:
        bench = importlib.import_module("streaming_umap.bench")
    except ModuleNotFoundError as exc:
        if exc.name in ("streaming_umap.bench", "streaming_umap"):
            _error("the benchmark suite is not available: module streaming_umap.bench is "
                   "missing from this installation")
        else:
            _error(f"the benchmark suite needs the module {exc.name!r}; install it first")
        return Exit.USAGE
    if not callable(getattr(bench, "main", None)):
        _error("streaming_umap.bench has no main(argv) entry point")
        return Exit.USAGE
    return int(bench.main(list(argv)))


def _key_option(parser: argparse.ArgumentParser, default: Any = None) -> None:
    parser.add_argument("--api-key", metavar="KEY", default=default,
                        help="API key, where the server requires one (default: $STREAMING_UMAP_API_KEY)")


def _server_option(parser: argparse.ArgumentParser, default: Any = None) -> None:
    """``default=argparse.SUPPRESS`` on a sub-action keeps the value given before it."""
    parser.add_argument("--server", metavar="URL", default=default,
                        help=f"service URL (default: ${ENV_URL}, else {DEFAULT_URL})")
    _key_option(parser, default)


def _run_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="UMAP (and clustering) of a .npy or .csv file",
                         description="Compute a UMAP layout of INPUT and write it to --out; "
                                     "with --cluster, also write OUT.labels.npy.")
    run.add_argument("input", metavar="INPUT", help="rows x columns, .npy or .csv")
    run.add_argument("--out", required=True, metavar="OUT.npy", help="where the layout goes")
    run.add_argument("--cluster", choices=("hdbscan", "dbscan", "kmeans"), default=None,
                     help="cluster the layout; labels go to OUT.labels.npy")
    run.add_argument("--server", metavar="URL", default=None,
                     help=f"service URL (default: ${ENV_URL}, else the job runs in this process)")
    _key_option(run)
    run.add_argument("--metric", default=None, help="euclidean (default), cosine, manhattan, ...")
    run.add_argument("--n-neighbors", type=int, default=None)
    run.add_argument("--min-dist", type=float, default=None)
    run.add_argument("--n-components", type=int, default=None)
    run.add_argument("--n-epochs", type=int, default=None)
    run.add_argument("--seed", type=int, default=None, help="fixed seed: reproducible result")
    run.add_argument("--keep-model", action="store_true",
                     help="keep the fitted layout on the server as a model (needs a server); its "
                          "id goes to OUT.model_id, for transform")
    run.add_argument("--init-from", metavar="MODEL", default=None,
                     help="refit starting from this model (an id, or a file holding one); the "
                          "input's first rows must be its training rows (needs a server)")
    group = run.add_argument_group("clustering (with --cluster)")
    group.add_argument("--min-cluster-size", type=int, default=None, help="hdbscan")
    group.add_argument("--min-samples", type=int, default=None, help="hdbscan, dbscan")
    group.add_argument("--eps", type=float, default=None, help="dbscan")
    group.add_argument("--n-clusters", type=int, default=None, help="kmeans")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streaming-umap", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service (default port 8003)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=None, help="concurrent jobs")
    serve.add_argument("--dask", metavar="ADDRESS", default=None,
                       help="run every job on this Dask scheduler (tcp://host:8786), "
                            "as STREAMING_UMAP_DASK_SCHEDULER does")
    serve.set_defaults(func=_serve)
    _run_parser(sub)
    jobs = sub.add_parser("jobs", help="list active jobs (--all: finished ones too)")
    jobs.add_argument("--all", action="store_true")
    jobs.add_argument("--json", action="store_true", help="print the JSON list")
    _server_option(jobs)
    jobs.set_defaults(func=_jobs)
    status = sub.add_parser("status", help="print a job's status as JSON")
    status.add_argument("job_id", metavar="ID")
    status.add_argument("--wait", action="store_true",
                        help="follow the job to its end first (exit 1 if it failed or was cancelled)")
    status.add_argument("-q", "--quiet", action="store_true", help="no progress bar with --wait")
    _server_option(status)
    status.set_defaults(func=_status)
    for action in ("cancel", "pause", "resume"):
        control = sub.add_parser(action, help=f"{action} a job")
        control.add_argument("job_id", metavar="ID")
        _server_option(control)
        control.set_defaults(func=_control)
    from ._cli.keys import add_parser as add_keys_parser
    from ._cli.models import add_parsers as add_model_parsers

    models, transform = add_model_parsers(sub, _server_option)
    models.set_defaults(func=_models)
    transform.set_defaults(func=_transform)
    add_keys_parser(sub)
    sub.add_parser("bench", help="run the benchmark suite (arguments go to it; try bench --help)",
                   add_help=False)
    warm = sub.add_parser("warm-cache", help="compile the CPU path's code into the numba cache "
                          "(NUMBA_CACHE_DIR, default .cache/numba), so that a first start takes "
                          "seconds; for an image build or CI")
    warm.add_argument("--force", action="store_true", help="even if the cache says it holds it all")
    warm.set_defaults(func=_warm_cache)
    return parser


def _warm_cache(args: argparse.Namespace) -> int:
    import time

    settings = Settings.from_env()
    os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.numba_cache_dir))  # before numba loads
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")  # as the warm template runs
    from .backends.cpu import cache_holds_warm_up, warm_cache
    from .web.ingest import load_json_reader

    folder = os.environ["NUMBA_CACHE_DIR"]
    started = time.monotonic()

    def say(step: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {step}", file=sys.stderr, flush=True)

    say("the server's JSON reader")
    load_json_reader()  # a few seconds to compile, once; then loaded from the cache
    if cache_holds_warm_up() and not args.force:
        print(f"{folder} already holds every warm-up step", file=sys.stderr)
        return 0

    if args.force:
        for marker in Path(folder).glob(".streaming-umap-warm-*"):
            marker.unlink(missing_ok=True)
    ok = warm_cache(say)
    say(f"done: {folder}" if ok else "the helper process failed; its steps are not in the cache")
    return 0 if ok else 1


def _error(message: str) -> None:
    sys.stderr.write(f"streaming-umap: error: {message}\n")
    sys.stderr.flush()


def exit_code(exc: BaseException) -> int | None:
    """The documented exit code for an exception, or None if it is a bug."""
    from ._cli.run import Interrupted, UsageError

    if isinstance(exc, (KeyboardInterrupt, Interrupted)):
        return Exit.INTERRUPTED
    if isinstance(exc, (UsageError, ModuleNotFoundError, ConfigError)):
        return Exit.USAGE
    try:
        from . import client as c
    except ImportError:
        return None
    table: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Exit], ...] = (
        (c.JobError, Exit.JOB_FAILED),
        (c.Unauthorized, Exit.UNAUTHORIZED),
        ((c.InvalidInput, c.InvalidRequest, c.PayloadTooLarge), Exit.USAGE),
        (c.ConnectionError, Exit.UNREACHABLE),
        ((c.NotFound, c.Conflict, c.Gone), Exit.NOT_FOUND),
        (c.ServerError, Exit.SERVER),
    )
    for kinds, code in table:
        if isinstance(exc, kinds):
            return code
    return None


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, ModuleNotFoundError):
        if (exc.name or "").split(".")[0] in SERVER_MODULES:
            return (f"missing module {exc.name!r}: serve, and run without --server, compute on "
                    "this machine and need the server extra: pip install \"streaming-umap[server]\"")
        return f"missing module {exc.name!r}: reinstall streaming-umap (pip install streaming-umap)"
    text = str(exc)
    try:
        from . import client as c
    except ImportError:
        return text
    if isinstance(exc, c.ConnectionError):
        text += " (is it running? start one with `streaming-umap serve`, or pass --server)"
    elif isinstance(exc, c.Unauthorized) and exc.status == 401:
        text += " (pass --api-key or set $STREAMING_UMAP_API_KEY)"
    elif isinstance(exc, c.QueueFull) and exc.retry_after is not None:
        text += f" (retry after {exc.retry_after:g} s)"
    return text


def _stdout_broken() -> bool:
    """Whether standard output is a pipe whose reader has gone (poll says POLLERR), as
    opposed to a BrokenPipeError from some socket, which stays a bug with a traceback."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def _stdout_closed() -> int:
    """The reader of standard output went away (``| head``): stop quietly, as ``cat`` does.
    Standard output now points at /dev/null, so the interpreter's final flush cannot raise."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return Exit.BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        return _bench(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:
        if not _stdout_broken():
            raise
        return _stdout_closed()
    except (Exception, KeyboardInterrupt) as exc:
        code = exit_code(exc)
        if code is None:
            raise
        _error(_message(exc))
        return code


if __name__ == "__main__":
    sys.exit(main())
