"""Issue 2's benchmark: the service end to end vs umap-learn in a warm process,
side by side in one run on the same data (10k and 100k x 512, cosine, labelled
mixture), plus the time from the upload's answer to the first WebSocket frame,
frames received, ``/health`` latency while 3 jobs run, peak RSS of the server, its
workers and the baseline, and JSON vs ``.npy`` upload time and server memory.

    python benchmarks/bench_service.py [--note TEXT] [--server URL] [--budget S]

It is the suite's ``service`` profile (``streaming-umap bench --profile service``):
results go to ``benchmarks/results/<date>-<device>-service.json`` with PNG plots,
and the tables of ``benchmarks/README.md`` are rebuilt. Any option of
``streaming-umap bench`` may be added.
"""

from __future__ import annotations

import sys
from pathlib import Path

from streaming_umap.bench import main

HERE = Path(__file__).resolve().parent


def run(argv: list[str]) -> int:
    defaults = ["--profile", "service", "--out", str(HERE / "results"),
                "--readme", str(HERE / "README.md")]
    return main(defaults + argv)  # later options win: the caller's override these


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
