"""Settings, read once from the environment into one frozen object."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

from .errors import ConfigError

BackendChoice = Literal["auto", "cpu", "gpu"]
AuthChoice = Literal["auto", "required", "off"]
ExecutorChoice = Literal["local", "dask"]
Warmup = Literal["full", "light", "off"]
JsonReader = Literal["compiled", "msgspec"]


def _warmup(raw: str) -> Warmup:
    value = {"1": "full", "true": "full", "0": "off", "false": "off", "no": "off"}.get(
        raw.strip().lower(), raw.strip().lower()
    )
    if value not in ("full", "light", "off"):
        raise ConfigError(f"STREAMING_UMAP_WARMUP must be full, light or off, found {raw!r}")
    return value  # type: ignore[return-value]


def _json_reader(raw: str) -> JsonReader:
    value = raw.strip().lower() or "compiled"
    if value not in ("compiled", "msgspec"):
        raise ConfigError(f"STREAMING_UMAP_JSON_READER must be compiled or msgspec, found {raw!r}")
    return value  # type: ignore[return-value]


def _origins(raw: str) -> tuple[str, ...]:
    """Browser origins allowed to call the API from other pages: ``*`` or
    ``scheme://host[:port]`` items, comma-separated."""
    origins = tuple(o.strip().rstrip("/").lower() for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and ("://" not in origin or origin.count("/") != 2 or "*" in origin):
            raise ConfigError(
                "STREAMING_UMAP_CORS_ORIGINS takes * or origins like https://app.example.com "
                f"(scheme, host and port, no path, no wildcards), found {origin!r}")
    return origins


def _auth(raw: str) -> AuthChoice:
    value = raw.strip().lower() or "auto"
    if value not in ("auto", "required", "off"):
        raise ConfigError(f"STREAMING_UMAP_AUTH must be required or off (unset: required unless "
                          f"the server listens on a loopback address), found {raw!r}")
    return value  # type: ignore[return-value]


def _hosts(raw: str) -> tuple[str, ...]:
    """Host names the server answers to (the ``Host`` header), comma-separated: names,
    addresses (IPv6 in brackets), ``*.example.com`` for a domain's subdomains, or ``*``."""
    hosts = tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    for host in hosts:
        bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if "/" in host or ("*" in host[1:]) or (":" in bare and bare is host):
            raise ConfigError("STREAMING_UMAP_ALLOWED_HOSTS takes host names without scheme or "
                              "port (api.example.com, 10.0.0.5, [::1], *.example.com, *), "
                              f"found {host!r}")
    return hosts


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or a name) is reachable from this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, found {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be in {low}..{high}, found {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, found {raw!r}") from None
    if value < low:
        raise ConfigError(f"{name} must be >= {low}, found {value}")
    return value


def usable_cores() -> int:
    """The cores this process may run on (its affinity, where the system tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the environment variable that sets it.

    Build it with :meth:`from_env`; tests use :func:`dataclasses.replace`.
    """

    host: str = "127.0.0.1"  # STREAMING_UMAP_HOST (any other address requires API keys)
    port: int = 8003  # PORT or STREAMING_UMAP_PORT
    backend: BackendChoice = "auto"  # STREAMING_UMAP_BACKEND
    executor: ExecutorChoice = "local"  # STREAMING_UMAP_EXECUTOR (dask when a scheduler is set)
    dask_scheduler: str | None = None  # STREAMING_UMAP_DASK_SCHEDULER: tcp://host:8786
    artifacts: str | None = None  # STREAMING_UMAP_ARTIFACTS: fsspec URL shared with Dask workers
    chunk_size: int = 1000  # GPU_UMAP_CHUNK_SIZE
    max_concurrent_jobs: int = 3  # GPU_UMAP_MAX_CONCURRENT_JOBS
    immediate_workers: int = 1  # STREAMING_UMAP_IMMEDIATE_WORKERS
    immediate_threshold: int = 1000  # STREAMING_UMAP_IMMEDIATE_THRESHOLD (rows)
    immediate_timeout: float = 120.0  # STREAMING_UMAP_IMMEDIATE_TIMEOUT (s)
    max_queue: int = 100  # STREAMING_UMAP_MAX_QUEUE (pending jobs)
    max_body_bytes: int = 4 << 30  # STREAMING_UMAP_MAX_BODY_MB
    max_elements: int = 1_100_000_000  # STREAMING_UMAP_MAX_ELEMENTS (rows x dims)
    data_dir: Path = Path("data")  # STREAMING_UMAP_DATA_DIR
    log_dir: Path = Path("logs")  # STREAMING_UMAP_LOG_DIR
    result_ttl: float = 7 * 24 * 3600.0  # STREAMING_UMAP_RESULT_TTL (s)
    disk_budget_bytes: int = 20 << 30  # STREAMING_UMAP_DISK_BUDGET_MB
    # STREAMING_UMAP_CANCEL_GRACE (s): how long a cancelled job may take to reach a checkpoint
    # before its worker is killed; unset: 0.5 s for forked CPU workers (a replacement is forked
    # in milliseconds), 5 s otherwise (a GPU worker takes seconds to start again)
    cancel_grace: float | None = None
    sweep_interval: float = 60.0  # STREAMING_UMAP_SWEEP_INTERVAL (s) between result-expiry sweeps
    ws_send_timeout: float = 10.0  # STREAMING_UMAP_WS_SEND_TIMEOUT (s): slower subscribers are dropped
    exact_knn_max_rows: int = 4096  # STREAMING_UMAP_EXACT_KNN_MAX_ROWS
    # STREAMING_UMAP_FIT_SAMPLE_ROWS: above this many rows a UMAP job is fitted on a random
    # sample of this many and the rest placed into its layout (0: always a full fit); unset:
    # the backend's default (CPU: DEFAULT_FIT_SAMPLE_ROWS, GPU: 0)
    fit_sample_rows: int | None = None
    warmup: Warmup = "full"  # STREAMING_UMAP_WARMUP: full | light (exact kNN path only) | off
    # STREAMING_UMAP_JSON_READER: compiled (large JSON bodies read by numba code, which the
    # server loads as it starts: ~120 MiB) | msgspec (row by row; no numba in the server)
    json_reader: JsonReader = "compiled"
    cuda_visible_devices: str | None = None  # CUDA_VISIBLE_DEVICES (passed to workers)
    rmm_pool_bytes: int | None = None  # GPU_UMAP_RMM_POOL_SIZE (MiB), None = half the free memory
    numba_cache_dir: Path = Path(".cache/numba")  # NUMBA_CACHE_DIR
    cors_origins: tuple[str, ...] = ()  # STREAMING_UMAP_CORS_ORIGINS: comma-separated, or *
    # STREAMING_UMAP_AUTH: required | off; unset (auto): required unless the host is loopback
    auth: AuthChoice = "auto"
    # STREAMING_UMAP_ALLOWED_HOSTS: Host header values served; unset: localhost, the loopback
    # addresses and the bound name (any name when bound to every address, as keys are required)
    allowed_hosts: tuple[str, ...] = ()
    # STREAMING_UMAP_WS_TOKEN_QUERY: accept the API key as ?token= on the WebSocket (it ends
    # up in access logs; browsers can send it as a Sec-WebSocket-Protocol entry instead)
    ws_token_query: bool = False
    # quotas of each non-admin key (keys create --max-... overrides them per key)
    key_max_jobs: int = 20  # STREAMING_UMAP_KEY_MAX_JOBS: queued and running jobs
    key_max_upload_bytes: int = 1 << 30  # STREAMING_UMAP_KEY_MAX_UPLOAD_MB: bytes per upload
    key_max_stored_bytes: int = 10 << 30  # STREAMING_UMAP_KEY_MAX_STORED_MB: inputs and results
    # connection hygiene (streaming-umap serve)
    header_timeout: float = 10.0  # STREAMING_UMAP_HEADER_TIMEOUT (s) to send a request's head
    body_timeout: float = 30.0  # STREAMING_UMAP_BODY_TIMEOUT (s) of silence inside a body
    max_connections: int = 512  # STREAMING_UMAP_MAX_CONNECTIONS: open connections in total
    max_connections_per_client: int = 128  # STREAMING_UMAP_MAX_CONNECTIONS_PER_CLIENT
    max_sockets: int = 256  # STREAMING_UMAP_MAX_SOCKETS: open WebSockets in total
    max_sockets_per_client: int = 64  # STREAMING_UMAP_MAX_SOCKETS_PER_CLIENT
    # finished job records kept (oldest first beyond it; active jobs always stay)
    max_records: int = 10_000  # STREAMING_UMAP_MAX_RECORDS
    record_ttl: float = 30 * 24 * 3600.0  # STREAMING_UMAP_RECORD_TTL (s) after a job ended
    # a kept model unused this long is removed (its own retention, not the result TTL)
    model_ttl: float = 90 * 24 * 3600.0  # STREAMING_UMAP_MODEL_TTL (s) after its last use
    extra_env: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        backend = e.get("STREAMING_UMAP_BACKEND", "auto").strip().lower() or "auto"
        if backend not in ("auto", "cpu", "gpu"):
            raise ConfigError(
                f"STREAMING_UMAP_BACKEND must be auto, cpu or gpu, found {backend!r}"
            )
        scheduler = e.get("STREAMING_UMAP_DASK_SCHEDULER", "").strip() or None
        executor = e.get("STREAMING_UMAP_EXECUTOR", "dask" if scheduler else "local").strip().lower()
        if executor not in ("local", "dask"):
            raise ConfigError(f"STREAMING_UMAP_EXECUTOR must be local or dask, found {executor!r}")
        if executor == "dask" and not scheduler:
            raise ConfigError("STREAMING_UMAP_EXECUTOR=dask needs STREAMING_UMAP_DASK_SCHEDULER "
                              "(the scheduler's address, e.g. tcp://host:8786)")
        if scheduler and "://" not in scheduler:
            raise ConfigError("STREAMING_UMAP_DASK_SCHEDULER must be an address like "
                              f"tcp://host:8786, found {scheduler!r}")
        pool_mb = e.get("GPU_UMAP_RMM_POOL_SIZE")
        port_name = "PORT" if e.get("PORT") else "STREAMING_UMAP_PORT"
        return cls(
            host=e.get("STREAMING_UMAP_HOST", cls.host),
            port=_int(e, port_name, cls.port, 0, 65535),
            backend=backend,  # type: ignore[arg-type]
            executor=executor,  # type: ignore[arg-type]
            dask_scheduler=scheduler,
            artifacts=e.get("STREAMING_UMAP_ARTIFACTS", "").strip() or None,
            chunk_size=_int(e, "GPU_UMAP_CHUNK_SIZE", cls.chunk_size, 100, 1_000_000),
            max_concurrent_jobs=_int(
                e, "GPU_UMAP_MAX_CONCURRENT_JOBS", cls.max_concurrent_jobs, 1, 64
            ),
            immediate_workers=_int(
                e, "STREAMING_UMAP_IMMEDIATE_WORKERS", cls.immediate_workers, 1, 16
            ),
            immediate_threshold=_int(
                e, "STREAMING_UMAP_IMMEDIATE_THRESHOLD", cls.immediate_threshold, 0, 100_000
            ),
            immediate_timeout=_float(
                e, "STREAMING_UMAP_IMMEDIATE_TIMEOUT", cls.immediate_timeout, 1.0
            ),
            max_queue=_int(e, "STREAMING_UMAP_MAX_QUEUE", cls.max_queue, 0, 1_000_000),
            max_body_bytes=_int(
                e, "STREAMING_UMAP_MAX_BODY_MB", cls.max_body_bytes >> 20, 1, 1 << 20
            )
            << 20,
            max_elements=_int(
                e, "STREAMING_UMAP_MAX_ELEMENTS", cls.max_elements, 1, 1 << 40
            ),
            data_dir=Path(e.get("STREAMING_UMAP_DATA_DIR", str(cls.data_dir))),
            log_dir=Path(e.get("STREAMING_UMAP_LOG_DIR", str(cls.log_dir))),
            result_ttl=_float(e, "STREAMING_UMAP_RESULT_TTL", cls.result_ttl, 1.0),
            disk_budget_bytes=_int(
                e, "STREAMING_UMAP_DISK_BUDGET_MB", cls.disk_budget_bytes >> 20, 1, 1 << 30
            )
            << 20,
            cancel_grace=(_float(e, "STREAMING_UMAP_CANCEL_GRACE", 5.0, 0.1)
                          if e.get("STREAMING_UMAP_CANCEL_GRACE", "").strip() else None),
            sweep_interval=_float(e, "STREAMING_UMAP_SWEEP_INTERVAL", cls.sweep_interval, 0.1),
            ws_send_timeout=_float(
                e, "STREAMING_UMAP_WS_SEND_TIMEOUT", cls.ws_send_timeout, 0.1
            ),
            fit_sample_rows=(_int(e, "STREAMING_UMAP_FIT_SAMPLE_ROWS", 0, 0, 1 << 40)
                             if e.get("STREAMING_UMAP_FIT_SAMPLE_ROWS", "").strip() else None),
            exact_knn_max_rows=_int(
                e, "STREAMING_UMAP_EXACT_KNN_MAX_ROWS", cls.exact_knn_max_rows, 0, 10_000_000
            ),
            warmup=_warmup(e.get("STREAMING_UMAP_WARMUP", "full")),
            json_reader=_json_reader(e.get("STREAMING_UMAP_JSON_READER", "")),
            cuda_visible_devices=e.get("CUDA_VISIBLE_DEVICES"),
            rmm_pool_bytes=None if not pool_mb else _int(e, "GPU_UMAP_RMM_POOL_SIZE", 0, 1, 1 << 22) << 20,
            numba_cache_dir=Path(e.get("NUMBA_CACHE_DIR", str(cls.numba_cache_dir))),
            cors_origins=_origins(e.get("STREAMING_UMAP_CORS_ORIGINS", "")),
            auth=_auth(e.get("STREAMING_UMAP_AUTH", "")),
            allowed_hosts=_hosts(e.get("STREAMING_UMAP_ALLOWED_HOSTS", "")),
            ws_token_query=e.get("STREAMING_UMAP_WS_TOKEN_QUERY", "").strip().lower() in ("1", "true", "yes", "on"),
            key_max_jobs=_int(e, "STREAMING_UMAP_KEY_MAX_JOBS", cls.key_max_jobs, 1, 1_000_000),
            key_max_upload_bytes=_int(e, "STREAMING_UMAP_KEY_MAX_UPLOAD_MB",
                                      cls.key_max_upload_bytes >> 20, 1, 1 << 20) << 20,
            key_max_stored_bytes=_int(e, "STREAMING_UMAP_KEY_MAX_STORED_MB",
                                      cls.key_max_stored_bytes >> 20, 1, 1 << 30) << 20,
            header_timeout=_float(e, "STREAMING_UMAP_HEADER_TIMEOUT", cls.header_timeout, 0.1),
            body_timeout=_float(e, "STREAMING_UMAP_BODY_TIMEOUT", cls.body_timeout, 0.1),
            max_connections=_int(e, "STREAMING_UMAP_MAX_CONNECTIONS", cls.max_connections, 1, 1_000_000),
            max_connections_per_client=_int(e, "STREAMING_UMAP_MAX_CONNECTIONS_PER_CLIENT",
                                            cls.max_connections_per_client, 1, 1_000_000),
            max_sockets=_int(e, "STREAMING_UMAP_MAX_SOCKETS", cls.max_sockets, 1, 1_000_000),
            max_sockets_per_client=_int(e, "STREAMING_UMAP_MAX_SOCKETS_PER_CLIENT",
                                        cls.max_sockets_per_client, 1, 1_000_000),
            max_records=_int(e, "STREAMING_UMAP_MAX_RECORDS", cls.max_records, 1, 100_000_000),
            record_ttl=_float(e, "STREAMING_UMAP_RECORD_TTL", cls.record_ttl, 1.0),
            model_ttl=_float(e, "STREAMING_UMAP_MODEL_TTL", cls.model_ttl, 1.0),
        )

    @property
    def auth_required(self) -> bool:
        """Keys are needed: asked for, or (unset) because the server listens beyond loopback."""
        return self.auth == "required" or (self.auth == "auto" and not is_loopback(self.host))

    @property
    def auth_warning(self) -> str | None:
        """Said loudly at start and in /health: auth switched off on a reachable address."""
        if self.auth == "off" and not is_loopback(self.host):
            return (f"authentication is off (STREAMING_UMAP_AUTH=off) while listening on "
                    f"{self.host}: anyone who reaches port {self.port} can read, pause and cancel "
                    "every job")
        return None

    def trusted_hosts(self) -> list[str]:
        """The Host allowlist: STREAMING_UMAP_ALLOWED_HOSTS, else the loopback names plus the
        bound name; bound to every address (0.0.0.0, ::) any name is served, since the
        server then requires keys (or was told loudly that it does not)."""
        if self.allowed_hosts:
            return list(self.allowed_hosts)
        bound = self.host.strip().strip("[]").lower()
        if bound in ("0.0.0.0", "::", ""):
            return ["*"]
        names = ["localhost", "127.0.0.1", "[::1]"]
        bound = f"[{bound}]" if ":" in bound else bound
        return names if bound in names else [*names, bound]

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def describe(self) -> dict[str, object]:
        """A JSON-friendly view, for logs and /health."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out
