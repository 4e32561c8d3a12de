"""Command line: ``streaming-umap serve``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .config import Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .web.app import create_app

    settings = Settings.from_env()
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if args.workers is not None:
        overrides["max_concurrent_jobs"] = args.workers
    settings = settings.with_overrides(**overrides)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level="info", ws_max_size=16 << 20)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streaming-umap", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service (default port 8003)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=None, help="concurrent jobs")
    serve.set_defaults(func=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
