"""The application factory: routes, middleware, error handlers, and the lifespan that
owns the stores, the hub and the supervisor (no module-level state)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from ..auth import KeyStore
from ..config import Settings
from ..jobs.folder_lock import FolderLock
from ..jobs.hub import Hub
from ..jobs.metrics import Metrics
from ..jobs.store import JobStore
from ..jobs.supervisor import Supervisor
from ..logsetup import configure_logging
from . import demo, ingest, openapi, routes, ws
from .auth import Authenticator, AuthGate
from .guard import CrossSiteGuard
from .responses import EXCEPTION_HANDLERS, InternalErrors

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
API = "/umap/streaming"


async def index(request: Request) -> Response:
    page = STATIC / "app" / "index.html"
    if page.exists():
        return FileResponse(page)
    return HTMLResponse("<!doctype html><title>streaming-umap</title><h1>streaming-umap</h1>"
                        "<p>The browser page is not built. API docs: <a href='/docs'>/docs</a>.</p>")


def build_routes() -> list[Route | WebSocketRoute | Mount]:
    out: list[Route | WebSocketRoute | Mount] = [
        Route(f"{API}/umap", routes.submit_umap, methods=["POST"]),
        Route(f"{API}/cluster", routes.submit_cluster, methods=["POST"]),
        Route(f"{API}/status/{{job_id}}", routes.status),
        Route(f"{API}/result/{{job_id}}", routes.result),
        Route(f"{API}/cancel/{{job_id}}", routes.cancel, methods=["DELETE"]),
        Route(f"{API}/pause/{{job_id}}", routes.pause, methods=["POST"]),
        Route(f"{API}/resume/{{job_id}}", routes.resume, methods=["POST"]),
        Route(f"{API}/jobs", routes.jobs),
        Route(f"{API}/transform/{{model_id}}", routes.submit_transform, methods=["POST"]),
        Route(f"{API}/models", routes.models),
        # one route per path, so that a 405 lists every method the path allows
        Route(f"{API}/models/{{model_id}}", routes.by_method(GET=routes.model, DELETE=routes.delete_model),
              methods=["GET", "DELETE"]),
        Route(f"{API}/models/{{model_id}}/clustering",
              routes.by_method(POST=routes.attach_clustering, DELETE=routes.detach_clustering),
              methods=["POST", "DELETE"]),
        WebSocketRoute(f"{API}/ws/{{job_id}}", ws.job_socket),
        Route(f"{API}/demo", demo.catalogue),
        Route(f"{API}/demo/{{name}}/labels", demo.labels),
        Route(f"{API}/demo/{{name}}/data", demo.data),
        Route(f"{API}/demo/{{name}}/{{kind:str}}", demo.start, methods=["POST"]),
        Route("/health", routes.health),
        Route("/metrics", routes.metrics),
        Route("/openapi.json", openapi.openapi_json),
        Route("/docs", openapi.docs),
        Route("/docs/init.js", openapi.docs_init),
        Mount("/docs/assets", app=openapi.docs_assets()),
        Route("/", index),
    ]
    if (STATIC / "app").exists():
        out.append(Mount("/static", app=StaticFiles(directory=STATIC / "app")))
    return out


def middleware_for(settings: Settings) -> list[Middleware]:
    """Outermost first: the Host allowlist (DNS rebinding: a Host this server is not
    called by is a 400 before anything else); CORS (when STREAMING_UMAP_CORS_ORIGINS names
    origins; the socket needs none); InternalErrors, which answers an unhandled exception
    with the JSON 500 inside the stack, so that answer carries the CORS headers too; the
    cross-site guard (foreign Origins, simple-request content types); then the principal
    of the request (AuthGate), for every handler."""
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts(),
                             www_redirect=False)]
    if settings.cors_origins:
        middleware.append(Middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"], allow_headers=["Content-Type", "Authorization"],
            expose_headers=["Location", "Retry-After", "Content-Disposition", "WWW-Authenticate"],
            max_age=600))
    middleware += [Middleware(InternalErrors),
                   Middleware(CrossSiteGuard, cors_origins=settings.cors_origins),
                   Middleware(AuthGate)]
    return middleware


def _announce(settings: Settings, keys: KeyStore) -> None:
    """Say how requests are authenticated, loudly where that is risky."""
    if settings.auth_warning:
        log.warning("!" * 78)
        log.warning("%s", settings.auth_warning)
        log.warning("!" * 78)
    elif settings.auth_required and not keys.has_keys():
        log.warning("API keys are required (listening on %s) and none exists yet: create one with "
                    "`streaming-umap keys create NAME --admin` (STREAMING_UMAP_DATA_DIR=%s)",
                    settings.host, settings.data_dir)
    else:
        log.info("API keys %s", "required" if settings.auth_required else
                 "not required (listening on a loopback address)")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        configure_logging(settings.log_dir)
        lock = FolderLock(settings.data_dir).acquire()  # before recovery touches any job
        store = JobStore(settings.data_dir)
        keys = KeyStore(settings.data_dir)
        app.state.auth = Authenticator(settings, keys)
        _announce(settings, keys)
        metrics = Metrics()
        supervisor = Supervisor(settings, store, Hub(), metrics=metrics)
        metrics.watch(supervisor)
        app.state.supervisor, app.state.hub, app.state.metrics = supervisor, supervisor.hub, metrics
        await supervisor.start()
        ingest.start_loading_json_reader(settings)  # in a thread: ~0.5 s, off the event loop
        try:
            yield
        finally:
            await supervisor.stop()
            store.close()
            keys.close()
            lock.release()

    app = Starlette(routes=build_routes(), lifespan=lifespan, middleware=middleware_for(settings),
                    exception_handlers=EXCEPTION_HANDLERS)
    app.state.settings = settings
    app.state.sockets = ws.SocketLimits(settings.max_sockets, settings.max_sockets_per_client)
    return app
