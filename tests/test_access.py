"""Who may do what, through a real server that requires keys: every endpoint and the
WebSocket, for no key, a wrong key, a revoked key, another owner's key, the owner's key
and an admin key; foreign Origins and Hosts; simple-request content types."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from streaming_umap.auth import KeyStore
from streaming_umap.datasets import labelled_mixture

from .conftest import Service
from .helpers import npy_bytes, raw_handshake, start_job, wait_status

PAGE = "http://page.example:9000"
ENV = {
    "STREAMING_UMAP_AUTH": "required",
    "STREAMING_UMAP_WARMUP": "light",
    "GPU_UMAP_MAX_CONCURRENT_JOBS": "1",
    "STREAMING_UMAP_CORS_ORIGINS": PAGE,
}
CALLERS = ("none", "wrong", "revoked", "other", "owner", "admin")


@dataclass
class Keyed:
    service: Service
    keys: dict[str, str | None]
    done: str  # a completed job of "owner"

    def client(self, caller: str, **headers: str) -> httpx.Client:
        key = self.keys[caller]
        auth = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.service.url, timeout=60.0, headers={**auth, **headers})

    def socket(self, job_id: str, caller: str, how: str = "protocol", **headers: str) -> Any:
        key = self.keys[caller]
        url = f"{self.service.ws_url}/umap/streaming/ws/{job_id}"
        if how == "query":
            return connect(f"{url}?token={key}", additional_headers=headers, open_timeout=10)
        if how == "header" or key is None:
            auth = {"Authorization": f"Bearer {key}"} if key else {}
            return connect(url, additional_headers={**auth, **headers}, open_timeout=10)
        return connect(url, subprotocols=["streaming-umap.v1", f"streaming-umap.bearer.{key}"],  # type: ignore[list-item]
                       additional_headers=headers, open_timeout=10)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    folder = tmp_path_factory.mktemp("access")
    store = KeyStore(folder)
    keys: dict[str, str | None] = {"none": None, "wrong": "sumap_000000000000_" + "x" * 43}
    for name in ("owner", "other", "admin", "revoked"):
        keys[name] = store.create(name, admin=name == "admin")[1]
    store.revoke("revoked")
    store.close()
    service = Service(folder, dict(ENV), api_key=keys["admin"])
    try:
        service.start()
        data, _ = labelled_mixture(1200, 8, seed=1)
        owner = Keyed(service, keys, "")
        with owner.client("owner") as c:
            owner.done = start_job(c, "umap", data, n_epochs=20)
            assert wait_status(c, owner.done)["status"] == "completed"
        yield owner
    finally:
        service.stop()


SEES = {"none": 401, "wrong": 401, "revoked": 401, "other": 404, "owner": 200, "admin": 200}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path", "own"), [
    ("GET", "status/{job}", 200), ("GET", "result/{job}", 200), ("GET", "result/{job}?format=npy", 200),
    ("DELETE", "cancel/{job}", 409), ("POST", "pause/{job}", 409), ("POST", "resume/{job}", 409),
])
def test_a_job_answers_its_owner_and_admins_only(keyed: Keyed, caller: str, method: str, path: str,
                                                  own: int) -> None:
    with keyed.client(caller) as c:
        r = c.request(method, "/umap/streaming/" + path.format(job=keyed.done))
    expected = own if SEES[caller] == 200 else SEES[caller]  # controls on a finished job: 409
    assert r.status_code == expected, r.text
    if expected == 401:
        assert r.headers["www-authenticate"].startswith("Bearer") and "key" in r.json()["detail"]
    if expected == 404:  # exactly what an id that does not exist gets
        assert r.json()["detail"] == f"no job with id {keyed.done!r}"


@pytest.mark.parametrize("caller", CALLERS)
def test_the_job_list_shows_only_what_the_caller_may_see(keyed: Keyed, caller: str) -> None:
    with keyed.client(caller) as c:
        r = c.get("/umap/streaming/jobs", params={"include": "all"})
    if SEES[caller] == 401:
        assert r.status_code == 401
        return
    listed = {j["job_id"] for j in r.json()["jobs"]}
    assert (keyed.done in listed) == (caller in ("owner", "admin")), listed
    assert r.json()["total"] == len(listed) == r.json()["count"]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("path", ["/umap/streaming/umap", "/umap/streaming/cluster",
                                  "/umap/streaming/demo/digits/cluster?algorithm=kmeans&n_clusters=3"])
def test_work_needs_a_valid_key(keyed: Keyed, caller: str, path: str) -> None:
    data, _ = labelled_mixture(60, 4, seed=2)
    with keyed.client(caller, **{"Content-Type": "application/x-npy"}) as c:
        r = c.post(path, content=b"" if "demo" in path else npy_bytes(data))
    ok = 202 if "demo" in path else 200
    assert r.status_code == (401 if SEES[caller] == 401 else ok), r.text


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("path", ["/umap/streaming/demo", "/umap/streaming/demo/digits/labels",
                                  "/umap/streaming/demo/mixture/data?rows=50&dims=4"])
def test_demo_reads_need_a_valid_key(keyed: Keyed, caller: str, path: str) -> None:
    with keyed.client(caller) as c:
        assert c.get(path).status_code == (401 if SEES[caller] == 401 else 200)


@pytest.mark.parametrize("caller", CALLERS)
def test_health_is_open_with_details_for_keys_and_processes_for_admins(keyed: Keyed, caller: str) -> None:
    with keyed.client(caller) as c:
        r = c.get("/health")
    if caller in ("wrong", "revoked"):  # a key that is sent is checked
        assert r.status_code == 401
        return
    body = r.json()
    assert r.status_code == 200 and body["status"] == "ok" and body["auth"] == "required"
    if caller == "none":
        assert set(body) == {"status", "auth"}  # no pids, no job ids, no counts
        return
    assert "workers" in body and body["warning"] is None
    assert ("processes" in body) == (caller == "admin")


def test_the_page_and_the_documentation_need_no_key(keyed: Keyed) -> None:
    with keyed.client("none") as c:
        for path in ("/", "/docs", "/openapi.json"):
            assert c.get(path).status_code == 200, path


@pytest.mark.parametrize(("caller", "how", "code"), [
    ("none", "protocol", 4401), ("wrong", "protocol", 4401), ("revoked", "header", 4401),
    ("owner", "query", 4401),  # ?token= only with STREAMING_UMAP_WS_TOKEN_QUERY=1
    ("other", "protocol", 4404), ("other", "header", 4404),
    ("owner", "protocol", 1000), ("owner", "header", 1000), ("admin", "protocol", 1000),
])
def test_the_socket_checks_the_key_and_the_owner(keyed: Keyed, caller: str, how: str, code: int) -> None:
    with keyed.socket(keyed.done, caller, how) as ws:
        seen = []
        with contextlib.suppress(ConnectionClosed):  # the server closes: that is the end
            while True:
                seen.append(json.loads(ws.recv(timeout=30)))
        assert ws.close_code == code, seen
        if how == "protocol" and keyed.keys[caller]:
            assert ws.subprotocol == "streaming-umap.v1"  # the fixed name echoed, never the key
    if code == 1000:
        assert [f["type"] for f in seen] == ["snapshot", "completed"]
    else:
        assert seen and seen[0]["type"] == "error"
        assert ("API key" in seen[0]["message"]) == (code == 4401)


def test_a_socket_from_a_foreign_origin_is_refused_before_it_opens(keyed: Keyed) -> None:
    with pytest.raises(InvalidStatus) as refused:
        keyed.socket(keyed.done, "owner", Origin="https://evil.example")
    assert refused.value.response.status_code == 403
    for origin in (PAGE, keyed.service.url):  # the configured page and the server's own page
        with keyed.socket(keyed.done, "owner", Origin=origin) as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "snapshot"


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:1"])
@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/umap/streaming/umap"), ("POST", "/umap/streaming/pause/{job}"),
    ("DELETE", "/umap/streaming/cancel/{job}"), ("POST", "/umap/streaming/demo/digits/umap"),
])
def test_state_changes_from_a_foreign_origin_are_refused(keyed: Keyed, origin: str, method: str, path: str) -> None:
    with keyed.client("admin", Origin=origin) as c:
        r = c.request(method, path.format(job=keyed.done), json={"data": [[1, 2], [3, 4]]})
    assert r.status_code == 403 and "cross-site request refused" in r.json()["detail"]


def test_the_own_and_the_configured_origin_may_change_state(keyed: Keyed) -> None:
    for origin in (PAGE, keyed.service.url):
        with keyed.client("owner", Origin=origin) as c:
            r = c.post("/umap/streaming/umap", json={"data": [[1, 2], [3, 4], [5, 6]]})
            assert r.status_code == 200, (origin, r.text)
            assert c.post(f"/umap/streaming/pause/{keyed.done}").status_code == 409  # reached it


@pytest.mark.parametrize("media", ["text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x", "TEXT/PLAIN;charset=utf-8"])
@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/umap/streaming/umap"), ("POST", "/umap/streaming/pause/{job}"),
    ("POST", "/umap/streaming/resume/{job}"), ("DELETE", "/umap/streaming/cancel/{job}"),
    ("POST", "/umap/streaming/demo/digits/umap"),
])
def test_simple_request_content_types_are_refused(keyed: Keyed, media: str, method: str, path: str) -> None:
    with keyed.client("admin", **{"Content-Type": media}) as c:
        r = c.request(method, path.format(job=keyed.done), content=b'{"data": [[1, 2], [3, 4]]}')
    assert r.status_code == 415 and "without asking" in r.json()["detail"]


def test_a_browser_marked_cross_site_request_without_origin_is_refused(keyed: Keyed) -> None:
    with keyed.client("admin", **{"Sec-Fetch-Site": "cross-site"}) as c:
        assert c.post(f"/umap/streaming/pause/{keyed.done}").status_code == 403
    with keyed.client("admin", **{"Sec-Fetch-Site": "same-origin"}) as c:
        assert c.post(f"/umap/streaming/pause/{keyed.done}").status_code == 409


@pytest.mark.parametrize("host", ["evil.example", "rebind.attacker.test:8003", "127.0.0.2"])
def test_a_foreign_host_is_refused(keyed: Keyed, host: str) -> None:
    with keyed.client("admin", Host=host) as c:
        assert c.get("/health").status_code == 400
        assert c.get(f"/umap/streaming/status/{keyed.done}").status_code == 400
    sock, answer = raw_handshake(keyed.service.port, f"/umap/streaming/ws/{keyed.done}",
                                 {"Host": host, "Authorization": f"Bearer {keyed.keys['owner']}"})
    sock.close()
    assert answer.startswith(b"HTTP/1.1 400"), answer


def test_localhost_names_are_served(keyed: Keyed) -> None:
    for host in ("localhost", f"localhost:{keyed.service.port}", "127.0.0.1"):
        with keyed.client("admin", Host=host) as c:
            assert c.get("/health").status_code == 200, host


def test_owners_control_their_own_queued_jobs_and_admins_any(keyed: Keyed) -> None:
    """Real state changes (not only 409s): bob cannot touch alice's queued job, alice and
    the admin can, and what they did is what everyone who may see the job sees."""
    data, _ = labelled_mixture(2500, 16, seed=3)
    with keyed.client("owner") as owner, keyed.client("other") as other, keyed.client("admin") as admin:
        running = start_job(owner, "umap", data, n_epochs=3000, random_state=1)  # holds the one worker
        queued = start_job(owner, "umap", data, n_epochs=3000, random_state=2)
        assert other.post(f"/umap/streaming/pause/{queued}").status_code == 404
        assert other.delete(f"/umap/streaming/cancel/{queued}").status_code == 404
        assert owner.post(f"/umap/streaming/pause/{queued}").json()["status"] == "paused"
        assert admin.get(f"/umap/streaming/status/{queued}").json()["status"] == "paused"
        assert admin.post(f"/umap/streaming/resume/{queued}").json()["status"] == "pending"
        with keyed.socket(queued, "other") as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "error"
        with keyed.socket(queued, "admin") as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "snapshot"
            ws.send(json.dumps({"action": "cancel"}))
            kinds = []
            while "cancelled" not in kinds:
                kinds.append(json.loads(ws.recv(timeout=30))["type"])
        assert admin.delete(f"/umap/streaming/cancel/{running}").status_code == 200
        assert wait_status(owner, running)["status"] == "cancelled"
        assert owner.get(f"/umap/streaming/status/{queued}").json()["status"] == "cancelled"


def test_keys_created_and_revoked_while_the_server_runs_take_effect_at_once(keyed: Keyed) -> None:
    store = KeyStore(keyed.service.data_dir)
    _, key = store.create("late")
    try:
        with httpx.Client(base_url=keyed.service.url, headers={"Authorization": f"Bearer {key}"}) as c:
            assert c.get("/umap/streaming/jobs").status_code == 200
            store.revoke("late")
            assert c.get("/umap/streaming/jobs").status_code == 401
    finally:
        store.close()


def test_the_openapi_document_declares_the_bearer_scheme(keyed: Keyed) -> None:
    with keyed.client("none") as c:
        spec = c.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]
        ["bearerAuth"]["description"]}
    status = spec["paths"]["/umap/streaming/status/{job_id}"]["get"]
    assert "401" in status["responses"] and status["security"]
    assert np.all(["401" in op["responses"] for path, item in spec["paths"].items()
                   if path.startswith("/umap/") for op in item.values()])


def test_the_python_client_sends_its_key_over_rest_and_the_socket(keyed: Keyed, monkeypatch: pytest.MonkeyPatch) -> None:
    from streaming_umap.client import Client, NotFound, Unauthorized

    data, _ = labelled_mixture(1200, 8, seed=4)
    with Client(keyed.service.url, api_key=keyed.keys["owner"]) as client:
        job = client.submit_umap(data, n_epochs=20)
        frames = list(job.frames(timeout=120))
        assert frames[0].source == "websocket" and frames[-1].status == "completed"  # the socket took the key
        assert job.result().shape == (1200, 2)
        assert job.job_id in {j.job_id for j in client.jobs(include_all=True)}
    monkeypatch.setenv("STREAMING_UMAP_API_KEY", str(keyed.keys["other"]))
    with Client(keyed.service.url) as other:  # the key from the environment
        with pytest.raises(NotFound):
            other.job(job.job_id).status()
        with pytest.raises(NotFound):  # the socket says 4404 too, not a fallback to polling
            list(other.job(job.job_id).frames(timeout=60))
    monkeypatch.delenv("STREAMING_UMAP_API_KEY")
    with Client(keyed.service.url) as anonymous:
        with pytest.raises(Unauthorized) as refused:
            anonymous.jobs()
        assert refused.value.status == 401
        with pytest.raises(Unauthorized):  # the socket closes with 4401
            list(anonymous.job(job.job_id).frames(timeout=60))


def test_the_cli_takes_an_api_key(keyed: Keyed, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from streaming_umap.cli import main

    monkeypatch.delenv("STREAMING_UMAP_API_KEY", raising=False)
    server = ["--server", keyed.service.url]
    assert main(["jobs", "--all", "--json", *server, "--api-key", str(keyed.keys["owner"])]) == 0
    assert keyed.done in capsys.readouterr().out
    assert main(["status", keyed.done, *server]) == 6  # no key: not authorised
    assert "--api-key" in capsys.readouterr().err
    monkeypatch.setenv("STREAMING_UMAP_API_KEY", str(keyed.keys["other"]))
    assert main(["status", keyed.done, *server]) == 4  # another owner's job: no such job


def test_quotas_of_a_key_are_429_and_413_with_the_limit(keyed: Keyed) -> None:
    store = KeyStore(keyed.service.data_dir)
    _, key = store.create("small", max_jobs=1, max_upload_bytes=100_000)
    store.close()
    data, _ = labelled_mixture(2500, 8, seed=6)  # 80 kB as float32 (+ the .npy header)
    with httpx.Client(base_url=keyed.service.url, timeout=60.0, headers={"Authorization": f"Bearer {key}"}) as c:
        first = start_job(c, "umap", data, n_epochs=3000)
        second = c.post("/umap/streaming/umap", content=npy_bytes(data), headers={"Content-Type": "application/x-npy"})
        assert second.status_code == 429 and int(second.headers["retry-after"]) >= 1
        assert "has 1 queued or running jobs; its limit is 1" in second.json()["detail"]
        big = c.post("/umap/streaming/umap", content=npy_bytes(np.zeros((4000, 8), np.float32)),
                     headers={"Content-Type": "application/x-npy"})
        assert big.status_code == 413 and "may upload at most 100000 bytes" in big.json()["detail"]
        assert c.delete(f"/umap/streaming/cancel/{first}").status_code == 200
        assert wait_status(c, first)["status"] == "cancelled"
        third = c.post("/umap/streaming/umap", content=npy_bytes(data[:1100]), headers={"Content-Type": "application/x-npy"})
        assert third.status_code == 202, third.text  # a slot again
        c.delete(f"/umap/streaming/cancel/{third.json()['job_id']}")
