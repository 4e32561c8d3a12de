"""The API contract, through a real server, for every backend (GPU where present)."""

from __future__ import annotations

import io
import json
import re
import socket
import time

import msgspec
import numpy as np
import pytest
from websockets.sync.client import connect

from streaming_umap.datasets import labelled_mixture
from streaming_umap.schemas import AckFrame, ErrorFrame, LayoutHeaderFrame

from .conftest import Service
from .helpers import (
    TERMINAL,
    drain_frames,
    frames,
    npy_bytes,
    stalled_subscriber,
    start_job,
    submit,
    wait_for,
    wait_status,
)


def test_health_reports_backend_workers_and_version(service: Service) -> None:
    with service.client() as c:
        health = c.get("/health").json()
    assert health["status"] == "ok" and health["version"]
    assert health["backend"] in ("cpu", "gpu") and health["device"]
    assert health["workers"]["alive"] == health["workers"]["total"] == 2
    assert health["executor"] == service.executor
    # the local executor keeps a worker for immediate requests; on Dask they go to any worker
    assert health["workers"]["immediate"] == (1 if service.executor == "local" else 0)
    assert health["queue_depth"] >= 0


def test_docs_are_served_locally_over_the_generated_schema(service: Service) -> None:
    with service.client() as c:
        page = c.get("/docs")
        assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.text
        assert "http" not in page.text.split("<body>")[1].replace("http-equiv", "")
        linked = re.findall(r'(?:src|href)="(/docs/[^"]+)"', page.text)
        assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/docs/init.js"} <= set(linked)
        assert [url for url in linked if c.get(url).status_code != 200] == []
        # Swagger UI 4 cannot read an OpenAPI 3.1 document; 5 can (the browser test renders it)
        assert re.fullmatch(r"swagger-ui-dist 5\.\d+\.\d+\n", c.get("/docs/assets/VERSION").text)
        assert "validatorUrl: null" in c.get("/docs/init.js").text  # nothing leaves the machine
        spec = c.get("/openapi.json").json()
        for path in ("/umap/streaming/umap", "/umap/streaming/cluster"):  # "Try it out" sends these
            example = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"]
            answer = c.post(path, json=example)
            assert answer.status_code == 200 and answer.json()["job_id"] == "immediate", answer.text
    assert {"/umap/streaming/umap", "/umap/streaming/cluster", "/umap/streaming/status/{job_id}",
            "/umap/streaming/cancel/{job_id}", "/umap/streaming/jobs", "/health"} <= set(spec["paths"])
    umap_request = spec["components"]["schemas"]["UMAPRequest"]
    assert umap_request["properties"]["n_neighbors"]["minimum"] == 2
    assert "cosine" in umap_request["properties"]["metric"]["enum"]


