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
