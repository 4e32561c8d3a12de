"""Cross-site protection: what a page on another site may not make a browser do here.

Without keys (the default on a laptop) any page the user opens could otherwise drive the
service through the user's browser: a form or a ``fetch(..., {mode: "no-cors"})`` with a
CORS-safelisted content type goes out without a preflight, and a WebSocket is not bound
by CORS at all. So:

* a state-changing request (POST, PUT, PATCH, DELETE) whose ``Origin`` is neither this
  server's own nor one of ``STREAMING_UMAP_CORS_ORIGINS`` is refused (403), and so is one
  a browser marks ``Sec-Fetch-Site: cross-site`` without such an Origin;
* a state-changing request with a simple-request content type (``text/plain``,
  ``application/x-www-form-urlencoded``, ``multipart/form-data``) is refused (415): no
  endpoint takes them, and a browser sends them cross-site without asking;
* a WebSocket handshake with a foreign ``Origin`` is refused before it is accepted
  (HTTP 403).

Requests without an ``Origin`` (curl, the Python client) are not cross-site requests of a
browser and pass. The ``Host`` allowlist against DNS rebinding is Starlette's
``TrustedHostMiddleware`` (``STREAMING_UMAP_ALLOWED_HOSTS``), in the app factory.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import Forbidden, UnsupportedMediaType
from .responses import JSON

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def _netloc(origin: str) -> str | None:
    """``host:port`` of an origin, with the scheme's default port made explicit."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port or _DEFAULT_PORTS[parts.scheme]}".lower()


def _host_netloc(host: str, scheme: str) -> str:
    host = host.strip().lower()
    if host.endswith("]") or ":" not in host:  # no port given
        return f"{host}:{_DEFAULT_PORTS.get(scheme, '80')}"
    return host


class OriginPolicy:
    """Which ``Origin`` values may act here: this server's own (the request's ``Host``)
    and the configured CORS origins (``*``: any)."""

    def __init__(self, cors_origins: tuple[str, ...]) -> None:
        self.any = "*" in cors_origins
        self.allowed = {o.lower() for o in cors_origins if o != "*"}

    def allows(self, origin: str, host: str | None, scheme: str) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if self.any or origin in self.allowed:
            return True
        own = _netloc(origin)
        return own is not None and host is not None and own == _host_netloc(host, scheme)

    def refusal(self, origin: str) -> Forbidden:
        return Forbidden(f"cross-site request refused: Origin {origin!r} is neither this "
                         "server's own nor one of STREAMING_UMAP_CORS_ORIGINS")


class CrossSiteGuard:
    """ASGI middleware applying the rules of the module docstring."""

    def __init__(self, app: ASGIApp, cors_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.policy = OriginPolicy(cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            if self._foreign(Headers(scope=scope), scope) is not None:
                await send({"type": "websocket.close", "code": 1008, "reason": "foreign Origin"})
                return
        elif scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            error = self._check(Headers(scope=scope), scope)
            if error is not None:
                await JSON(error.to_dict(), status_code=error.status_code)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _foreign(self, headers: Headers, scope: Scope) -> str | None:
        """The Origin, if it is one that may not act here."""
        origin = headers.get("origin")
        if origin is None:
            return None
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        return None if self.policy.allows(origin, headers.get("host"), scheme) else origin

    def _check(self, headers: Headers, scope: Scope) -> Forbidden | UnsupportedMediaType | None:
        foreign = self._foreign(headers, scope)
        if foreign is not None:
            return self.policy.refusal(foreign)
        if headers.get("sec-fetch-site") == "cross-site" and headers.get("origin") is None:
            return Forbidden("cross-site request refused: the browser marked it cross-site "
                             "and sent no Origin")
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media in SIMPLE_TYPES:
            return UnsupportedMediaType(
                f"Content-Type {media!r} is refused on {scope['method']} requests: a browser "
                "sends it from any site without asking; send application/json, "
                "application/x-npy or text/csv")
        return None
