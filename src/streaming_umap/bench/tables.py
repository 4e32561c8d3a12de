"""Markdown tables of results, for the generated part of ``benchmarks/README.md``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .goals import goals

TEMPLATE = """# Benchmarks

Every figure is a ratio against a baseline measured in the same run, on the same
data: the bare library in a warm process (umap-learn on CPU, `cuml.UMAP` on GPU),
the default chunk size, one job alone, the `.npy` upload, the library's layout,
the job's actual completion time. Timings taken on a shared or busy machine are
marked as such (the suite measures how much CPU other processes used meanwhile).

## How to run

```bash
make bench                                   # = streaming-umap bench --profile quick
streaming-umap bench --profile quick         # CPU profile, under 10 minutes on 2 cores
streaming-umap bench --profile full          # every size up to 1M rows: for GPU machines
python benchmarks/bench_service.py           # issue 2's side-by-side benchmark
streaming-umap bench --readme-only           # rebuild the tables below from results/
```

Options: `--figures service,ingest` (a subset), `--server URL` (measure a running
server instead of starting one; its memory is sampled when its process is local),
`--budget SECONDS`, `--note TEXT` (recorded with the results), `--out DIR`.
Results go to `results/<date>-<device>.json` (issue 2's benchmark:
`<date>-<device>-service.json`), plots to `results/<date>-<device>[-profile]-<figure>.png`.

The suite starts its own server (`streaming-umap serve` on a free port, CPU or GPU
backend as detected, `GPU_UMAP_MAX_CONCURRENT_JOBS` = 3) and one baseline process,
and warms both before timing anything. Both use the same `NUMBA_CACHE_DIR`
(default `.cache/numba`). Same parameters on both sides: `n_neighbors=15`,
`min_dist=0.1`, `metric="cosine"`, `random_state=42` (with a fixed seed umap-learn's
layout runs on one thread, in the service as in the baseline).

On a GPU machine the baseline is bare `cuml.UMAP` (`--library auto` picks it when cuML
imports), and the `full` profile then also runs `benchmarks/bench_gpu.py` (the GPU
benchmark: bare cuML vs the service up to 1M rows, immediate latency, clustering,
cancel) into the same results folder; `--gpu-script no` skips it.

The figures:

1. **Service vs bare library**: end to end (POST of the `.npy` to the downloaded
   result) / `fit_transform` in a warm process, at 10k and 100k x 512; peak RSS; frames;
   where the time goes (the service's stages from its log, umap-learn's from timing
   wrappers around its own stage functions). First frame: the client opens the
   WebSocket when the POST is answered; the *first frame* is the snapshot (every status
   field, progress and ETA included), the *first progress frame* the next change the
   server pushes (during a stage without steps, such as NN-descent, that is the
   supervisor's next ETA tick).
2. **Scaling**: time and peak memory vs rows, 1k to 1M, log-log; sizes that do not fit
   the profile's time budget are listed as skipped.
3. **Chunk size**: time and memory vs the per-job `chunk_size` (= `GPU_UMAP_CHUNK_SIZE`);
   on CPU only the exact kNN (<= 4096 rows) is chunked.
4. **Ingest**: JSON vs `.npy` upload time and the server's memory growth.
5. **Concurrency**: 1, 2, 4, 8 jobs at once: throughput, p99 job latency, `/health` latency.
6. **Quality**: trustworthiness (k = 5) of our layout vs the library's; ARI of HDBSCAN on
   each layout vs the true labels (digits, labelled mixture).
7. **Progress**: predicted vs actual time left at 10 %, 50 %, 90 % progress.

Reading them:

- *+MiB* is the largest rise of one process's RSS during the measurement (what the job
  added); *MiB* columns are that process's peak RSS.
- Below 4096 rows umap-learn takes its small-data path: a full distance matrix through
  a per-pair function call, which is most of its time at 1k-3k rows; the service
  computes the exact kNN by matrix products there.
- With a fixed `random_state` umap-learn runs NN-descent on one thread; the service's
  NN-descent uses every core (the layout is single-threaded on both sides).
- The service's *graph* stage ends when the first epoch starts, so it holds the
  spectral init; the library's graph and init columns are added up to compare.

## Results

