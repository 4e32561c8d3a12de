"""``streaming-umap models [list] | models show MODEL | models rm MODEL`` and
``streaming-umap transform MODEL INPUT --out OUT.npy``: the models a server keeps.

``run --server URL --keep-model`` keeps the fitted layout as a model and writes its id to
``OUT.model_id`` next to the layout. MODEL is that id (32 hex digits), or the path of a
file holding it, such as that ``OUT.model_id``. ``transform`` places the rows of INPUT
(``.npy`` or ``.csv``, the model's number of columns) into the model's layout, with the
same progress bar as ``run``, and writes their positions (float32, rows x the model's
``n_components``) to exactly ``OUT.npy``; the model itself does not change.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .run import UsageError, follow, load_input, note, save

ServerOption = Callable[..., None]


def out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()  # here, so a closed pipe (`| head`) raises where main() expects it


def model_arg(text: str) -> str:
    """A model id, or the contents of the file ``text`` names (``OUT.model_id``)."""
    path = Path(text)
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read a model id from {text!r}: {exc}") from None
    return text


def _when(at: float | None) -> str:
    return "" if at is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(at))


def _size(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def _list(client: Any, args: argparse.Namespace) -> int:
    models = client.models()
    if args.json:
        out(json.dumps([model.raw for model in models], indent=2))
        return 0
    out(f"{'MODEL ID':<32}  {'ROWS':>9}  {'DIMS':>5}  {'OUT':>3}  {'METRIC':<11}  "
        f"{'SIZE':>10}  {'LAST USED':<16}  EXPIRES")
    for m in models:
        out(f"{m.model_id:<32}  {m.rows:>9}  {m.dims:>5}  {m.n_components:>3}  {m.metric:<11}  "
            f"{_size(m.size_bytes):>10}  {_when(m.last_used_at):<16}  {_when(m.expires_at)}")
    return 0


def _show(client: Any, args: argparse.Namespace) -> int:
    out(json.dumps(client.model(model_arg(args.model)).raw, indent=2))
    return 0


def _remove(client: Any, args: argparse.Namespace) -> int:
    reply = client.delete_model(model_arg(args.model))
    out(json.dumps({"model_id": reply.model_id, "message": reply.message}))
    return 0


ACTIONS = {"list": _list, "show": _show, "rm": _remove, "delete": _remove}


def models_command(args: argparse.Namespace, url: str) -> int:
    from ..client import Client

    with Client(url, api_key=args.api_key) as client:
        return ACTIONS[args.models_command or "list"](client, args)


def transform_command(args: argparse.Namespace, url: str) -> int:
    from ..client import Client

    target = Path(args.out)
    if not target.parent.is_dir():
        raise UsageError(f"the output folder {str(target.parent)!r} does not exist")
    data = load_input(Path(args.input))
    model = model_arg(args.model)
    with Client(url, api_key=args.api_key) as client:
        job = client.submit_transform(model, data, chunk_size=args.chunk_size)
        rows, dims = data.shape
        if job.immediate:
            note(f"{rows} x {dims} placed into model {model} immediately by {url}")
        else:
            note(f"job {job.job_id} queued: {rows} x {dims} into model {model} on {url}")
        save(target, follow(job, not args.quiet))
    out(str(target))
    return 0


def add_parsers(sub: Any, server_option: ServerOption) -> tuple[argparse.ArgumentParser, ...]:
    """``models`` (with its actions) and ``transform``; the caller sets their ``func``."""
    models = sub.add_parser("models", help="list, show or remove kept models (default: list)",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    models.add_argument("--json", action="store_true", help="print the JSON list")
    server_option(models)
    actions = models.add_subparsers(dest="models_command", metavar="{list,show,rm}")
    listing = actions.add_parser("list", help="the kept models, oldest first")
    # SUPPRESS: an option left out here keeps what was given before the action
    listing.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                         help="print the JSON list")
    show = actions.add_parser("show", help="one model as JSON")
    remove = actions.add_parser("rm", aliases=["delete"], help="remove a model and its files")
    for action in (show, remove):
        action.add_argument("model", metavar="MODEL", help="a model id, or a file holding one")
    for action in (listing, show, remove):
        server_option(action, default=argparse.SUPPRESS)

    transform = sub.add_parser("transform", help="place new rows into a kept model's layout",
                               description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    transform.add_argument("model", metavar="MODEL", help="a model id, or a file holding one "
                           "(the OUT.model_id of run --keep-model)")
    transform.add_argument("input", metavar="INPUT", help="rows x the model's columns, .npy or .csv")
    transform.add_argument("--out", required=True, metavar="OUT.npy", help="where the positions go")
    transform.add_argument("--chunk-size", type=int, default=None, metavar="ROWS",
                           help="rows placed per step (the server's default if left out)")
    transform.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    server_option(transform)
    return models, transform
