"""Kept models through the Python client, against a real service: ``umap(keep_model=True)``,
``transform`` (immediate and as a job), ``models``/``model``/``delete_model``, ``init_from``,
the typed errors, and the asyncio twin."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from streaming_umap._client import sync
from streaming_umap.client import (
    AsyncClient,
    Client,
    Conflict,
    InvalidInput,
    InvalidRequest,
    ModelInfo,
    NotFound,
    UMAPResult,
)
from streaming_umap.datasets import labelled_mixture

from .conftest import Service
from .test_client import assert_well_ordered

FIT, NEW, DIMS, CLUSTERS = 1500, 1200, 32, 4  # a fit above the immediate threshold (1000 rows)
FEW = 300  # below it: answered in the submit response
LONG_EPOCHS = 5000
HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def mixture() -> tuple[np.ndarray, np.ndarray]:
    """One mixture: the first FIT rows are fitted, the rest are new rows of the same clusters."""
    return labelled_mixture(FIT + NEW, DIMS, clusters=CLUSTERS, seed=3)


@pytest.fixture
def client(service: Service) -> Iterator[Client]:
    with Client(service.url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def fitted(service: Service, mixture: tuple[np.ndarray, np.ndarray]) -> UMAPResult:
    """A model kept from a job (module-wide: later tests place rows into it)."""
    with Client(service.url, timeout=120) as c:
        return c.umap(mixture[0][:FIT], keep_model=True, random_state=1, n_epochs=200,
                      progress=False)


def placed_agreement(layout: np.ndarray, labels: np.ndarray, placed: np.ndarray,
                     placed_labels: np.ndarray) -> float:
    """Share of placed rows whose nearest fitted point in the layout has their label."""
    _, idx = NearestNeighbors(n_neighbors=1).fit(layout).kneighbors(placed)
    return float(np.mean(labels[idx[:, 0]] == placed_labels))


def test_umap_keep_model_returns_the_layout_and_the_model(
    client: Client, fitted: UMAPResult, mixture: tuple[np.ndarray, np.ndarray]
) -> None:
    assert isinstance(fitted, UMAPResult) and HEX32.fullmatch(fitted.model_id)
    assert fitted.embedding.shape == (FIT, 2) and fitted.embedding.dtype == np.float32
    info = client.model(fitted.model_id)
    assert isinstance(info, ModelInfo) and info.model_id == fitted.model_id
    assert (info.rows, info.dims, info.n_components) == (FIT, DIMS, 2)
    assert info.job_id is not None and info.size_bytes > 0 and info.metric == "euclidean"
    assert info.expires_at is not None and info.created_at is not None
    assert info.expires_at > info.created_at
    assert fitted.model_id in {m.model_id for m in client.models()}
    plain = client.umap(mixture[0][:FEW], progress=False)  # without keep_model: as before
    assert isinstance(plain, np.ndarray) and plain.shape == (FEW, 2)


def test_models_follows_every_page(client: Client, fitted: UMAPResult,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    client.umap(np.ones((FEW, DIMS)) + np.arange(FEW)[:, None], keep_model=True, progress=False)
    monkeypatch.setattr(sync, "page_query", lambda after: {"limit": "1", **(
        {"after": after} if after else {})})  # one model per page
    listed = [m.model_id for m in client.models()]
    total = client.request("GET", "/umap/streaming/models").json()["total"]
    assert len(listed) == len(set(listed)) == total >= 2 and fitted.model_id in listed


def test_a_job_names_its_model(client: Client, mixture: tuple[np.ndarray, np.ndarray]) -> None:
    job = client.submit_umap(mixture[0][:FIT], keep_model=True, n_epochs=100)
    assert not job.immediate and job.model_id == job.job_id  # known from the 202 answer
    frames = list(job.frames(timeout=120))
    assert frames[-1].type == "completed" and frames[-1].model_id == job.model_id
    assert all(f.model_id is None for f in frames if not f.terminal)
    assert job.status().model_id == job.model_id
    assert client.job(job.job_id).status().model_id == job.model_id  # a handle attached later
    assert client.model(job.job_id).job_id == job.job_id
    client.delete_model(job.job_id)


def test_transform_immediate_and_as_a_job(
    service: Service, client: Client, fitted: UMAPResult, mixture: tuple[np.ndarray, np.ndarray]
) -> None:
    data, labels = mixture
    new, new_labels = data[FIT:], labels[FIT:]
    few = client.transform(fitted.model_id, new[:FEW], progress=False)
    assert few.shape == (FEW, 2) and few.dtype == np.float32 and np.isfinite(few).all()
    assert placed_agreement(fitted.embedding, labels[:FIT], few, new_labels[:FEW]) > 0.9
    job = client.submit_transform(fitted.model_id, new, chunk_size=400)
    assert not job.immediate and job.kind == "transform"
    frames = list(job.frames(timeout=120))
    assert_well_ordered(frames)
    assert frames[-1].type == "completed" and job.status().kind == "transform"
    placed = job.result()
    assert isinstance(placed, np.ndarray) and placed.shape == (NEW, 2)
    assert placed.dtype == np.float32 and np.isfinite(placed).all()
    assert placed_agreement(fitted.embedding, labels[:FIT], placed, new_labels) > 0.9
    with Client(service.url, transport="poll", poll_interval=0.2) as polling:
        again = polling.transform(fitted.model_id, new, progress=False, timeout=120)
    assert again.shape == (NEW, 2) and np.isfinite(again).all()


def test_transform_errors_name_the_model_and_the_field(
    client: Client, fitted: UMAPResult, mixture: tuple[np.ndarray, np.ndarray]
) -> None:
    new = mixture[0][FIT:FIT + FEW]
    with pytest.raises(InvalidRequest) as columns:
        client.transform(fitted.model_id, new[:, :DIMS - 1], progress=False)
    assert (columns.value.status, columns.value.field) == (422, "data")
    with pytest.raises(InvalidRequest):  # above the immediate threshold: refused before queueing
        client.submit_transform(fitted.model_id, mixture[0][FIT:, :DIMS - 1])
    unknown = "0123456789abcdef" * 2
    for call in (lambda: client.transform(unknown, new, progress=False),
                 lambda: client.model(unknown), lambda: client.delete_model(unknown),
                 lambda: client.umap(mixture[0][:FEW], init_from=unknown, progress=False)):
        with pytest.raises(NotFound) as missing:
            call()
        assert missing.value.status == 404 and unknown in str(missing.value)
    for bad in ("not-a-model", "../jobs", fitted.model_id.upper()):
        with pytest.raises(InvalidInput, match="model id"):  # refused before anything is sent
            client.transform(bad, new, progress=False)
    with pytest.raises(InvalidInput, match="init_from"):
        client.submit_umap(new, init_from="nope")


def test_transform_into_a_model_still_being_fitted_is_a_conflict(
    service: Service, client: Client, mixture: tuple[np.ndarray, np.ndarray]
) -> None:
    service.skip_on_gpu("the fit ends before the transform is sent")
    with client.submit_umap(mixture[0][:FIT], keep_model=True, n_epochs=LONG_EPOCHS) as job:
        assert job.model_id is not None
        with pytest.raises(Conflict) as busy:
            client.transform(job.model_id, mixture[0][FIT:FIT + FEW], progress=False)
        assert busy.value.status == 409
        job.cancel()


def test_delete_removes_the_model_and_a_second_delete_is_not_found(
    client: Client, mixture: tuple[np.ndarray, np.ndarray]
) -> None:
    kept = client.umap(mixture[0][:FEW], keep_model=True, random_state=0, progress=False)
    assert kept.embedding.shape == (FEW, 2)
    assert client.model(kept.model_id).job_id is None  # kept from an immediate answer
    gone = client.delete_model(kept.model_id)
    assert gone.model_id == kept.model_id and gone.message
    assert kept.model_id not in {m.model_id for m in client.models()}
    with pytest.raises(NotFound, match=kept.model_id):
        client.delete_model(kept.model_id)
    with pytest.raises(NotFound, match=kept.model_id):
        client.transform(kept.model_id, mixture[0][FIT:FIT + FEW], progress=False)


def test_init_from_refits_around_the_old_layout(
    client: Client, fitted: UMAPResult, mixture: tuple[np.ndarray, np.ndarray]
) -> None:
    data, labels = mixture
    refit = client.umap(data, init_from=fitted.model_id, random_state=1, n_epochs=100,
                        progress=False)
    assert refit.shape == (FIT + NEW, 2) and np.isfinite(refit).all()
    assert placed_agreement(refit[:FIT], labels[:FIT], refit[FIT:], labels[FIT:]) > 0.9
    old = fitted.embedding  # the old points stay near their old coordinates (seen: 3-4 %)
    moved = np.linalg.norm(refit[:FIT] - old, axis=1)
    assert np.median(moved) < 0.1 * np.linalg.norm(old.max(axis=0) - old.min(axis=0))
    with pytest.raises(InvalidRequest):  # fewer rows than the model was fitted on
        client.submit_umap(data[:FIT - 1], init_from=fitted.model_id)


def test_async_client_models(service: Service, fitted: UMAPResult,
                             mixture: tuple[np.ndarray, np.ndarray]) -> None:
    new = mixture[0][FIT:]

    async def scenario() -> None:
        async with AsyncClient(service.url) as aclient:
            few = await aclient.umap(mixture[0][:FEW], keep_model=True, progress=False)
            assert isinstance(few, UMAPResult) and few.embedding.shape == (FEW, 2)
            assert few.model_id in {m.model_id for m in await aclient.models()}
            assert (await aclient.model(few.model_id)).rows == FEW
            placed = await aclient.transform(few.model_id, new[:FEW], progress=False)
            assert placed.shape == (FEW, 2) and np.isfinite(placed).all()
            job = await aclient.submit_transform(fitted.model_id, new)
            assert not job.immediate
            result = await job.result(timeout=120)
            assert isinstance(result, np.ndarray) and result.shape == (NEW, 2)
            assert (await aclient.delete_model(few.model_id)).model_id == few.model_id
            with pytest.raises(NotFound, match=few.model_id):
                await aclient.delete_model(few.model_id)

    asyncio.run(scenario())
