"""Which installed packages differ from a lock file (run by scripts/check-latest.sh).

    python scripts/lock_drift.py requirements/test.txt

Prints one line per package whose installed version is not the locked one, as
``name: locked -> installed``, plus the packages installed that the lock does not name.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: Path) -> dict[str, set[str]]:
    """Package -> the versions the lock pins for it (one per marker branch)."""
    pins: dict[str, set[str]] = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            pins.setdefault(canonical(match.group(1)), set()).add(match.group(2))
    return pins


def installed() -> dict[str, str]:
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()
            if d.metadata["Name"]}


def drift(pins: dict[str, set[str]], have: dict[str, str]) -> list[str]:
    lines = []
    for name in sorted(pins):
        version = have.get(name)
        if version is not None and version not in pins[name]:
            lines.append(f"{name}: locked {' or '.join(sorted(pins[name]))} -> newest {version}")
    ignore = {"pip", "streaming-umap"}
    for name in sorted(set(have) - set(pins) - ignore):
        lines.append(f"{name}: not in the lock -> {have[name]} (a new dependency)")
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    moved = drift(locked(Path(argv[1])), installed())
    print("\n".join(moved) if moved else f"every package is at its version in {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
