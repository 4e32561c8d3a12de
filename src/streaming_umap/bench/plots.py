"""PNG plots of a run's figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)



def _row_ticks(ax: Any, rows: list[int], log: bool = True) -> None:
    """Ticks at the measured sizes, written out (log axes otherwise show 1.1 x 10^3)."""
    from matplotlib.ticker import NullFormatter, NullLocator

    if log:
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(rows, [f"{r:,}" for r in rows], rotation=30 if len(rows) > 4 else 0)


def _service(fig: dict[str, Any], plt: Any) -> Any:
    sizes = fig["sizes"]
    labels = [f"{s['rows']:,}" for s in sizes]
    x = range(len(sizes))
    figure, ax = plt.subplots(figsize=(6, 4))
    ax.bar([i - 0.2 for i in x], [s["service_s"] for s in sizes], 0.4, label="service (end to end)")
    ax.bar([i + 0.2 for i in x], [s["library_s"] for s in sizes], 0.4, label="bare library (warm)")
    for i, s in zip(x, sizes):
        ax.annotate(f"{s['ratio']:.2f}x", (i, max(s["service_s"], s["library_s"])),
                    ha="center", va="bottom")
    ax.set_xticks(list(x), labels)
    ax.set_xlabel("rows")
    ax.set_ylabel("seconds")
    ax.set_title("1. Service vs bare library")
    ax.legend()
    return figure


def _scaling(fig: dict[str, Any], plt: Any) -> Any:
    points = fig["points"]
    rows = [p["rows"] for p in points]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.loglog(rows, [p["service_s"] for p in points], "o-", label="service")
    left.loglog(rows, [p["library_s"] for p in points], "s--", label="bare library")
    left.set_xlabel("rows")
    left.set_ylabel("seconds")
    left.set_title("2. Time vs rows")
    left.legend()
    for key, style, label in (("worker_peak_mib", "o-", "service worker"),
                              ("library_peak_mib", "s--", "bare library")):
        pairs = [(p["rows"], p[key]) for p in points if p[key] and p[key] > 0]
        if pairs:
            right.loglog(*zip(*pairs), style, label=label)
    for ax in (left, right):
        _row_ticks(ax, rows)
    right.set_xlabel("rows")
    right.set_ylabel("peak RSS, MiB")
    right.set_title("2. Memory vs rows")
    right.legend()
    return figure


def _chunks(fig: dict[str, Any], plt: Any) -> Any:
    points = fig["points"]
    sizes = [p["chunk_size"] for p in points]
    figure, ax = plt.subplots(figsize=(6, 4))
    ax.semilogx(sizes, [p["service_s"] for p in points], "o-", label="job time")
    if all(p["knn_s"] is not None for p in points):
        ax.semilogx(sizes, [p["knn_s"] for p in points], "s--", label="kNN stage")
    ax.axhline(fig["baseline"]["service_s"], color="grey", lw=0.8, label="default chunk size")
    ax.set_xlabel("chunk size (rows)")
    ax.set_ylabel("seconds")
    ax.set_title(f"3. Chunk size ({fig['rows']:,} rows)")
    mem = ax.twinx()
    mem.semilogx(sizes, [p["worker_growth_mib"] or 0 for p in points], "^:", color="tab:red",
                 label="worker +MiB")
    mem.set_ylabel("worker peak RSS growth, MiB")
    _row_ticks(ax, sizes)
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower left")
    mem.legend(loc="lower right")
    return figure


def _ingest(fig: dict[str, Any], plt: Any) -> Any:
    sizes = fig["sizes"]
    x = range(len(sizes))
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, unit in ((left, "upload_s", "seconds"), (right, "server_growth_mib", "MiB")):
        ax.bar([i - 0.2 for i in x], [s["json"][key] or 0 for s in sizes], 0.4, label="JSON")
        ax.bar([i + 0.2 for i in x], [s["npy"][key] or 0 for s in sizes], 0.4, label=".npy")
        ax.set_xticks(list(x), [f"{s['rows']:,}" for s in sizes])
        ax.set_xlabel("rows")
        ax.set_ylabel(unit)
        ax.legend()
    left.set_title("4. Upload time")
    right.set_title("4. Server memory growth")
    return figure


def _concurrency(fig: dict[str, Any], plt: Any) -> Any:
    levels = fig["levels"]
    jobs = [lv["jobs"] for lv in levels]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(jobs, [lv["throughput_per_min"] for lv in levels], "o-", label="jobs/min")
    left.set_xticks(jobs)
    right.set_xticks(jobs)
    left.set_xlabel("jobs at once")
    left.set_ylabel("jobs per minute")
    twin = left.twinx()
    twin.plot(jobs, [lv["latency_p99_s"] for lv in levels], "s--", color="tab:red",
              label="p99 latency")
    twin.set_ylabel("p99 job latency, s")
    left.set_title("5. Throughput and latency")
    left.legend(loc="upper left")
    twin.legend(loc="lower right")
    right.plot(jobs, [lv["health"]["p50_ms"] for lv in levels], "o-", label="p50")
    right.plot(jobs, [lv["health"]["p99_ms"] for lv in levels], "s--", label="p99")
    right.axhline(fig["health_goal_ms"], color="grey", lw=0.8, label="goal (p99)")
    right.set_xlabel("jobs at once")
    right.set_ylabel("/health latency, ms")
    right.set_title("5. /health while jobs run")
    right.legend()
    return figure


def _quality(fig: dict[str, Any], plt: Any) -> Any:
    data = fig["data_sets"]
    x = range(len(data))
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in ((left, "trust", "trustworthiness"), (right, "ari", "ARI (HDBSCAN)")):
        ax.bar([i - 0.2 for i in x], [d[f"{key}_service"] for d in data], 0.4, label="service")
        ax.bar([i + 0.2 for i in x], [d[f"{key}_library"] for d in data], 0.4, label="bare library")
        ax.set_xticks(list(x), [d["data"] for d in data])
        ax.set_ylim(0, 1.05)
        ax.set_title(f"6. {title}")
        ax.legend(loc="lower right")
    return figure


def _progress(fig: dict[str, Any], plt: Any) -> Any:
    figure, ax = plt.subplots(figsize=(7, 4))
    for job in fig["jobs"]:
        marks = [p["mark"] for p in job["points"]]
        errors = [p["error_share"] for p in job["points"]]
        style = "o-" if job["tag"] == "alone" else "x:"
        ax.plot(marks, errors, style, alpha=0.7, label=f"{job['rows']:,} rows, {job['tag']}")
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xticks([10, 50, 90])
    ax.set_xlabel("progress, %")
    ax.set_ylabel("(predicted - actual end) / job time")
    ax.set_title("7. ETA error over a job's life")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize="small", loc="center left",
              bbox_to_anchor=(1.0, 0.5))
    return figure


PLOTTERS: dict[str, Callable[[dict[str, Any], Any], Any]] = {
    "service": _service, "scaling": _scaling, "chunks": _chunks, "ingest": _ingest,
    "concurrency": _concurrency, "quality": _quality, "progress": _progress,
}


def draw(figures: dict[str, dict[str, Any]], folder: Path, stem: str) -> dict[str, str]:
    """One PNG per figure; returns figure -> file name. Without matplotlib: none."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plots (pip install matplotlib)")
        return {}
    out: dict[str, str] = {}
    for key, fig in figures.items():
        plotter = PLOTTERS.get(key)
        if plotter is None:
            continue
        try:
            figure = plotter(fig, plt)
        except (KeyError, ValueError, TypeError, ZeroDivisionError) as exc:
            log.warning("no plot for %s: %s", key, exc)
            continue
        figure.tight_layout()
        name = f"{stem}-{key}.png"
        figure.savefig(folder / name, dpi=100, bbox_inches="tight")
        plt.close(figure)
        out[key] = name
    return out
