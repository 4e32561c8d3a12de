"""Results on disk: the JSON file of a run, the goals it met, and the generated
tables of ``benchmarks/README.md`` (rebuilt from every JSON file in the results
folder: the latest run per device and profile)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from . import tables
from .goals import goals

__all__ = ["device_slug", "goals", "latest_results", "result_name", "write_json",
           "write_readme"]

log = logging.getLogger(__name__)

BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def device_slug(backend: str, device: str) -> str:
    """``cpu-2-cores``, ``gpu-nvidia-h200``...: the ``<device>`` of file names."""
    name = device.removeprefix("CPU").strip(" ()") if backend == "cpu" else device
    return slug(f"{backend}-{name}")


def result_name(date: str, device: str, profile: str) -> str:
    """``<date>-<device>.json`` for the suite's profiles, with the profile added for
    the others (``service``: issue 2's benchmark; ``smoke``: tests)."""
    suffix = "" if profile in ("quick", "full") else f"-{profile}"
    return f"{date}-{device}{suffix}.json"


def write_json(result: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / result_name(result["date"], result["device"], result["profile"])
    path.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    log.info("wrote %s", path)
    return path


def write_figure(result: dict[str, Any], folder: Path, figure: str) -> Path:
    """A stand-alone benchmark's result (benchmarks/bench_*.py) as
    ``<date>-cpu-<cores>-cores-<figure>.json``, printed as well."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result['date']}-cpu-{result['cores']}-cores-{figure}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")
    return path


def latest_results(folder: Path) -> list[dict[str, Any]]:
    """The newest result per (device, profile)."""
    chosen: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError):
            log.warning("skipping %s: not a readable result file", path)
            continue
        if not isinstance(result, dict) or "profile" not in result or "device" not in result:
            continue
        key = (str(result.get("device")), str(result["profile"]))
        if key not in chosen or result.get("finished", "") >= chosen[key].get("finished", ""):
            result["_file"] = path.name
            chosen[key] = result
    order = {"service": 0, "quick": 1, "full": 2, "smoke": 3}
    return sorted(chosen.values(), key=lambda r: (r["device"], order.get(r["profile"], 9)))


def write_readme(readme: Path, results_dir: Path) -> None:
    """Replace the generated part of ``readme`` (between the markers) with tables of
    the latest results; create the file from the template if it has no markers."""
    body = tables.render(latest_results(results_dir), _relative(results_dir, readme.parent))
    text = readme.read_text() if readme.exists() else ""
    if BEGIN not in text or END not in text:
        text = tables.TEMPLATE.format(begin=BEGIN, end=END)
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}")
    log.info("wrote %s", readme)


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())
