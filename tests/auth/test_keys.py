"""API keys: the format, what is stored, verification, revocation, and the CLI."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest

from streaming_umap.auth import KeyStore, Principal, Quota, parse_key
from streaming_umap.cli import main
from streaming_umap.errors import ConfigError


def test_a_key_is_a_prefix_an_id_and_a_secret_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    record, key = store.create("alice")
    parsed = parse_key(key)
    assert parsed is not None and parsed[0] == record.id and key.startswith(f"sumap_{record.id}_")
    assert len(parsed[1]) == 43  # 32 random bytes, URL-safe base64
    raw = (tmp_path / "keys.sqlite3").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("keys.sqlite3-*"))
    assert parsed[1].encode() not in raw and key.encode() not in raw  # the secret is not kept
    assert stat.S_IMODE((tmp_path / "keys.sqlite3").stat().st_mode) == 0o600
    assert store.verify(key) == record
    assert store.verify(f"  {key} ") == record  # surrounding whitespace of a pasted key
    store.close()


@pytest.mark.parametrize("mutate", [
    lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # last character of the secret
    lambda k: k.replace("sumap_", "sumbp_"),
    lambda k: k[:6] + "0" * 12 + k[18:],  # another id, the same secret
    lambda k: k[:-2],
    lambda k: "",
    lambda k: k + "x",
])
def test_anything_but_the_exact_key_is_refused(tmp_path: Path, mutate: object) -> None:
    store = KeyStore(tmp_path)
    _, key = store.create("alice")
    assert store.verify(mutate(key)) is None  # type: ignore[operator]


def test_revoked_keys_stop_working_and_list_says_when(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    alice, key_a = store.create("alice")
    _, key_b = store.create("bob", admin=True)
    assert [k.id for k in store.revoke(alice.id)] == [alice.id]
    assert store.verify(key_a) is None and store.verify(key_b) is not None
    assert store.revoke(alice.id) == []  # already revoked
    listed = {k.name: k for k in store.records()}
    assert listed["alice"].revoked_at is not None and listed["bob"].admin and listed["bob"].active
    assert [k.name for k in store.revoke("bob")] == ["bob"]  # by name
    assert not store.has_keys()


def test_keys_give_principals_with_their_quota(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    user, _ = store.create("user", max_jobs=2)
    admin, _ = store.create("root", admin=True, max_jobs=2)
    default = Quota(max_jobs=20, max_upload_bytes=100, max_stored_bytes=1000)
    assert user.principal(default).quota == Quota(2, 100, 1000)
    assert admin.principal(default).quota == Quota()  # admins have no quota of their own
    p = user.principal(default)
    assert p.may_see(user.id) and not p.may_see(admin.id) and not p.may_see(None)
    assert admin.principal(default).may_see(None) and admin.principal(default).may_see(user.id)
    assert not Principal(None, "anonymous", authenticated=False).may_see(None)


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "tab\there"])
def test_a_key_needs_a_sensible_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="name must be 1 to 100 printable"):
        KeyStore(tmp_path).create(name)


def test_the_cli_creates_lists_and_revokes_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = str(tmp_path)
    assert main(["keys", "create", "ci", "--data-dir", folder, "--max-jobs", "3"]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert parse_key(key) is not None and "shown once" in err and key not in err
    assert main(["keys", "create", "ops", "--admin", "--data-dir", folder]) == 0
    capsys.readouterr()
    assert main(["keys", "list", "--json", "--data-dir", folder]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["ci"]["max_jobs"] == 3 and not rows["ci"]["admin"] and rows["ops"]["admin"]
    assert key not in json.dumps(rows)
    assert main(["keys", "revoke", "ci", "--data-dir", folder]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["keys", "revoke", "ci", "--data-dir", folder]) == 4  # nothing left to revoke
    assert main(["keys", "list", "--data-dir", folder]) == 0
    table = capsys.readouterr().out
    assert "ops" in table and "ci" not in table
    assert main(["keys", "list", "--all", "--data-dir", folder]) == 0
    assert "ci" in capsys.readouterr().out
    assert KeyStore(tmp_path).verify(key) is None


def test_the_key_table_is_its_own_file(tmp_path: Path) -> None:
    KeyStore(tmp_path).create("x")
    tables = sqlite3.connect(tmp_path / "keys.sqlite3").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert tables == [("api_keys",)]
