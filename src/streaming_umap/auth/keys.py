"""API keys: created once, stored as a hash, checked in constant time.

A key reads ``sumap_<id>_<secret>``: ``id`` is 12 hex digits, public (``keys list``
shows it, job records name it as their owner); ``secret`` is 32 random bytes in
URL-safe base64 (256 bits), shown once by ``keys create`` and never stored: the store
keeps its SHA-256. A secret that strong needs no slow password hash; one hash per
request costs microseconds. Every character is valid in an HTTP header and in a
``Sec-WebSocket-Protocol`` token.

The keys live in ``data/keys.sqlite3`` (mode 0600), apart from the job records, so the
CLI can create and revoke keys while a server runs: the server reads the table on each
request, so a new key works, and a revoked one stops working, at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from .principal import Principal, Quota

KEY_PREFIX = "sumap"
_KEY = re.compile(rf"^{KEY_PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_sha256 TEXT NOT NULL,
    admin INTEGER NOT NULL, created_at REAL NOT NULL, revoked_at REAL,
    max_jobs INTEGER, max_upload_bytes INTEGER, max_stored_bytes INTEGER
);
"""
_FIELDS = ("id", "name", "admin", "created_at", "revoked_at", "max_jobs", "max_upload_bytes",
           "max_stored_bytes")


def parse_key(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed key, else None."""
    match = _KEY.match(token.strip())
    return (match.group(1), match.group(2)) if match else None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never its secret)."""

    id: str
    name: str
    admin: bool
    created_at: float
    revoked_at: float | None = None
    max_jobs: int | None = None
    max_upload_bytes: int | None = None
    max_stored_bytes: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def principal(self, default: Quota) -> Principal:
        """The principal this key gives; admin keys have no quota of their own."""
        quota = Quota() if self.admin else Quota(
            max_jobs=self.max_jobs if self.max_jobs is not None else default.max_jobs,
            max_upload_bytes=(self.max_upload_bytes if self.max_upload_bytes is not None
                              else default.max_upload_bytes),
            max_stored_bytes=(self.max_stored_bytes if self.max_stored_bytes is not None
                              else default.max_stored_bytes))
        return Principal(key_id=self.id, name=self.name, admin=self.admin, quota=quota)


class KeyStore:
    """The key table. Short calls, safe from any thread (one lock)."""

    FILE = "keys.sqlite3"

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / self.FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=5.0)
        if fresh:
            os.chmod(self.path, 0o600)  # hashes only, but nobody else's business
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def create(self, name: str, *, admin: bool = False, max_jobs: int | None = None,
               max_upload_bytes: int | None = None,
               max_stored_bytes: int | None = None) -> tuple[ApiKey, str]:
        """A new key: its record and the key itself (the only time it exists in full)."""
        name = name.strip()
        if not name or len(name) > 100 or not name.isprintable():
            raise ConfigError(f"a key's name must be 1 to 100 printable characters, found {name!r}")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        record = ApiKey(key_id, name, admin, time.time(), None, max_jobs, max_upload_bytes,
                        max_stored_bytes)
        with self._lock:
            self._db.execute(
                "INSERT INTO api_keys (id, name, secret_sha256, admin, created_at, max_jobs, "
                "max_upload_bytes, max_stored_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key_id, name, _digest(secret), int(admin), record.created_at, max_jobs,
                 max_upload_bytes, max_stored_bytes))
        return record, f"{KEY_PREFIX}_{key_id}_{secret}"

    def records(self) -> list[ApiKey]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_FIELDS)} FROM api_keys ORDER BY created_at").fetchall()
        return [self._record(row) for row in rows]

    def revoke(self, key_id_or_name: str) -> list[ApiKey]:
        """Revoke the key with this id, or every active key with this name; returns them."""
        now = time.time()
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_FIELDS)} FROM api_keys WHERE (id = ? OR name = ?) "
                "AND revoked_at IS NULL", (key_id_or_name, key_id_or_name)).fetchall()
            self._db.executemany("UPDATE api_keys SET revoked_at = ? WHERE id = ?",
                                 [(now, row[0]) for row in rows])
        return [self._record(row) for row in rows]

    def verify(self, token: str) -> ApiKey | None:
        """The active key ``token`` is, else None. The comparison takes the same time
        whether the id exists or not, and whichever byte of the secret differs."""
        parsed = parse_key(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        with self._lock:
            row = self._db.execute(
                f"SELECT {', '.join(_FIELDS)}, secret_sha256 FROM api_keys WHERE id = ?",
                (key_id,)).fetchone()
        stored = row[-1] if row is not None else _DUMMY_HASH
        matches = hmac.compare_digest(_digest(secret), stored)
        if row is None or not matches:
            return None
        record = self._record(row[:-1])
        return record if record.active else None

    def has_keys(self) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL").fetchone()
        return bool(row[0])

    @staticmethod
    def _record(row: tuple[object, ...]) -> ApiKey:
        values = dict(zip(_FIELDS, row))
        values["admin"] = bool(values["admin"])
        return ApiKey(**values)  # type: ignore[arg-type]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"KeyStore(path={str(self.path)!r})"
