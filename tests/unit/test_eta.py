from __future__ import annotations

import pytest

from streaming_umap.pipeline.eta import PRIORS, CostModel, ProgressTracker, StagePlan


def plan(*seconds: float) -> list[StagePlan]:
    names = ("load", "knn", "graph", "layout", "write")
    return [StagePlan(n, n, 1.0, s) for n, s in zip(names, seconds)]


def test_plan_uses_the_exact_or_approximate_knn_cost() -> None:
    model = CostModel("cpu")
    small = model.plan("umap", 2000, 64, {"n_neighbors": 15}, exact_max_rows=4096)
    big = model.plan("umap", 50_000, 64, {"n_neighbors": 15}, exact_max_rows=4096)
    assert [p.stage for p in small] == ["load", "knn", "graph", "layout", "write"]
    assert small[1].key == "knn:exact" and big[1].key == "knn:approx"
    assert model.total(big) > model.total(small)


def test_a_sampled_fit_plans_the_fit_on_the_sample_and_a_transform_stage() -> None:
    model = CostModel("cpu")
    full = {p.stage: p for p in model.plan("umap", 100_000, 64, {"n_neighbors": 15}, 4096)}
    sampled = {p.stage: p for p in model.plan("umap", 100_000, 64, {"n_neighbors": 15,
                                                                    "fit_sample_rows": 20_000}, 4096)}
    assert "transform" not in full and list(sampled) == ["load", "knn", "graph", "layout", "transform", "write"]
    assert sampled["layout"].units < full["layout"].units and sampled["load"].units == full["load"].units
    assert sampled["transform"].units == 80_000 * 15 * 100


def test_layout_cost_follows_the_epoch_default() -> None:
    model = CostModel("cpu")
    layout = {p.stage: p for p in model.plan("umap", 10_000, 8, {}, 0)}["layout"]
    more = {p.stage: p for p in model.plan("umap", 10_001, 8, {}, 0)}["layout"]
    assert layout.units == 500 * 10_000 * 15 and more.units == 200 * 10_001 * 15


def test_calibration_scales_every_prior_by_the_machine_speed() -> None:
    model = CostModel("cpu")
    factor = model.calibrate({"layout": PRIORS["cpu"]["layout"] * 2, "knn:exact": 1.0})
    assert factor == pytest.approx(2.0)
    assert model.coef["knn:exact"] == pytest.approx(PRIORS["cpu"]["knn:exact"] * 2)
    assert model.calibrate({"layout": PRIORS["cpu"]["layout"] * 100}) == 4.0


def test_observation_moves_halfway_in_log_space() -> None:
    model = CostModel("cpu", {"layout": 1e-7})
    model.observe("layout", units=1e7, seconds=4.02)  # measured 4e-7 per unit
    assert model.coef["layout"] == pytest.approx(2e-7)


def test_progress_is_even_when_predictions_hold() -> None:
    tracker = ProgressTracker(plan(1, 2, 1, 5, 1), now=0.0)
    starts = {"load": 0, "knn": 1, "graph": 3, "layout": 4, "write": 9}
    seen = []
    for t in [x * 0.5 for x in range(20)]:
        for stage, start in starts.items():
            if start <= t:
                tracker.on_stage(stage, 10, start)
        stage = max((s for s in starts if starts[s] <= t), key=lambda s: starts[s])
        duration = {"load": 1, "knn": 2, "graph": 1, "layout": 5, "write": 1}[stage]
        tracker.on_advance(int(10 * (t - starts[stage]) / duration), t)
        progress, eta = tracker.estimate(t)
        seen.append(progress)
        assert eta == pytest.approx(10 - t, abs=0.6)
        assert progress == pytest.approx(10 * t, abs=6)
    assert seen == sorted(seen)


def test_slow_stage_stretches_the_eta_and_progress_never_goes_back() -> None:
    tracker = ProgressTracker(plan(1, 1, 1, 1, 1), now=0.0)
    tracker.on_stage("load", 1, 0.0)
    _, first = tracker.estimate(0.0)
    tracker.on_stage("knn", 1, 4.0)  # load took 4x longer than predicted
    progress, later = tracker.estimate(4.0)
    assert first == pytest.approx(5.0)
    assert later == pytest.approx(4 * 4 ** 0.2, rel=0.01)  # load was 1/5 of the plan
    for t in (5.0, 8.0, 20.0):
        p, _ = tracker.estimate(t)
        assert p >= progress
        progress = p


