"""Kept models, against a real service: a fit that keeps its model, placing new rows into
it (at once and as a job with a frame per chunk), the models endpoints, bad input, a
stable refit from a model, and models surviving a restart."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from streaming_umap.datasets import labelled_mixture
from streaming_umap.pipeline.refit import disparity

from .conftest import Service
from .helpers import frames, npy_bytes, start_job, submit, wait_status

API = "/umap/streaming"


def _mixture(rows: int, dims: int = 16, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    data, labels = labelled_mixture(rows, dims, seed=seed)
    order = np.random.default_rng(seed).permutation(rows)  # classes mixed through the rows
    return np.ascontiguousarray(data[order], dtype=np.float32), labels[order]


def _result(c: object, job_id: str) -> np.ndarray:
    response = c.get(f"{API}/result/{job_id}", params={"format": "npy"})  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text
    import io

    return np.load(io.BytesIO(response.content))


def _fit(c: object, data: np.ndarray, **params: object) -> tuple[str, np.ndarray]:
    job_id = start_job(c, "umap", data, keep_model="true", **params)  # type: ignore[arg-type]
    status = wait_status(c, job_id, timeout=600)  # type: ignore[arg-type]
    assert status["status"] == "completed", status
    assert status["model_id"] == job_id and status["result"]["model_id"] == job_id
    return job_id, _result(c, job_id)


def _transform(c: object, model_id: str, rows: np.ndarray, **params: object):  # type: ignore[no-untyped-def]
    query = {k: str(v) for k, v in params.items()}
    return c.post(f"{API}/transform/{model_id}", params=query, content=npy_bytes(rows),  # type: ignore[attr-defined]
                  headers={"Content-Type": "application/x-npy"})


def _accuracy(layout: np.ndarray, labels: np.ndarray, placed: np.ndarray, truth: np.ndarray) -> float:
    return float(KNeighborsClassifier(15).fit(layout, labels).score(placed, truth))


def test_a_kept_model_places_new_rows_at_once_and_as_a_job(service: Service) -> None:
    data, labels = _mixture(3600)
    fit, new = slice(0, 2400), slice(2400, 3600)
    with service.client() as c:
        model_id, layout = _fit(c, data[fit], random_state=0)

        info = c.get(f"{API}/models/{model_id}").json()
        assert (info["rows"], info["dims"], info["n_components"], info["metric"]) == (2400, 16, 2, "euclidean")
        assert info["job_id"] == model_id and info["backend"] in ("cpu", "gpu")
        assert "umap-learn" in info["versions"] and info["size_bytes"] >= 2400 * 16 * 4
        assert info["expires_at"] > info["last_used_at"] >= info["created_at"]
        assert model_id in [m["model_id"] for m in c.get(f"{API}/models").json()["models"]]

        # below the immediate threshold: answered at once, as JSON
        small = c.post(f"{API}/transform/{model_id}", json={"data": data[new][:400].tolist()})
        assert small.status_code == 200, small.text
        placed_now = np.asarray(small.json()["embeddings"], dtype=np.float32)
        assert placed_now.shape == (400, 2) and np.isfinite(placed_now).all()
        assert _accuracy(layout, labels[fit], placed_now, labels[new][:400]) >= 0.95

        # above it: a job, one progress frame and checkpoint per chunk of rows placed
        response = _transform(c, model_id, data[new], chunk_size=300)
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        seen = frames(service.ws_url, job_id)
        assert seen[-1]["type"] == "completed"
        # the hub keeps only the newest progress frame for a subscriber, so a chunk's frame
        # may be overtaken by the next one (or by the terminal frame) before it is sent
        chunks = [f["current_chunk"] for f in seen if f.get("stage") == "transform"]
        assert chunks and chunks == sorted(chunks) and set(chunks) <= {0, 1, 2, 3, 4}, chunks
        assert response.json()["estimated_chunks"] == 4
        status = c.get(f"{API}/status/{job_id}").json()
        assert (status["total_chunks"], status["processed_points"]) == (4, 1200), status
        assert status["kind"] == "transform" and status["params"]["model_id"] == model_id
        placed = np.asarray(status["result"]["embeddings"], dtype=np.float32)
        assert placed.shape == (1200, 2) and np.isfinite(placed).all()
        assert _accuracy(layout, labels[fit], placed, labels[new]) >= 0.95
        body = c.get(f"{API}/result/{job_id}").json()
        assert body["kind"] == "transform" and len(body["embeddings"]) == 1200

        # the training rows placed again land near where the fit put them
        again = np.asarray(c.post(f"{API}/transform/{model_id}",
                                  json={"data": data[:300].tolist()}).json()["embeddings"])
        spread = float(np.linalg.norm(layout.std(axis=0)))
        assert float(np.median(np.linalg.norm(again - layout[:300], axis=1))) < 0.1 * spread

        assert c.get(f"{API}/models/{model_id}").json()["last_used_at"] > info["last_used_at"]
        assert c.delete(f"{API}/models/{model_id}").status_code == 200
        assert c.get(f"{API}/models/{model_id}").status_code == 404
        gone = _transform(c, model_id, data[new][:10])
        assert gone.status_code == 404 and model_id in gone.json()["detail"]
        assert c.delete(f"{API}/models/{model_id}").status_code == 404


def test_bad_model_requests_are_clear_4xx(service: Service) -> None:
    data, _ = _mixture(1500, dims=8)
    with service.client() as c:
        immediate = c.post(f"{API}/umap", json={"data": data[:300].tolist(), "keep_model": True,
                                                "random_state": 1})
        assert immediate.status_code == 200, immediate.text
        model_id = immediate.json()["model_id"]
        assert model_id and c.get(f"{API}/models/{model_id}").json()["job_id"] is None

        wrong = c.post(f"{API}/transform/{model_id}", json={"data": np.ones((5, 3)).tolist()})
        assert wrong.status_code == 422 and wrong.json()["field"] == "data"
        assert "8 columns" in wrong.json()["detail"] and "3" in wrong.json()["detail"]

        unknown = c.post(f"{API}/transform/{'0' * 32}", json={"data": data[:5].tolist()})
        assert unknown.status_code == 404 and "no model" in unknown.json()["detail"]
        bad_id = c.post(f"{API}/umap", json={"data": data[:5].tolist(), "init_from": "x"})
        assert bad_id.status_code == 422 and bad_id.json()["field"] == "init_from"
        nan = data[:5].copy()
        nan[2, 1] = np.nan
        assert _transform(c, model_id, nan).status_code == 422

        # the model of a job still computing: 409 until it completes
        running = start_job(c, "umap", data, keep_model="true", n_epochs=5000)
        early = c.post(f"{API}/transform/{running}", json={"data": data[:5].tolist()})
        assert early.status_code == 409 and "still being fitted" in early.json()["detail"]
        assert submit(c, "umap", data, init_from=running).status_code == 409
        c.delete(f"{API}/cancel/{running}")
        assert wait_status(c, running)["status"] == "cancelled"
        assert c.get(f"{API}/models/{running}").status_code == 404  # a cancelled fit keeps nothing

        # keep_model also from the query string next to a JSON body; given twice differently: 422
        both = c.post(f"{API}/umap", params={"keep_model": "false"},
                      json={"data": data[:50].tolist(), "keep_model": True})
        assert both.status_code == 422 and both.json()["field"] == "keep_model"
        query = c.post(f"{API}/umap", params={"keep_model": "true"}, json={"data": data[:50].tolist()})
        assert query.status_code == 200 and query.json()["model_id"]
        assert c.delete(f"{API}/models/{model_id}").status_code == 200


def test_a_refit_from_a_model_keeps_old_points_where_they_were(service: Service) -> None:
    data, _ = _mixture(3000, dims=16, seed=5)
    with service.client() as c:
        model_id, old = _fit(c, data[:2000], random_state=2)
        refit_id = start_job(c, "umap", data, init_from=model_id, random_state=3)
        fresh_id = start_job(c, "umap", data, random_state=3)
        refit_status = wait_status(c, refit_id, timeout=600)
        assert refit_status["status"] == "completed", refit_status
        assert "refitted from model" in (refit_status["warning"] or "")
        assert wait_status(c, fresh_id, timeout=600)["status"] == "completed"
        refit, fresh = _result(c, refit_id), _result(c, fresh_id)
        assert refit.shape == (3000, 2) and np.isfinite(refit).all()
        moved, independent = disparity(refit[:2000], old), disparity(fresh[:2000], old)
        assert moved < 0.5 * independent and moved < 0.1, (moved, independent)
        # aligned back onto the model's coordinates: old points are drawn where they were
        spread = float(np.linalg.norm(old.std(axis=0)))
        assert float(np.median(np.linalg.norm(refit[:2000] - old, axis=1))) < 0.5 * spread

        shuffled = data.copy()
        shuffled[[10, 11]] = shuffled[[11, 10]]
        bad = start_job(c, "umap", shuffled, init_from=model_id)
        failed = wait_status(c, bad)
        assert failed["status"] == "failed" and "row 10 differs" in failed["error"]
        too_few = submit(c, "umap", data[:1500], init_from=model_id)
        assert too_few.status_code == 422 and "2000 training rows" in too_few.json()["detail"]
        three = submit(c, "umap", data, init_from=model_id, n_components=3)
        assert three.status_code == 422 and three.json()["field"] == "n_components"
        c.delete(f"{API}/models/{model_id}")


@pytest.mark.timeout(900)
def test_models_survive_a_restart_and_expire_when_unused(make_service: object) -> None:
    svc: Service = make_service(STREAMING_UMAP_WARMUP="light", GPU_UMAP_MAX_CONCURRENT_JOBS="1")  # type: ignore[operator]
    data, labels = _mixture(5999, dims=12, seed=7)
    with svc.client() as c:
        model_id, layout = _fit(c, data[:5000], random_state=4)
    # above brute-force size, the fit's worker built the model's neighbour index as it ended
    assert len(list((svc.data_dir / "models" / model_id).glob("index-cpu-*.pkl"))) == 1
    svc.stop()
    svc.start(wait_warm=False)
    with svc.client() as c:
        info = c.get(f"{API}/models/{model_id}").json()
        assert info["rows"] == 5000
        placed = np.asarray(c.post(f"{API}/transform/{model_id}",
                                   json={"data": data[5000:].tolist()}).json()["embeddings"])
        assert _accuracy(layout, labels[:5000], placed, labels[5000:]) >= 0.95
    svc.stop()
    # its own retention: unused for longer than STREAMING_UMAP_MODEL_TTL, the sweep removes it
    svc.env.update(STREAMING_UMAP_MODEL_TTL="2", STREAMING_UMAP_SWEEP_INTERVAL="0.5")
    svc.start(wait_warm=False)
    with svc.client() as c:
        from .helpers import wait_for

        wait_for(lambda: c.get(f"{API}/models/{model_id}").status_code == 404, timeout=60)
    assert not (svc.data_dir / "models" / model_id).exists()


def _clustered(c: object, points: np.ndarray, **params: object) -> tuple[str, dict]:  # type: ignore[type-arg]
    job_id = start_job(c, "cluster", points, **params)  # type: ignore[arg-type]
    assert wait_status(c, job_id)["status"] == "completed"  # type: ignore[arg-type]
    return job_id, c.get(f"{API}/result/{job_id}").json()  # type: ignore[attr-defined]


def _attach(c: object, model_id: str, job_id: str):  # type: ignore[no-untyped-def]
    return c.post(f"{API}/models/{model_id}/clustering", json={"job_id": job_id})  # type: ignore[attr-defined]


def _nearest_label(layout: np.ndarray, labels: np.ndarray, placed: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    _, nearest = NearestNeighbors(n_neighbors=1).fit(layout).kneighbors(placed)
    found: np.ndarray = np.asarray(labels)[nearest[:, 0]]
    return found


def test_a_model_with_a_clustering_labels_the_rows_it_places(service: Service) -> None:
    from streaming_umap.client import Client

    data, _ = _mixture(3600)
    fit, new = slice(0, 2400), slice(2400, 3600)
    with service.client() as c:
        model_id, layout = _fit(c, data[fit], random_state=0)
        kmeans_id, kmeans = _clustered(c, layout, algorithm="kmeans", n_clusters=20, random_state=0)
        hdbscan_id, hdbscan = _clustered(c, layout, algorithm="hdbscan", min_cluster_size=30)

        attached = _attach(c, model_id, kmeans_id)
        assert attached.status_code == 200, attached.text
        entry = attached.json()["clustering"]
        assert (entry["job_id"], entry["algorithm"], entry["space"]) == (kmeans_id, "kmeans", "layout")
        assert entry["n_clusters"] == 20 and entry["radius"] is None and entry["params"]["n_clusters"] == 20
        assert c.get(f"{API}/models/{model_id}").json()["clustering"] == entry

        # at once: kmeans labels are the nearest centre of where the rows were placed
        now = c.post(f"{API}/transform/{model_id}", json={"data": data[new][:400].tolist()}).json()
        placed, labels = np.asarray(now["embeddings"]), np.asarray(now["labels"])
        assert labels.shape == (400,) and now["n_clusters"] == 20
        centers = np.asarray(kmeans["centers"])
        nearest_centre = np.linalg.norm(placed[:, None, :] - centers[None], axis=2).argmin(axis=1)
        np.testing.assert_array_equal(labels, nearest_centre)
        assert np.mean(labels == _nearest_label(layout, kmeans["labels"], placed)) >= 0.9

        # the hdbscan clustering replaces it; a job's result carries the labels too
        entry = _attach(c, model_id, hdbscan_id).json()["clustering"]
        assert entry["algorithm"] == "hdbscan" and len(entry["radius"]) == hdbscan["n_clusters"] >= 2
        response = _transform(c, model_id, data[new])
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        status = wait_status(c, job_id)
        assert status["status"] == "completed" and status["result"]["n_clusters"] == hdbscan["n_clusters"]
        body = c.get(f"{API}/result/{job_id}").json()
        placed, labels = np.asarray(body["embeddings"]), np.asarray(body["labels"])
        assert labels.shape == (1200,) and labels.max() < hdbscan["n_clusters"]
        assert np.mean(labels == _nearest_label(layout, hdbscan["labels"], placed)) >= 0.9
        np.testing.assert_array_equal(_result(c, job_id), placed.astype(np.float32))  # npy: the embedding

        # through the Python client: at once and as a job
        with Client(service.url, timeout=120) as client:
            small = client.transform_labelled(model_id, data[new][:300], progress=False)
            assert small.labels is not None and small.labels.shape == (300,)
            assert small.n_clusters == hdbscan["n_clusters"] and small.embedding.shape == (300, 2)
            large = client.transform_labelled(model_id, data[new], progress=False)
            np.testing.assert_array_equal(large.labels, labels)
            info = client.detach_clustering(model_id)
            assert info.clustering is None
            assert client.transform_labelled(model_id, data[new][:50], progress=False).labels is None
            assert client.attach_clustering(model_id, kmeans_id).clustering["algorithm"] == "kmeans"  # type: ignore[index]

        # detached: transforms place rows without labels
        assert c.delete(f"{API}/models/{model_id}/clustering").json()["clustering"] is None
        plain = c.post(f"{API}/transform/{model_id}", json={"data": data[new][:20].tolist()}).json()
        assert plain.get("labels") is None and len(plain["embeddings"]) == 20
        c.delete(f"{API}/models/{model_id}")


def test_attaching_a_clustering_that_does_not_fit_the_model_is_a_clear_4xx(service: Service) -> None:
    data, _ = _mixture(2600, dims=8, seed=9)
    with service.client() as c:
        model_id, _layout = _fit(c, data[:1200], random_state=1, n_epochs=50)
        other, _ = _clustered(c, data[:1500], algorithm="kmeans", n_clusters=4, random_state=0)
        wrong = _attach(c, model_id, other)
        assert wrong.status_code == 422 and wrong.json()["field"] == "job_id"
        assert "1500 rows of 8 columns" in wrong.json()["detail"] and "1200 x 2" in wrong.json()["detail"]
        not_cluster = _attach(c, model_id, model_id)
        assert not_cluster.status_code == 422 and "umap job" in not_cluster.json()["detail"]
        unknown = _attach(c, model_id, "f" * 32)
        assert unknown.status_code == 404 and "no job" in unknown.json()["detail"]
        assert _attach(c, "0" * 32, other).status_code == 404
        assert c.post(f"{API}/models/{model_id}/clustering", json={"job": other}).status_code == 422

        running = start_job(c, "umap", data, n_epochs=5000)
        early = _attach(c, model_id, running)
        assert early.status_code == 409 and "once it has completed" in early.json()["detail"]
        c.delete(f"{API}/cancel/{running}")
        assert wait_status(c, running)["status"] == "cancelled"
        assert c.get(f"{API}/models/{model_id}").json()["clustering"] is None
        c.delete(f"{API}/models/{model_id}")
