from __future__ import annotations

import pytest

from streaming_umap.errors import InvalidInput, MalformedBody
from streaming_umap.schemas import UMAPRequest, decode_request, params_from_query, params_of


def test_defaults_match_the_documented_api() -> None:
    req = decode_request("umap", b'{"data": [[1, 2], [3, 4]]}')
    assert isinstance(req, UMAPRequest)
    p = params_of(req)
    assert (p.n_components, p.n_neighbors, p.min_dist, p.metric, p.random_state) == (2, 15, 0.1, "euclidean", None)
    c = params_of(decode_request("cluster", b'{"data": [[1, 2]]}'))
    assert (c.algorithm, c.n_clusters, c.eps, c.min_samples) == ("dbscan", 8, 0.5, 5)


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        (b'{"data": [[1, 2]], "n_neighbors": 1}', "n_neighbors", "an integer in 2..200"),
        (b'{"data": [[1, 2]], "min_dist": 2}', "min_dist", "a number in 0.0..1.0"),
        (b'{"data": [[1, 2]], "metric": "hamming"}', "metric", "one of euclidean, cosine"),
        (b'{"data": [[1, "a"]]}', "data", "row 0"),
        (b'{"data": [[1, true]]}', "data", "got `bool`"),
        (b'{"data": [1, 2]}', "data", "Expected `array`"),
        (b'{"data": [[1, 2]], "n_neighbours": 5}', "n_neighbours", "accepted fields are"),
    ],
)
def test_invalid_fields_name_the_field_and_the_range(body: bytes, field: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        decode_request("umap", body)
    assert info.value.field == field
    assert fragment in info.value.detail


def test_unknown_algorithm() -> None:
    with pytest.raises(InvalidInput, match="one of dbscan, kmeans, hdbscan"):
        decode_request("cluster", b'{"data": [[1, 2]], "algorithm": "spectral"}')


def test_malformed_json_is_400() -> None:
    with pytest.raises(MalformedBody, match="not valid JSON"):
        decode_request("umap", b'{"data": [[1, 2]')


def test_query_parameters_are_converted() -> None:
    p = params_from_query("umap", {"n_neighbors": "30", "metric": "cosine", "random_state": ""})
    assert (p.n_neighbors, p.metric, p.random_state) == (30, "cosine", None)
    with pytest.raises(InvalidInput, match="n_neighbors"):
        params_from_query("umap", {"n_neighbors": "many"})


def test_an_empty_or_null_query_value_unsets_only_a_field_that_may_be_null() -> None:
    assert params_from_query("umap", {"random_state": "", "init_from": "null"}).init_from is None
    for query, field in (({"keep_model": "null"}, "keep_model"), ({"init_from": ""}, "init_from"),
                         ({"n_neighbors": ""}, "n_neighbors")):
        with pytest.raises(InvalidInput) as caught:
            params_from_query("umap", query)
        assert caught.value.field == field