def test_pause_freezes_the_clock() -> None:
    tracker = ProgressTracker(plan(10, 1, 1, 1, 1), now=0.0)
    tracker.on_stage("load", 1, 0.0)
    tracker.pause(1.0)
    before = tracker.estimate(1.0)
    assert tracker.estimate(50.0) == before
    tracker.resume(50.0)
    assert tracker.estimate(50.5)[1] < before[1]


def test_a_slow_metric_has_its_own_knn_coefficient_learnt_apart() -> None:
    model = CostModel("cpu")
    fast = model.plan("umap", 50_000, 64, {"metric": "cosine"}, exact_max_rows=4096)
    slow = model.plan("umap", 50_000, 64, {"metric": "manhattan"}, exact_max_rows=4096)
    assert fast[1].key == "knn:approx" and slow[1].key == "knn:approx:manhattan"
    before = model.coef["knn:approx"]
    model.observe("knn:approx:manhattan", slow[1].units, slow[1].seconds * 9)
    assert model.coef["knn:approx"] == before  # euclidean and cosine jobs keep their ETA
    assert model.predict("knn:approx:manhattan", slow[1].units) > 2.5 * slow[1].seconds


def test_a_first_run_adds_its_cost_to_the_stage_and_is_learnt_apart() -> None:
    model = CostModel("cpu")
    key, extra = model.first_run("knn", {"metric": "correlation"})
    assert key == "first:knn:correlation" and extra == PRIORS["cpu"]["first:knn"]
    assert model.first_run("knn", {"metric": "cosine"})[1] < extra  # the warm-up compiled it
    assert model.first_run("layout", {}) == ("", 0.0)
    tracker = ProgressTracker(plan(1, 2, 1, 5, 1), now=0.0)
    tracker.on_stage("load", 1, 0.0)
    _, before = tracker.estimate(1.0)
    tracker.on_stage("knn", 1, 1.0, (key, extra))
    _, after = tracker.estimate(1.0)
    assert after == pytest.approx(before + extra, rel=0.05)
    tracker.on_stage("graph", 1, 30.0)  # the kNN took 29 s: 2 s of work, 27 s of compile
    knn, seconds = tracker.finished[1]
    assert knn.first_run_key == key and seconds == 29.0
    model.observe(knn.first_run_key, 1.0, seconds - (knn.seconds - knn.first_run_seconds))
    assert model.coef[key] == pytest.approx((extra * 27.0) ** 0.5, rel=0.01)
    assert model.coef["first:knn"] == PRIORS["cpu"]["first:knn"]


def test_cluster_priors_follow_the_measured_growth() -> None:
    model = CostModel("cpu")
    model.calibrate({"layout": 1.66e-7})  # what the warm-up measured on the box timed below

    def seconds(rows: int, dims: int, **params: object) -> float:
        stages = model.plan("cluster", rows, dims, dict(params), 0)
        return next(p.seconds for p in stages if p.stage == "cluster")

    # measured on 2 cores (benchmarks/bench_eta.py and in process): 7.6 s and 40.1 s
    assert seconds(20_000, 16, algorithm="hdbscan") == pytest.approx(7.6, rel=0.25)
    assert seconds(50_000, 16, algorithm="hdbscan") == pytest.approx(40.1, rel=0.25)
    assert seconds(20_000, 512, algorithm="kmeans", n_clusters=32) == pytest.approx(2.2, rel=0.25)
    assert seconds(50_000, 32, algorithm="dbscan") == pytest.approx(9.9, rel=0.25)


def test_learnt_values_of_the_old_cluster_units_are_not_used() -> None:
    old_store = {"cluster:hdbscan": 2e-7, "cluster:dbscan": 4e-11}  # per the earlier units
    model = CostModel("cpu", dict(old_store))
    plan = {p.stage: p for p in model.plan("cluster", 20_000, 32, {"algorithm": "hdbscan"}, 0)}
    assert plan["cluster"].key == "cluster:hdbscan/v2"
    assert plan["cluster"].seconds == pytest.approx(CostModel("cpu").plan(
        "cluster", 20_000, 32, {"algorithm": "hdbscan"}, 0)[1].seconds)
