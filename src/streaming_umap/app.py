"""``uvicorn streaming_umap.app:app --port 8003`` starts the service with settings
from the environment."""

from __future__ import annotations

from .web.app import create_app

app = create_app()