def test_documented_debug_call_on_two_rows(service: Service) -> None:
    with service.client() as c:
        r = c.post("/umap/streaming/umap", json={"data": [[0.1, 0.2], [0.3, 0.4]], "n_components": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["job_id"] == "immediate" and body["status"] == "completed"
    assert np.asarray(body["embeddings"]).shape == (2, 2)
    assert "n_neighbors clamped from 15 to 1" in body["warning"]


def test_immediate_umap_and_clustering(service: Service) -> None:
    data, labels = labelled_mixture(300, 16, clusters=3, seed=1)
    with service.client() as c:
        r = c.post("/umap/streaming/umap", json={"data": data.tolist(), "n_neighbors": 10, "random_state": 1})
        assert r.status_code == 200 and np.asarray(r.json()["embeddings"]).shape == (300, 2)
        assert r.json()["total_points"] == 300 and r.json()["warning"] is None
        k = c.post("/umap/streaming/cluster", json={"data": data.tolist(), "algorithm": "kmeans",
                                                    "n_clusters": 3, "random_state": 0}).json()
        assert k["n_clusters"] == 3 and np.asarray(k["centers"]).shape == (3, 16)
        assert len(k["labels"]) == 300 and k["noise_points"] is None
        d = submit(c, "cluster", data, algorithm="dbscan", eps=8.0, min_samples=5).json()
        assert d["job_id"] == "immediate" and d["noise_points"] is not None and d["centers"] is None
        h = submit(c, "cluster", data, algorithm="hdbscan", min_cluster_size=20).json()
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(labels, k["labels"]) > 0.9
    assert adjusted_rand_score(labels, h["labels"]) > 0.9


def test_clustering_warns_of_all_noise_and_of_an_ignored_n_clusters(service: Service) -> None:
    data, _ = labelled_mixture(300, 8, clusters=3, seed=2)
    big, _ = labelled_mixture(1200, 8, clusters=3, seed=3)  # a background job, not an immediate one
    with service.client() as c:
        noise = submit(c, "cluster", data, algorithm="dbscan", eps=1e-6).json()
        assert noise["noise_points"] == 300 and noise["n_clusters"] == 0
        assert "dbscan labelled all 300 rows noise (-1) and found no cluster: raise eps" in noise["warning"]
        ignored = submit(c, "cluster", data, algorithm="hdbscan", n_clusters=5, min_cluster_size=20).json()
        assert ("n_clusters=5 is ignored by hdbscan, which finds the number of clusters itself "
                f"(found {ignored['n_clusters']})") in ignored["warning"]
        plain = submit(c, "cluster", data, algorithm="hdbscan", min_cluster_size=20).json()
        assert plain["warning"] is None
        job = start_job(c, "cluster", big, algorithm="dbscan", eps=1e-6, n_clusters=4)
        done = wait_status(c, job)
    assert done["status"] == "completed" and done["result"]["noise_points"] == 1200
    assert "labelled all 1200 rows noise" in done["warning"] and "n_clusters=4 is ignored" in done["warning"]


def test_one_column_data_is_refused(service: Service) -> None:
    with service.client() as c:
        for kind in ("umap", "cluster"):
            r = c.post(f"/umap/streaming/{kind}", json={"data": [[1.0], [2.0], [3.0]]})
            assert r.status_code == 422 and r.json()["field"] == "data", r.text
            assert "at least 2 columns" in r.json()["detail"]
            assert submit(c, kind, np.ones((1500, 1), dtype=np.float32)).status_code == 422


def test_ten_thousand_rows_stream_to_completion(service: Service) -> None:
    data, _ = labelled_mixture(10_000, 512, seed=2)
    with service.client() as c:
        r = submit(c, "umap", data, metric="cosine", random_state=42)
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["status"] == "started" and body["estimated_chunks"] == 10
        assert r.headers["location"] == f"/umap/streaming/status/{body['job_id']}"
        seen = frames(service.ws_url, body["job_id"])
        status = c.get(f"/umap/streaming/status/{body['job_id']}").json()
        npy = c.get(f"/umap/streaming/result/{body['job_id']}", params={"format": "npy"})
        listed = c.get("/umap/streaming/jobs", params={"include": "all"}).json()
        active = c.get("/umap/streaming/jobs").json()
    assert seen[0]["type"] == "snapshot" and seen[-1]["type"] == "completed"
    progress = [f["progress_percentage"] for f in seen]
    assert progress == sorted(progress) and progress[-1] == 100.0
    seqs = [f["seq"] for f in seen]
    assert seqs == sorted(seqs) and len(set(seqs[1:])) == len(seqs) - 1
    for f in seen:
        assert {"type", "seq", "job_id", "status", "stage", "total_points", "processed_points",
                "current_chunk", "total_chunks", "progress_percentage", "eta_seconds"} <= set(f)
    assert max(f["current_chunk"] for f in seen) == seen[0]["total_chunks"] == 10
    assert {"knn", "graph", "layout"} <= {f["stage"] for f in seen}
    assert any(f.get("epoch") for f in seen if f["stage"] == "layout")
    assert seen[1]["eta_seconds"] is not None  # an ETA from the first progress frame
    assert seen[-1]["result_url"] == f"/umap/streaming/result/{body['job_id']}"
    assert status["status"] == "completed" and status["progress_percentage"] == 100.0
    assert np.asarray(status["result"]["embeddings"]).shape == (10_000, 2)
    assert status["processing_time"] > 0 and status["estimated_completion"] == status["finished_at"]
    embedding = np.load(io.BytesIO(npy.content))
    assert embedding.dtype == np.float32 and embedding.shape == (10_000, 2)
    assert body["job_id"] in {j["job_id"] for j in listed["jobs"]}
    assert body["job_id"] not in {j["job_id"] for j in active["jobs"]}


def test_late_subscriber_gets_snapshot_and_terminal_frame(service: Service) -> None:
    data, _ = labelled_mixture(1200, 8, seed=3)
    with service.client() as c:
        job_id = start_job(c, "umap", data, n_epochs=50)
        wait_status(c, job_id)
    seen = frames(service.ws_url, job_id, timeout=30)
    assert [f["type"] for f in seen] == ["snapshot", "completed"]
    assert seen[0]["status"] == "completed" and seen[0]["params"]["n_epochs"] == 50


def test_no_cross_origin_access_unless_configured(service: Service) -> None:
    with service.client() as c:
        r = c.get("/health", headers={"Origin": "http://page.example"})
        pre = c.options("/umap/streaming/umap", headers={
            "Origin": "http://page.example", "Access-Control-Request-Method": "POST"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in pre.headers and pre.status_code == 405


def test_unknown_job_is_404_everywhere(service: Service) -> None:
    with service.client() as c:
        for method, path in [("GET", "status"), ("GET", "result"), ("DELETE", "cancel"),
                             ("POST", "pause"), ("POST", "resume")]:
            r = c.request(method, f"/umap/streaming/{path}/nope")
            assert r.status_code == 404 and "no job with id 'nope'" in r.json()["detail"]
    with connect(f"{service.ws_url}/umap/streaming/ws/nope") as ws:
        error = msgspec.convert(json.loads(ws.recv(timeout=10)), ErrorFrame)
        assert error.type == "error" and error.job_id == "nope" and "no job" in error.message
        with pytest.raises(Exception):
            ws.recv(timeout=10)
        assert ws.close_code == 4404


def _long_job(c: object, rows: int = 3000, epochs: int = 3000, seed: int = 4, **extra: object) -> str:
    data, _ = labelled_mixture(rows, 16, seed=seed)
    return start_job(c, "umap", data, n_epochs=epochs, random_state=7, **extra)  # type: ignore[arg-type]


def test_cancel_a_running_job(service: Service) -> None:
    service.skip_on_gpu("cancel during the layout")
    with service.client() as c:
        job_id = _long_job(c)
        wait_for(lambda: c.get(f"/umap/streaming/status/{job_id}", params={"include_result": "false"}).json()["stage"] == "layout")
        r = c.delete(f"/umap/streaming/cancel/{job_id}")
        assert r.status_code == 200 and r.json()["status"] in ("cancelling", "cancelled")
        final = wait_status(c, job_id, timeout=60)
        assert final["status"] == "cancelled" and final["result"] is None
        again = c.delete(f"/umap/streaming/cancel/{job_id}")
        assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
        assert c.get(f"/umap/streaming/result/{job_id}").status_code == 409


def test_pause_holds_and_resume_gives_the_same_result(service: Service) -> None:
    service.skip_on_gpu("pause/resume during the layout")
    with service.client() as c:
        plain = _long_job(c, rows=2000, epochs=1500, seed=5)
        wait_status(c, plain)
        job_id = _long_job(c, rows=2000, epochs=1500, seed=5)
        wait_for(lambda: c.get(f"/umap/streaming/status/{job_id}", params={"include_result": "false"}).json()["stage"] == "layout")
        assert c.post(f"/umap/streaming/pause/{job_id}").status_code == 200
        paused = wait_status(c, job_id, ("paused",), timeout=30)
        time.sleep(1.0)
        later = wait_status(c, job_id, ("paused",), timeout=5)
        assert later["epoch"] == paused["epoch"] and later["eta_seconds"] == paused["eta_seconds"]
        assert later["processing_time"] == pytest.approx(paused["processing_time"], abs=0.05)
        assert later["estimated_completion"] is None
        assert c.post(f"/umap/streaming/resume/{job_id}").status_code == 200
        assert wait_status(c, job_id)["status"] == "completed"
        a = np.load(io.BytesIO(c.get(f"/umap/streaming/result/{plain}?format=npy").content))
        b = np.load(io.BytesIO(c.get(f"/umap/streaming/result/{job_id}?format=npy").content))
        conflict = c.post(f"/umap/streaming/resume/{job_id}")
    assert np.allclose(a, b)
    assert conflict.status_code == 409 and "not paused" in conflict.json()["detail"]


def test_socket_actions_pause_resume_cancel(service: Service) -> None:
    service.skip_on_gpu("socket actions during the layout")
    with service.client() as c:
        job_id = _long_job(c, seed=6)
    sent: list[str] = []

    def act(ws: object, frame: dict[str, object]) -> None:
        def send(text: str) -> None:
            sent.append(text)
            ws.send(text)  # type: ignore[attr-defined]

        if frame.get("stage") == "layout" and not sent:
            send("not json")
            send(json.dumps({"action": "pause"}))
        elif frame["type"] == "paused" and len(sent) == 2:
            send(json.dumps({"action": "resume"}))
        elif frame["type"] == "resumed" and len(sent) == 3:  # not at the ack: it precedes the resume
            send(json.dumps({"action": "cancel"}))

    seen = frames(service.ws_url, job_id, timeout=120, on_frame=act)
    acks = [msgspec.convert(f, AckFrame) for f in seen if f["type"] == "ack"]  # as /openapi.json says
    assert [a.action for a in acks] == ["pause", "resume", "cancel"] and all(a.ok for a in acks)
    errors = [msgspec.convert(f, ErrorFrame) for f in seen if f["type"] == "error"]
    assert any("expected" in e.message for e in errors)
    kinds = [f["type"] for f in seen]
    assert kinds.index("paused") < kinds.index("resumed") < kinds.index("cancelled") == len(kinds) - 1


def test_slow_subscriber_is_dropped_and_others_finish(service: Service) -> None:
    service.skip_on_gpu("a slow subscriber during the layout")
    data, _ = labelled_mixture(20_000, 16, seed=8)
    with service.client() as c:
        job_id = start_job(c, "umap", data, n_epochs=500, random_state=1)
        wait_for(lambda: c.get(f"/umap/streaming/status/{job_id}",
                               params={"include_result": "false"}).json()["stage"] == "layout", timeout=120)
    # a client that never reads while 160 KB layouts stream at ~10/s: its sends back up
    slow = stalled_subscriber(service.port, f"/umap/streaming/ws/{job_id}?live=1&live_every=1")
    seen = frames(service.ws_url, job_id, timeout=300, query="?live=1&live_every=20")
    assert seen[-1]["type"] == "completed"
    layouts = [f for f in seen if f["type"] == "layout"]
    assert layouts and all(f["rows"] == 20_000 and f["bytes"] == 20_000 * 2 * 4 for f in layouts)
    assert all(msgspec.convert(f, LayoutHeaderFrame).n_components == 2 for f in layouts)
    assert sum(1 for f in seen if f["type"] == "binary") == len(layouts)
    stalled, close_code = drain_frames(slow)
    slow.close()
    assert stalled and stalled[0]["type"] == "snapshot"
    assert "completed" not in {f["type"] for f in stalled}
    assert close_code in (1008, None)  # the close frame cannot always get through a full buffer
    assert "dropping a WebSocket subscriber that stopped reading" in service.log_file.read_text()


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"data": [[1, 2], [3, float("nan")]]}, 422, "row 1 contains NaN"),
        ({"data": [[1, 2], [3]]}, 422, "row 1 has 1 values, row 0 has 2"),
        ({"data": [[1, "x"]]}, 422, "got `str`"),
        ({"data": []}, 422, "data is empty"),
        ({"data": [1.0, 2.0]}, 422, "Expected `array`"),
        ({"data": [[1, 2]], "metric": "hamming"}, 422, "one of euclidean, cosine"),
        ({"data": [[1, 2]], "n_neighbors": 500}, 422, "an integer in 2..200"),
        ({"data": [[1, 2]], "min_dist": -1}, 422, "a number in 0.0..1.0"),
    ],
)
def test_bad_umap_input_is_a_clear_4xx(service: Service, body: dict[str, object], status: int, fragment: str) -> None:
    with service.client() as c:
        before = c.get("/umap/streaming/jobs", params={"include": "all"}).json()["count"]
        r = c.post("/umap/streaming/umap", content=json.dumps(body), headers={"Content-Type": "application/json"})
        after = c.get("/umap/streaming/jobs", params={"include": "all"}).json()["count"]
    assert r.status_code == status and fragment in r.json()["detail"], r.text
    assert after == before


