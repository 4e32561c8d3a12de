"""streaming-umap: UMAP layouts and clustering of large embedding sets as background
jobs, with live progress over WebSocket and REST."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
