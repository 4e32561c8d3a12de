"""The principal of each request, from its API key.

Where the key may come from:

* ``Authorization: Bearer <key>``, on any request and on the WebSocket handshake
  (non-browser clients);
* on the WebSocket, a ``Sec-WebSocket-Protocol`` entry ``streaming-umap.bearer.<key>``
  next to the fixed ``streaming-umap.v1``, which the server echoes (browsers cannot set
  headers on a socket; Jupyter and Kubernetes pass tokens the same way);
* ``?token=<key>`` on the WebSocket, only with ``STREAMING_UMAP_WS_TOKEN_QUERY=1`` (query
  strings end up in access logs).

:class:`AuthGate` resolves the principal once per request and leaves it in
``scope["state"]["principal"]`` for the handlers, which pass it to the supervisor. Where
keys are required, an API request without a valid key is a 401 here; the socket is closed
with 4401 by its handler (a browser sees no HTTP status of a refused handshake). The page,
``/docs``, ``/openapi.json`` and ``/health`` stay open (``/health`` shows an anonymous
caller the status alone).
"""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from ..auth import ANONYMOUS, LOCAL, KeyStore, Principal, Quota
from ..config import Settings
from ..errors import Unauthorized
from .responses import JSON

WS_PROTOCOL = "streaming-umap.v1"
WS_TOKEN_PREFIX = "streaming-umap.bearer."
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="streaming-umap"'}
OPEN_PATHS = frozenset({"/", "/health", "/openapi.json", "/favicon.ico"})
OPEN_PREFIXES = ("/docs", "/static/")


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def credentials(conn: HTTPConnection, settings: Settings) -> str | None:
    """The key the request carries, or None. A malformed ``Authorization`` header gives
    an empty key (refused), never a silent anonymous request."""
    header = conn.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""
    if conn.scope["type"] != "websocket":
        return None
    for entry in conn.scope.get("subprotocols", []):
        if entry.startswith(WS_TOKEN_PREFIX):
            return str(entry[len(WS_TOKEN_PREFIX):])
    if settings.ws_token_query and "token" in conn.query_params:
        return conn.query_params["token"]
    return None


class Authenticator:
    """Keys to principals, by the settings' rule (keys required or not)."""

    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        self.settings = settings
        self.keys = keys
        self.required = settings.auth_required
        self.default_quota = Quota(settings.key_max_jobs, settings.key_max_upload_bytes,
                                   settings.key_max_stored_bytes)

    def principal(self, conn: HTTPConnection) -> Principal:
        """Who sent ``conn``; raises :class:`Unauthorized` for a key that is not valid.
        Without keys required, a valid key only names the owner of new jobs."""
        token = credentials(conn, self.settings)
        if token is None:
            return ANONYMOUS if self.required else LOCAL
        key = self.keys.verify(token)
        if key is None:
            raise Unauthorized("the API key is not valid: unknown, revoked or mistyped "
                               "(keys look like sumap_<12 hex digits>_<43 characters>)")
        principal = key.principal(self.default_quota)
        return principal if self.required else replace(principal, admin=True, quota=Quota())

    def __repr__(self) -> str:
        return f"Authenticator(required={self.required}, keys={self.keys!r})"


def principal_of(conn: HTTPConnection) -> Principal:
    principal = conn.scope.get("state", {}).get("principal")
    assert isinstance(principal, Principal), "AuthGate did not run for this request"
    return principal


class AuthGate:
    """ASGI middleware: the principal of every HTTP and WebSocket request (see the
    module docstring); an API request without a valid key, where one is needed, is a 401."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        auth: Authenticator = scope["app"].state.auth
        state = scope.setdefault("state", {})
        error: Unauthorized | None = None
        try:
            principal = auth.principal(HTTPConnection(scope))
        except Unauthorized as exc:
            principal, error = ANONYMOUS, exc
        state["principal"], state["auth_error"] = principal, error
        path = scope["path"]
        refused = error is not None and path.startswith(("/umap/", "/health"))
        if not refused and not principal.authenticated and not is_open(path):
            error = Unauthorized("this server requires an API key: send Authorization: Bearer "
                                 "<key> (create one with `streaming-umap keys create NAME`)")
            refused = True
        if refused and scope["type"] == "http":
            assert error is not None
            await JSON(error.to_dict(), status_code=401, headers=CHALLENGE)(scope, receive, send)
            return
        await self.app(scope, receive, send)
