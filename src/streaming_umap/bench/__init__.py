"""The benchmark suite: the service against the bare library, side by side.

``streaming-umap bench [--profile quick|full|service|smoke]`` (or ``make bench``)
starts a real server and a warm bare-library process, runs the figures
(:mod:`.figures`), and writes ``<out>/<date>-<device>.json``, PNG plots and the
tables of ``benchmarks/README.md``. Entry point: :func:`main`.
"""

from __future__ import annotations

from ._main import main

__all__ = ["main"]
