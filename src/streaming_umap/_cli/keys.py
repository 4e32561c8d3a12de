"""``streaming-umap keys create | list | revoke``: the API keys of a data folder.

They work on ``data/keys.sqlite3`` directly (``--data-dir``, else
``$STREAMING_UMAP_DATA_DIR``, else ``data``), also while a server runs on that folder: it
reads the table on every request, so a new key works and a revoked one stops at once.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..auth import ApiKey, KeyStore
from ..config import Settings


def _store(args: argparse.Namespace) -> KeyStore:
    folder = Path(args.data_dir) if args.data_dir else Settings.from_env().data_dir
    return KeyStore(folder)


def _mb(value: int | None) -> int | None:
    return None if value is None else value << 20


def _create(args: argparse.Namespace) -> int:
    store = _store(args)
    record, key = store.create(args.name, admin=args.admin, max_jobs=args.max_jobs,
                               max_upload_bytes=_mb(args.max_upload_mb),
                               max_stored_bytes=_mb(args.max_stored_mb))
    store.close()
    sys.stdout.write(key + "\n")  # the only time the key is shown: stdout, for $(...)
    role = "admin key (sees and controls every job)" if record.admin else "key"
    sys.stderr.write(f"created {role} {record.id} named {record.name!r} in {store.path}; "
                     "it is shown once: keep it (send it as Authorization: Bearer <key>)\n")
    return 0


def _when(at: float | None) -> str:
    return "" if at is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(at))


def _row(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "name": key.name, "admin": key.admin, "created_at": key.created_at,
            "revoked_at": key.revoked_at, "max_jobs": key.max_jobs,
            "max_upload_bytes": key.max_upload_bytes, "max_stored_bytes": key.max_stored_bytes}


def _list(args: argparse.Namespace) -> int:
    store = _store(args)
    records = [k for k in store.records() if args.all or k.active]
    store.close()
    if args.json:
        sys.stdout.write(json.dumps([_row(k) for k in records], indent=2) + "\n")
        return 0
    sys.stdout.write(f"{'ID':<12}  {'NAME':<20}  {'ROLE':<5}  {'CREATED':<16}  REVOKED\n")
    for key in records:
        sys.stdout.write(f"{key.id:<12}  {key.name:<20}  {'admin' if key.admin else 'user':<5}  "
                         f"{_when(key.created_at):<16}  {_when(key.revoked_at)}\n")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    store = _store(args)
    revoked = store.revoke(args.key)
    store.close()
    if not revoked:
        sys.stderr.write(f"streaming-umap: error: no active key with id or name {args.key!r}\n")
        return 4
    for key in revoked:
        sys.stdout.write(f"revoked {key.id} ({key.name})\n")
    return 0


def add_parser(sub: Any) -> None:
    keys = sub.add_parser("keys", help="create, list or revoke API keys",
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = keys.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser("create", help="create a key and print it (once)")
    create.add_argument("name", help="who or what the key is for")
    create.add_argument("--admin", action="store_true", help="sees and controls every job")
    create.add_argument("--max-jobs", type=int, default=None, metavar="N",
                        help="queued and running jobs (default: $STREAMING_UMAP_KEY_MAX_JOBS)")
    create.add_argument("--max-upload-mb", type=int, default=None, metavar="MB",
                        help="bytes per upload (default: $STREAMING_UMAP_KEY_MAX_UPLOAD_MB)")
    create.add_argument("--max-stored-mb", type=int, default=None, metavar="MB",
                        help="inputs and results kept (default: $STREAMING_UMAP_KEY_MAX_STORED_MB)")
    create.set_defaults(func=_create)
    listing = actions.add_parser("list", help="the active keys (--all: revoked ones too)")
    listing.add_argument("--all", action="store_true")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)
    revoke = actions.add_parser("revoke", help="revoke a key by id, or every key of a name")
    revoke.add_argument("key", metavar="ID|NAME")
    revoke.set_defaults(func=_revoke)
    for parser in (create, listing, revoke):
        parser.add_argument("--data-dir", default=None,
                            help="the server's data folder (default: $STREAMING_UMAP_DATA_DIR, else data)")
