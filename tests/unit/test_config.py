from __future__ import annotations

from pathlib import Path

import pytest

from streaming_umap.config import Settings
from streaming_umap.errors import ConfigError


def test_defaults() -> None:
    s = Settings.from_env({})
    assert (s.port, s.chunk_size, s.max_concurrent_jobs, s.immediate_threshold) == (8003, 1000, 3, 1000)
    assert s.backend == "auto" and s.data_dir == Path("data") and s.warmup == "full"
    assert Settings.from_env({"STREAMING_UMAP_WARMUP": "0"}).warmup == "off"
    assert s.json_reader == "compiled"
    assert Settings.from_env({"STREAMING_UMAP_JSON_READER": " MsgSpec"}).json_reader == "msgspec"


def test_environment_overrides() -> None:
    s = Settings.from_env({
        "PORT": "9001", "GPU_UMAP_CHUNK_SIZE": "500", "GPU_UMAP_MAX_CONCURRENT_JOBS": "2",
        "STREAMING_UMAP_BACKEND": "CPU", "STREAMING_UMAP_DATA_DIR": "/tmp/x",
        "STREAMING_UMAP_MAX_BODY_MB": "10", "CUDA_VISIBLE_DEVICES": "1",
        "GPU_UMAP_RMM_POOL_SIZE": "1024",
    })
    assert (s.port, s.chunk_size, s.max_concurrent_jobs, s.backend) == (9001, 500, 2, "cpu")
    assert s.data_dir == Path("/tmp/x") and s.max_body_bytes == 10 << 20
    assert s.cuda_visible_devices == "1" and s.rmm_pool_bytes == 1024 << 20
    assert Settings.from_env({}).cors_origins == ()
    assert Settings.from_env({"STREAMING_UMAP_CORS_ORIGINS": " https://a.example:8080/, http://b "}
                             ).cors_origins == ("https://a.example:8080", "http://b")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GPU_UMAP_CHUNK_SIZE": "ten"}, "GPU_UMAP_CHUNK_SIZE must be an integer, found 'ten'"),
        ({"GPU_UMAP_CHUNK_SIZE": "5"}, r"GPU_UMAP_CHUNK_SIZE must be in 100..1000000, found 5"),
        ({"STREAMING_UMAP_BACKEND": "tpu"}, "must be auto, cpu or gpu, found 'tpu'"),
        ({"STREAMING_UMAP_CANCEL_GRACE": "soon"}, "must be a number"),
        ({"STREAMING_UMAP_WARMUP": "maybe"}, "must be full, light or off, found 'maybe'"),
        ({"STREAMING_UMAP_JSON_READER": "orjson"}, "must be compiled or msgspec, found 'orjson'"),
        ({"STREAMING_UMAP_CORS_ORIGINS": "app.example.com"}, "origins like https://app.example.com"),
        ({"STREAMING_UMAP_CORS_ORIGINS": "https://a.example/page"}, "no path"),
        ({"STREAMING_UMAP_CORS_ORIGINS": "https://*.example.com"}, "no wildcards"),
    ],
)
def test_bad_settings_say_what_was_expected(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)
