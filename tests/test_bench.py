"""The benchmark suite's plumbing, at tiny sizes (``--profile smoke``).

These tests check that every figure is measured and written (JSON, PNG, README
tables), that ratios are what they claim to be, and that layout quality matches the
bare library's; they never check how fast anything is.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from streaming_umap import bench
from streaming_umap.bench.budget import Budget
from streaming_umap.bench.figures.progress import eta_points
from streaming_umap.bench.jobs import JobRun
from streaming_umap.bench.profiles import FIGURES, PROFILES
from streaming_umap.bench.report import BEGIN, END, device_slug, result_name
from streaming_umap.bench.sampling import MemorySampler

# the smoke run shares the session's server, whose warm-up may land in the first test
pytestmark = pytest.mark.timeout(900)

README_BEFORE = f"# Benchmarks\n\nhand-written intro\n\n{BEGIN}\nstale table\n{END}\n\nhand-written outro\n"


@dataclass
class SmokeRun:
    rc: int
    result: dict[str, Any]
    out: Path
    readme: Path

    @property
    def figures(self) -> dict[str, Any]:
        return self.result["figures"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def smoke(service: Any, tmp_path_factory: pytest.TempPathFactory) -> SmokeRun:
    """One smoke run of the whole suite against the shared test server."""
    folder = tmp_path_factory.mktemp("bench")
    out, readme = folder / "results", folder / "README.md"
    readme.write_text(README_BEFORE)
    rc = bench.main(["--profile", "smoke", "--server", service.url,
                     "--server-log", str(service.log_file), "--out", str(out),
                     "--readme", str(readme), "--note", "test run"])
    written = sorted(out.glob("*.json"))
    assert len(written) == 1, written
    return SmokeRun(rc, json.loads(written[0].read_text()), out, readme)


def test_every_figure_is_measured_and_written(smoke: SmokeRun) -> None:
    assert smoke.rc == 0, smoke.result["errors"]
    assert smoke.result["errors"] == {}
    assert set(smoke.figures) == set(FIGURES)
    assert smoke.result["profile"] == "smoke"
    assert smoke.result["library"] == {"cpu": "umap-learn", "gpu": "cuml"}[smoke.result["backend"]]
    assert smoke.result["environment"]["note"] == "test run"
    assert isinstance(smoke.result["environment"]["contended"], bool)
    name = result_name(smoke.result["date"], smoke.result["device"], "smoke")
    assert (smoke.out / name).exists()


def test_service_vs_library_is_a_ratio_of_the_same_run(smoke: SmokeRun, service: Any) -> None:
    sizes = smoke.figures["service"]["sizes"]
    assert [s["rows"] for s in sizes] == list(PROFILES["smoke"].service_rows)
    for size in sizes:
        assert size["service_s"] > 0 and size["library_s"] > 0
        # both times are rounded to 1 ms: allow for that on very short (GPU) runs
        slack = 0.01 + 0.001 / size["library_s"]
        assert size["ratio"] == pytest.approx(size["service_s"] / size["library_s"], rel=slack)
        job = size["job"]
        assert job["status"] == "completed"
        assert job["frame_types"]["snapshot"] == 1 and job["frame_types"]["completed"] == 1
        assert job["frame_types"].get("progress", 0) >= 1
        assert 0 < job["first_frame_ms"] <= job["first_progress_ms"]
        parts = job["breakdown"]
        assert parts["upload_s"] > 0 and parts["compute_s"] > 0 and parts["queue_s"] >= 0
        assert {"knn", "layout"} <= set(size["logged_stage_seconds"]) | {
            k.split(":")[0] for k in size["logged_stage_seconds"]}
        if smoke.result["library"] == "umap-learn":  # its stages are timed by wrappers
            assert {"knn", "graph", "layout"} <= set(size["library_stage_seconds"])
            assert sum(size["library_stage_seconds"].values()) <= size["library_s"] * 1.01
        if service.executor == "local":  # Dask workers are not this server's processes
            assert size["memory"]["worker"]["peak_mib"] > 50  # a real process was sampled
        assert size["memory"]["library"]["peak_mib"] > 50
    goals = {g["goal"].split(" (")[0] for g in smoke.result["goals"]}
    assert "service <= 1.1x warm library" in goals


def test_scaling_reuses_figure_one_and_is_ordered(smoke: SmokeRun) -> None:
    points = smoke.figures["scaling"]["points"]
    rows = [p["rows"] for p in points]
    assert rows == sorted(rows) == sorted(PROFILES["smoke"].scaling_rows)
    reused = {p["rows"] for p in points if p["from_figure_1"]}
    assert reused == set(PROFILES["smoke"].service_rows)


def test_chunk_sweep_changes_the_chunk_count(smoke: SmokeRun) -> None:
    fig = smoke.figures["chunks"]
    rows = fig["rows"]
    assert fig["baseline"]["total_chunks"] == math.ceil(rows / 1000)  # server default
    for point in fig["points"]:
        assert point["total_chunks"] == math.ceil(rows / point["chunk_size"])
        assert point["time_ratio"] == pytest.approx(
            point["service_s"] / fig["baseline"]["service_s"], rel=0.01)


def test_ingest_compares_json_with_npy(smoke: SmokeRun) -> None:
    for size in smoke.figures["ingest"]["sizes"]:
        assert size["json"]["body_mib"] > size["npy"]["body_mib"]
        # both upload times are rounded to 1 ms: on a small smoke body that is most of it
        slack = 0.02 + 0.001 / min(size["json"]["upload_s"], size["npy"]["upload_s"])
        assert size["time_ratio"] == pytest.approx(
            size["json"]["upload_s"] / size["npy"]["upload_s"], rel=slack)
        assert size["npy"]["server_peak_mib"] > 0


def test_concurrency_levels_and_health_samples(smoke: SmokeRun) -> None:
    fig = smoke.figures["concurrency"]
    assert [lv["jobs"] for lv in fig["levels"]] == list(PROFILES["smoke"].concurrency_levels)
    assert fig["baseline"] == "one job alone"
    for level in fig["levels"]:
        assert level["health"]["samples"] > 0 and level["health"]["errors"] == 0
        assert level["health"]["p50_ms"] <= level["health"]["p99_ms"]
        assert level["latency_p50_s"] <= level["latency_p99_s"] <= level["makespan_s"] + 0.5
    assert fig["health_all"]["samples"] >= sum(lv["health"]["samples"] for lv in fig["levels"])


def test_quality_matches_the_bare_library(smoke: SmokeRun) -> None:
    data = {d["data"].split("-")[0]: d for d in smoke.figures["quality"]["data_sets"]}
    assert set(data) == {"digits", "mixture"}
    assert data["digits"]["rows"] == 1797
    for d in data.values():
        assert d["trust_service"] >= 0.9
        assert d["trust_ratio"] >= 0.97
        assert d["ari_service"] >= 0.6
    assert data["mixture"]["ari_service"] >= 0.9


def test_progress_reports_each_mark(smoke: SmokeRun) -> None:
    fig = smoke.figures["progress"]
    assert any(j["tag"] == "alone" for j in fig["jobs"])
    assert any(j["tag"] != "alone" for j in fig["jobs"])  # the concurrency runs
    for job in fig["jobs"]:
        marks = [p["mark"] for p in job["points"]]
        assert marks == sorted(marks) and set(marks) <= {10.0, 50.0, 90.0}
        for point in job["points"]:
            assert point["progress"] >= point["mark"]
            assert 0.0 <= point["time_share"] <= 1.0
    assert [m["mark"] for m in fig["by_mark"]] == [10.0, 50.0, 90.0]


def test_plots_are_png_files(smoke: SmokeRun) -> None:
    plots = smoke.result["plots"]
    assert set(plots) == set(FIGURES)
    for name in plots.values():
        assert (smoke.out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_readme_tables_replace_only_the_generated_part(smoke: SmokeRun) -> None:
    text = smoke.readme.read_text()
    assert "hand-written intro" in text and "hand-written outro" in text
    assert "stale table" not in text
    generated = text.split(BEGIN)[1].split(END)[0]
    assert f"### {smoke.result['device']}, profile `smoke`" in generated
    for heading in ("1. Service vs bare library", "5. Concurrency", "7. Progress (ETA)"):
        assert f"#### {heading}" in generated
    for name in smoke.result["plots"].values():
        assert f"results/{name})" in generated


def test_readme_only_keeps_the_latest_run_per_device_and_profile(
    smoke: SmokeRun, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    results.mkdir()
    for stamp, profile, note in (("2000-01-01T00:00:00", "quick", "older"),
                                 ("2999-01-01T00:00:00", "quick", "newer"),
                                 ("2999-01-01T00:00:00", "service", "issue 2")):
        result = dict(smoke.result, finished=stamp, profile=profile,
                      environment=dict(smoke.result["environment"], note=note))
        (results / f"{stamp[:4]}-{profile}.json").write_text(json.dumps(result))
    readme = tmp_path / "README.md"
    assert bench.main(["--readme-only", "--out", str(results), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "# Benchmarks" in text and "## How to run" in text  # made from the template
    assert "Note: newer" in text and "Note: issue 2" in text
    assert "Note: older" not in text
    assert text.index("profile `service`") < text.index("profile `quick`")


@pytest.mark.parametrize("argv", [["--figures", "nope"], ["--profile", "nope"],
                                  ["--readme-only", "--readme", ""]])
def test_usage_errors_return_2(argv: list[str], tmp_path: Path) -> None:
    assert bench.main([*argv, "--out", str(tmp_path)]) == 2
    assert list(tmp_path.iterdir()) == []


def test_budget_skips_what_does_not_fit_and_says_why() -> None:
    budget = Budget(time.monotonic() + 30.0, "quick")
    assert budget.predict_pair(1000) > 0  # nothing measured yet: a fallback guess
    budget.record(10_000, 9.0, 8.0)
    assert budget.predict_pair(100_000) == pytest.approx(170.0)
    assert budget.predict_pair(5_000) == pytest.approx(8.5)
    assert not budget.over("scaling", "5000 rows", budget.predict_pair(5_000))
    assert budget.over("scaling", "100000 rows", budget.predict_pair(100_000))
    assert not budget.over("service", "100000 rows", 170.0, run_anyway=True)
    assert [s["item"] for s in budget.skipped] == ["100000 rows", "100000 rows"]
    assert "predicted 170 s" in budget.skipped[0]["reason"]
    assert budget.skipped[1]["reason"].endswith("ran anyway")


def test_memory_sampler_sees_a_process_grow(tmp_path: Path) -> None:
    grow = ("import sys, time; sys.stdin.readline(); block = bytearray(300 << 20); "
            "block[::4096] = b'x' * len(block[::4096]); print('grown', flush=True); "
            "sys.stdin.readline()")
    with subprocess.Popen([sys.executable, "-c", grow], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as child:
        sampler = MemorySampler(lambda: {"child": [child.pid]}, interval=0.02).start()
        try:
            with sampler.window() as peak:
                assert child.stdin is not None and child.stdout is not None
                child.stdin.write("go\n")
                child.stdin.flush()
                assert child.stdout.readline().strip() == "grown"
            growth = peak.growth_mib("child")
            assert growth is not None and growth >= 250
            assert (peak.busiest_mib("child") or 0) >= growth
            assert peak.growth_mib("absent") is None
        finally:
            sampler.stop()
            child.kill()


def _frame(at: float, progress: float, eta_at: float) -> dict[str, Any]:
    return {"type": "progress", "status": "processing", "timestamp": at,
            "progress_percentage": progress, "estimated_completion": eta_at}


def test_eta_points_compare_predicted_with_actual_time_left() -> None:
    run = JobRun("umap", 1000, record={"started_at": 100.0, "finished_at": 110.0})
    run.frames = [(0.0, _frame(100.5, 5.0, 111.0)), (0.0, _frame(101.0, 10.0, 112.0)),
                  (0.0, _frame(105.0, 50.0, 110.0)), (0.0, _frame(109.0, 90.0, 109.5))]
    points = {p["mark"]: p for p in eta_points(run)}
    assert points[10.0]["predicted_left_s"] == pytest.approx(11.0)
    assert points[10.0]["actual_left_s"] == pytest.approx(9.0)
    assert points[10.0]["error_share"] == pytest.approx(0.2)
    assert points[50.0]["ratio"] == pytest.approx(1.0)
    assert points[90.0]["time_share"] == pytest.approx(0.9)
    assert points[90.0]["error_share"] == pytest.approx(-0.05)
    assert eta_points(JobRun("umap", 10, record={"started_at": None})) == []


def test_device_names_for_files() -> None:
    assert device_slug("cpu", "CPU (2 cores)") == "cpu-2-cores"
    assert device_slug("gpu", "NVIDIA H200") == "gpu-nvidia-h200"
    assert result_name("2026-01-02", "cpu-2-cores", "quick") == "2026-01-02-cpu-2-cores.json"
    assert result_name("2026-01-02", "cpu-2-cores", "service").endswith("-service.json")


@pytest.mark.slow
def test_the_suite_starts_and_stops_its_own_server(tmp_path: Path) -> None:
    """The default path: the suite launches ``streaming-umap serve`` itself, reads its
    log for per-stage seconds, samples its processes, and stops it."""
    import psutil

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    rc = bench.main(["--profile", "smoke", "--figures", "service", "--out", str(tmp_path),
                     "--readme", ""])
    assert rc == 0
    (written,) = tmp_path.glob("*.json")
    result = json.loads(written.read_text())
    (size,) = result["figures"]["service"]["sizes"]
    assert size["logged_stage_seconds"], "per-stage seconds from the server's log"
    assert size["memory"]["server"]["peak_mib"] > 20
    assert result["startup"]["server_ready_s"] > 0
    left = {p.pid for p in psutil.Process().children(recursive=True)} - before
    assert left == set(), f"processes left running: {left}"