def test_other_bad_requests(service: Service) -> None:
    with service.client() as c:
        r = c.post("/umap/streaming/cluster", json={"data": [[1, 2]], "algorithm": "spectral"})
        assert r.status_code == 422 and r.json()["field"] == "algorithm"
        r = c.post("/umap/streaming/umap", content=b"a,b", headers={"Content-Type": "application/xml"})
        assert r.status_code == 415 and "application/x-npy" in r.json()["detail"]
        r = c.post("/umap/streaming/umap", content=b'{"data": [[1, 2]', headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
        r = c.post("/umap/streaming/umap", content=b"\x93NUMPY garbage", headers={"Content-Type": "application/x-npy"})
        assert r.status_code == 400
        r = c.get("/umap/streaming/result/x", params={"format": "xml"})
        assert r.status_code in (404, 422)
        assert c.get("/no/such/route").status_code == 404


def test_quality_digits_trustworthiness(service: Service) -> None:
    from sklearn.manifold import trustworthiness

    from streaming_umap.datasets import digits

    data, _ = digits()
    with service.client() as c:
        job_id = start_job(c, "umap", data, random_state=42)
        assert wait_status(c, job_id)["status"] == "completed"
        embedding = np.load(io.BytesIO(c.get(f"/umap/streaming/result/{job_id}?format=npy").content))
    assert trustworthiness(data, embedding, n_neighbors=15) >= 0.9


def test_quality_hdbscan_on_the_layout_of_labelled_blobs(service: Service) -> None:
    from sklearn.metrics import adjusted_rand_score

    data, labels = labelled_mixture(4000, 64, clusters=8, seed=9)
    with service.client() as c:
        job_id = start_job(c, "umap", data, random_state=3, min_dist=0.0)
        assert wait_status(c, job_id)["status"] == "completed"
        layout = np.load(io.BytesIO(c.get(f"/umap/streaming/result/{job_id}?format=npy").content))
        cluster_id = start_job(c, "cluster", layout, algorithm="hdbscan", min_cluster_size=50)
        final = wait_status(c, cluster_id)
        result = c.get(f"/umap/streaming/result/{cluster_id}").json()
    assert final["status"] == "completed" and result["n_clusters"] >= 2
    assert adjusted_rand_score(labels, result["labels"]) >= 0.9


def test_terminal_states_never_change(service: Service) -> None:
    data, _ = labelled_mixture(1100, 8, seed=10)
    with service.client() as c:
        job_id = start_job(c, "umap", data, n_epochs=20)
        final = wait_status(c, job_id)
        for method, path in [("DELETE", "cancel"), ("POST", "pause"), ("POST", "resume")]:
            assert c.request(method, f"/umap/streaming/{path}/{job_id}").status_code == 409
        assert c.get(f"/umap/streaming/status/{job_id}").json()["status"] == final["status"] == "completed"
    assert final["status"] in TERMINAL


def test_large_npy_uploads_are_spooled_and_leave_nothing_behind(service: Service) -> None:
    spool = service.data_dir / "spool"
    data, _ = labelled_mixture(9000, 512, seed=41)  # 18 MB: above the 16 MiB spool threshold
    body = npy_bytes(data)
    head = (b"POST /umap/streaming/umap HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-npy\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    with socket.create_connection(("127.0.0.1", service.port)) as s:  # cut off half way
        s.sendall(head + body[: len(body) // 2])
        time.sleep(0.3)
    wait_for(lambda: spool.is_dir() and not any(spool.iterdir()), timeout=30)
    with service.client() as c:
        job_id = start_job(c, "umap", data, n_epochs=20, random_state=3)
        assert not any(spool.iterdir())  # the spooled body became the job's input
        wide = submit(c, "cluster", data.astype(np.float64), algorithm="kmeans", n_clusters=5)
        assert wide.status_code == 202, wide.text  # converted from float64, then written
        bad = data.copy()
        bad[4321, 7] = np.inf
        refused = submit(c, "umap", bad)
        assert refused.status_code == 422 and "row 4321" in refused.json()["detail"]
        assert not any(spool.iterdir())
        assert wait_status(c, job_id)["status"] == "completed"
        assert wait_status(c, wide.json()["job_id"])["status"] == "completed"
        embedding = np.load(io.BytesIO(c.get(f"/umap/streaming/result/{job_id}", params={"format": "npy"}).content))
    assert embedding.shape == (9000, 2) and np.isfinite(embedding).all()


def test_demo_data_sets_and_jobs(service: Service) -> None:
    with service.client() as c:
        catalogue = c.get("/umap/streaming/demo").json()["datasets"]
        assert {d["name"] for d in catalogue} == {"digits", "mixture"}
        labels = c.get("/umap/streaming/demo/digits/labels").json()["labels"]
        rows = np.load(io.BytesIO(c.get("/umap/streaming/demo/mixture/data", params={"rows": 300, "dims": 8}).content))
        as_npy = np.load(io.BytesIO(c.get("/umap/streaming/demo/mixture/labels",
                                          params={"rows": 300, "dims": 8, "format": "npy"}).content))
        started = c.post("/umap/streaming/demo/digits/umap", params={"n_epochs": 30, "random_state": 0})
        small = c.post("/umap/streaming/demo/mixture/cluster", params={"rows": 400, "dims": 8,
                                                                       "algorithm": "kmeans", "n_clusters": 5})
        missing = c.post("/umap/streaming/demo/faces/umap")
        wrong_kind = c.post("/umap/streaming/demo/digits/tsne")
        too_many = c.get("/umap/streaming/demo/mixture/data", params={"rows": 10_000_000})
        finished = wait_status(c, started.json()["job_id"])
    assert len(labels) == 1797 and rows.shape == (300, 8) and rows.dtype == np.float32 and as_npy.shape == (300,)
    assert started.status_code == 202 and finished["status"] == "completed"
    assert small.status_code == 200 and len(small.json()["labels"]) == 400
    assert missing.status_code == 404 and "faces" in missing.json()["detail"]
    assert wrong_kind.status_code == 404 and "tsne" in wrong_kind.json()["detail"]
    assert too_many.status_code == 422 and too_many.json()["field"] == "rows"


def test_metrics_count_jobs_stages_workers_and_bytes(service: Service) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    data, _ = labelled_mixture(1200, 8, seed=42)
    with service.client() as c:
        job_id = start_job(c, "umap", data, n_epochs=30)
        assert wait_status(c, job_id)["status"] == "completed"
        response = c.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(response.text) for s in family.samples}

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    backend = "cpu" if service.backend in ("cpu", "dask") else service.backend
    assert value("streaming_umap_jobs_total", kind="umap", backend=backend, status="completed") >= 1
    assert value("streaming_umap_job_duration_seconds_count", kind="umap", backend=backend) >= 1
    assert value("streaming_umap_stage_duration_seconds_count", kind="umap", stage="layout",
                 backend=backend) >= 1
    assert value("streaming_umap_ingested_bytes_total", format="npy") >= data.nbytes
    assert value("streaming_umap_workers", executor=service.executor, state="alive") == 2
    assert ("streaming_umap_queue_depth", ()) in samples


def test_a_sampled_fit_places_the_other_rows_with_a_frame_per_chunk(service: Service) -> None:
    data, _ = labelled_mixture(3000, 16, clusters=4, seed=43)
    with service.client() as c:
        job_id = start_job(c, "umap", data, fit_sample_rows=1000, random_state=2, n_epochs=50)
        seen = frames(service.ws_url, job_id, timeout=300)
        embedding = np.load(io.BytesIO(c.get(f"/umap/streaming/result/{job_id}", params={"format": "npy"}).content))
    assert seen[-1]["type"] == "completed", seen[-1]
    assert "transform" in {f["stage"] for f in seen}
    assert "random sample of 1000 of the 3000 rows" in seen[-1]["warning"]
    assert embedding.shape == (3000, 2) and np.isfinite(embedding).all()
