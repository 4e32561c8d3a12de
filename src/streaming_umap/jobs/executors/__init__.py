"""Executors: what runs jobs, chosen by ``STREAMING_UMAP_EXECUTOR`` (or set by
``STREAMING_UMAP_DASK_SCHEDULER``) through this table of import strings, imported only
when chosen (a server without Dask never imports it)."""

from __future__ import annotations

import importlib

from ...config import Settings
from ...errors import ConfigError
from .base import Events, Executor

EXECUTORS: dict[str, str] = {
    "local": "streaming_umap.jobs.executors.local:LocalExecutor",
    "dask": "streaming_umap.jobs.executors.dask:DaskExecutor",
}

__all__ = ["EXECUTORS", "Events", "Executor", "create_executor"]


def create_executor(settings: Settings) -> Executor:
    name = settings.executor
    try:
        module_name, _, attr = EXECUTORS[name].partition(":")
    except KeyError:
        raise ConfigError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"the {name} executor cannot be loaded ({exc}); "
                          f"install it with pip install 'streaming-umap[{name}]'") from exc
    cls: type[Executor] = getattr(module, attr)
    return cls(settings)