{begin}
{end}
"""


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "**no**"
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _conditions(result: dict[str, Any]) -> str:
    env = result.get("environment", {})
    machine = result.get("machine", {})
    parts = [f"{machine.get('cores', '?')} cores, {machine.get('ram_gib', '?')} GiB",
             f"backend `{result.get('backend')}` ({result.get('device_name')})",
             f"baseline `{result.get('library')}`",
             f"{result.get('elapsed_s', 0):.0f} s of a {result.get('budget_s', 0):.0f} s budget"]
    contention = (f"**taken under contention**: other processes kept "
                  f"{env.get('foreign_cores')} cores busy on average (load average "
                  f"{env.get('loadavg_start')} at start)" if env.get("contended")
                  else f"quiet machine (other processes: {env.get('foreign_cores')} cores on average)")
    text = "; ".join(parts) + ". " + contention + "."
    if env.get("note"):
        text += f" Note: {env['note']}"
    return text


def _service(fig: dict[str, Any]) -> str:
    rows = []
    for s in fig.get("sizes", []):
        job, mem = s["job"], s["memory"]
        rows.append([s["rows"], s["service_s"], s["library_s"], s["ratio"],
                     job["first_frame_ms"], job["first_progress_ms"], job["frames"],
                     mem["server"]["peak_mib"], mem["worker"]["peak_mib"],
                     mem["library"]["peak_mib"]])
    out = table(["rows", "service s", "library s", "ratio", "first frame ms",
                 "first progress ms", "frames", "server MiB", "worker MiB", "library MiB"], rows)
    return out + "\n\nWhere the time goes (seconds; the service's graph stage includes the " \
        "spectral init, so the library's graph and init are added up):\n\n" + _where(fig)


def _service_stages(size: dict[str, Any]) -> dict[str, float | None]:
    logged = size.get("logged_stage_seconds") or {}
    if logged:
        stages = {k.split(":")[0]: v["measured"] for k, v in logged.items()}
    else:
        stages = dict(size["job"]["stage_seconds"])
    return {"knn": stages.get("knn"), "graph": stages.get("graph"),
            "layout": stages.get("layout")}


def _library_stages(size: dict[str, Any]) -> dict[str, float | None]:
    lib = size.get("library_stage_seconds") or {}
    if not lib:
        return {"knn": None, "graph": None, "layout": None}
    return {"knn": lib.get("knn"), "graph": lib.get("graph", 0.0) + lib.get("init", 0.0),
            "layout": lib.get("layout")}


def _where(fig: dict[str, Any]) -> str:
    rows = []
    for s in fig.get("sizes", []):
        b, svc, lib = s["job"]["breakdown"], _service_stages(s), _library_stages(s)
        rows.append([s["rows"], "service", b["upload_s"], b["queue_s"], svc["knn"], svc["graph"],
                     svc["layout"], b["compute_s"], s["service_s"]])
        rows.append([s["rows"], "library", None, None, lib["knn"], lib["graph"], lib["layout"],
                     s["library_s"], s["library_s"]])
    return table(["rows", "side", "upload", "queue", "kNN", "graph + init", "layout epochs",
                  "compute", "end to end"], rows)


def _scaling(fig: dict[str, Any]) -> str:
    return table(["rows", "service s", "library s", "ratio", "worker +MiB", "library +MiB",
                  "memory ratio"],
                 [[p["rows"], p["service_s"], p["library_s"], p["ratio"], p["worker_growth_mib"],
                   p["library_growth_mib"], p["memory_ratio"]] for p in fig.get("points", [])])


def _chunks(fig: dict[str, Any]) -> str:
    base = fig.get("baseline", {})
    rows = [["default", base.get("total_chunks"), base.get("service_s"), 1.0, base.get("knn_s"),
             1.0, base.get("frames"), base.get("worker_growth_mib"), 1.0]]
    rows += [[p["chunk_size"], p["total_chunks"], p["service_s"], p["time_ratio"], p["knn_s"],
              p["knn_ratio"], p["frames"], p["worker_growth_mib"], p["memory_ratio"]]
             for p in fig.get("points", [])]
    return f"{fig.get('rows')} x {fig.get('dims')}:\n\n" + table(
        ["chunk size", "chunks", "time s", "ratio", "kNN s", "kNN ratio", "frames",
         "worker +MiB", "memory ratio"], rows)


def _ingest(fig: dict[str, Any]) -> str:
    return table(["rows", ".npy s", "JSON s", "ratio", ".npy MiB", "JSON MiB",
                  "server +MiB (.npy)", "server +MiB (JSON)", "memory ratio"],
                 [[s["rows"], s["npy"]["upload_s"], s["json"]["upload_s"], s["time_ratio"],
                   s["npy"]["body_mib"], s["json"]["body_mib"], s["npy"]["server_growth_mib"],
                   s["json"]["server_growth_mib"], s["memory_ratio"]]
                  for s in fig.get("sizes", [])])


def _concurrency(fig: dict[str, Any]) -> str:
    rows = [[lv["jobs"], lv["makespan_s"], lv["throughput_per_min"], lv["throughput_ratio"],
             lv["latency_p50_s"], lv["latency_p99_s"], lv["latency_ratio"],
             lv["health"]["p50_ms"], lv["health"]["p99_ms"]] for lv in fig.get("levels", [])]
    busy = fig.get("health_busy", {})
    return (f"{fig.get('rows')} x {fig.get('dims')} jobs; baseline: {fig.get('baseline')} "
            f"({fig.get('baseline_latency_s')} s).\n\n"
            + table(["jobs", "makespan s", "jobs/min", "ratio", "p50 latency s",
                     "p99 latency s", "ratio", "/health p50 ms", "/health p99 ms"], rows)
            + f"\n\n`/health` while >= 3 jobs ran: p50 {busy.get('p50_ms')} ms, p99 "
              f"{busy.get('p99_ms')} ms over {busy.get('samples')} requests.")


def _quality(fig: dict[str, Any]) -> str:
    return table(["data", "rows x dims", "metric", "trust service", "trust library", "ratio",
                  "ARI service", "ARI library", "ratio"],
                 [[d["data"], f"{d['rows']} x {d['dims']}", d["metric"], d["trust_service"],
                   d["trust_library"], d["trust_ratio"], d["ari_service"], d["ari_library"],
                   d["ari_ratio"]] for d in fig.get("data_sets", [])])


def _progress(fig: dict[str, Any]) -> str:
    def rows(marks: list[dict[str, Any]], who: str) -> list[list[Any]]:
        return [[who, f"{m['mark']:.0f} %", m["jobs"], m["median_ratio"],
                 m["median_abs_error_share"], m["max_abs_error_share"]] for m in marks]

    return table(["jobs", "mark", "n", "predicted/actual time left (median)",
                  "abs error / job time (median)", "(max)"],
                 rows(fig.get("by_mark", []), "alone")
                 + rows(fig.get("by_mark_concurrent", []), "concurrent"))


SECTIONS = (
    ("service", "1. Service vs bare library", _service),
    ("scaling", "2. Scaling", _scaling),
    ("chunks", "3. Chunk size", _chunks),
    ("ingest", "4. Ingest", _ingest),
    ("concurrency", "5. Concurrency", _concurrency),
    ("quality", "6. Quality", _quality),
    ("progress", "7. Progress (ETA)", _progress),
)


def render_one(result: dict[str, Any], results_rel: str) -> str:
    title = (f"### {result['device']}, profile `{result['profile']}` "
             f"({result.get('finished', result['date'])[:16]}, `{results_rel}/{result.get('_file', '')}`)")
    parts = [title, _conditions(result)]
    figures = result.get("figures", {})
    # checked again here, so the tables follow the current goal definitions
    goal_rows = [[g["goal"], g["value"], g["unit"], g["met"]] for g in goals(figures)]
    if goal_rows:
        parts.append(table(["goal", "value", "unit", "met"], goal_rows))
    plots = result.get("plots", {})
    for key, heading, render in SECTIONS:
        if key in figures:
            parts.append(f"#### {heading}\n\n{render(figures[key])}")
            if key in plots:
                parts.append(f"![{heading}]({results_rel}/{plots[key]})")
    extra = result.get("gpu_script")
    if extra:
        parts.append(f"GPU script `{extra['script']}` (exit code {extra['rc']}) wrote "
                     + ", ".join(f"[{f}]({results_rel}/{extra['out']}/{f})" for f in extra["files"]))
    for key, error in result.get("errors", {}).items():
        parts.append(f"**{key} failed**: {error}")
    if result.get("skipped"):
        parts.append("Skipped:\n\n" + "\n".join(
            f"- {s['figure']} {s['item']}: {s['reason']}" for s in result["skipped"]))
    return "\n\n".join(parts)


def render(results: list[dict[str, Any]], results_rel: str) -> str:
    if not results:
        return "No results yet: run `make bench`."
    return "\n\n".join(render_one(r, results_rel) for r in results)
