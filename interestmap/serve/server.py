"""Serve one index with uvicorn: the HTTP API and the Gradio app, in one process.

:func:`serve` opens the index once and serves the API at ``/v1/...`` (``/docs``,
``/healthz``) and the app at ``/`` (Gradio, mounted on the same FastAPI server) over that
one open index. While it runs, the index folder holds ``.serving.json`` with its URL,
so a second program that tries to open the index is told where it is served.

Policy: the server listens on loopback (127.0.0.1) by default. Listening on any other
address exposes it to the network, so that needs a token (``--token`` or
``$INTERESTMAP_API_TOKEN``); with a token, every ``/v1`` endpoint requires
``Authorization: Bearer <token>``. Host and port come from the flags, else Gradio's own
``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``, else the defaults.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interestmap.errors import ConfigError

if TYPE_CHECKING:
    from interestmap.index.interest_index import InterestIndex

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MIN_TOKEN_CHARS = 16
TOKEN_HINT = ("make one with: python -c \"import secrets; print(secrets.token_urlsafe(32))\" "
              "and pass it in the INTERESTMAP_API_TOKEN environment variable")


def resolve_host(host: str) -> list[str]:
    """Every address ``host`` stands for (an IP literal stands for itself)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ConfigError(f"cannot listen on {host!r}: the name does not resolve ({e.strerror}); "
                          "give an IP address such as 127.0.0.1") from None
    return sorted({str(info[4][0]) for info in infos})


def is_loopback(host: str) -> bool:
    """True when every address of ``host`` is a loopback address (reachable only here)."""
    return all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in resolve_host(host))


def api_token(given: str | None) -> str | None:
    """The token from ``--token``, else ``$INTERESTMAP_API_TOKEN``; refuses a weak one."""
    token = given if given is not None else os.environ.get("INTERESTMAP_API_TOKEN")
    if token is None or not token.strip():
        return None
    token = token.strip()
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"the API token is {len(token)} characters; use at least "
                          f"{MIN_TOKEN_CHARS}: {TOKEN_HINT}")
    if any(ch.isspace() or not ch.isprintable() for ch in token):
        raise ConfigError(f"the API token must not contain spaces or control characters: "
                          f"{TOKEN_HINT}")
    return token


def check_binding(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a token."""
    if not is_loopback(host) and not token:
        raise ConfigError(f"refusing to listen on {host} without a token: anyone on the "
                          f"network could use the API. Listen on 127.0.0.1, or set a token "
                          f"(--token or INTERESTMAP_API_TOKEN); {TOKEN_HINT}")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port), or a one-line error."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is not between 0 and 65535")
    addr = resolve_host(host)[0]
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it every keep-alive reply waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((addr, port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        reason = e.strerror or str(e)
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}; pick another --port "
                          "or stop the program using it") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def listen_address(host: str | None, port: int | None, default_port: int = DEFAULT_PORT
                   ) -> tuple[str, int]:
    """``(host, port)``: the flags if given, else ``$GRADIO_SERVER_NAME`` /
    ``$GRADIO_SERVER_PORT``, else 127.0.0.1 and ``default_port``."""
    host = host or os.environ.get("GRADIO_SERVER_NAME") or DEFAULT_HOST
    if port is None:
        raw = os.environ.get("GRADIO_SERVER_PORT")
        try:
            port = int(raw) if raw else default_port
        except ValueError:
            raise ConfigError(f"GRADIO_SERVER_PORT={raw!r} is not a port number") from None
    return host, port


def serve(index_dir: str | Path | None = None, *, host: str | None = None,
          port: int | None = None, token: str | None = None, max_upload_mb: int = 200,
          log_level: str = "info", qdrant_url: str | None = None, app: bool = True,
          announce: Callable[[str], None] | None = None,
          progress: Callable[[float, str], None] | None = None) -> None:
    """Serve the API (and, with ``app``, the Gradio app at ``/``) over the index in
    ``index_dir`` (default: the embedded default index, built on first use) until
    interrupted. ``announce(url)`` is called once the socket is listening."""
    import uvicorn

    from interestmap.app.views import indexes as app_views
    from interestmap.index.manifest import mark_serving, unmark_serving
    from interestmap.serve.api import create_app

    host, port = listen_address(host, port)
    token = api_token(token)
    check_binding(host, token)
    if max_upload_mb <= 0:
        raise ConfigError(f"--max-upload-mb must be > 0, got {max_upload_mb}")
    sock = bind_socket(host, port)  # before the index: a taken port fails fast
    try:
        index: InterestIndex = app_views.open_for_serving(index_dir, qdrant_url, progress)
    except BaseException:
        sock.close()
        raise
    url = url_of(sock)
    _import_request_modules()
    marked = None
    try:
        api = create_app(index, token=token, max_upload_mb=max_upload_mb)
        if app:
            from interestmap.app.blocks import build_app, mount

            mount(api, build_app(str(index.dir) if index_dir else None))
            _keep_api_paths(api)
        config = uvicorn.Config(api, log_level=log_level, timeout_graceful_shutdown=10,
                                server_header=False)

        class _Server(uvicorn.Server):
            async def shutdown(self, sockets: Any = None) -> None:
                await super().shutdown(sockets)
                # uvicorn re-raises SIGTERM once run() ends, before any `finally` here
                unmark_serving(index.dir)
                app_views.close_all()

        server = _Server(config)
        marked = mark_serving(index.dir, url)
        (announce or _print_url)(url + (" app+api" if app else ""))
        server.run(sockets=[sock])
    finally:
        sock.close()
        if marked is not None:
            unmark_serving(index.dir)
        app_views.close_all()


# Modules that requests import on first use. Imported here, before the first request:
# the page's first events run at once in several threads, and two threads importing
# scikit-learn for the first time at the same moment can fail inside its own package
# ("partially initialized module 'sklearn.base'"), seen on a map's first draw.
REQUEST_MODULES = ("interestmap.learn.keywords", "interestmap.learn.clusters",
                   "interestmap.learn.projection", "interestmap.analysis.analyze",
                   "interestmap.analysis.whatif", "interestmap.topics.classifier")


def _import_request_modules() -> None:
    import importlib

    for name in REQUEST_MODULES:
        importlib.import_module(name)


API_PATHS = ("/v1/", "/v1", "/healthz", "/docs", "/openapi.json", "/redoc")
"""Paths the API answers; the app mounted at ``/`` never sees them."""


def _keep_api_paths(api: Any) -> None:
    """Keep the app's mount at ``/`` off the API's paths, so a wrong method or path there
    gets the API's own 405 / 404, not the app's page."""
    from starlette.routing import Match, Mount

    class AppMount(Mount):
        def matches(self, scope: Any) -> tuple[Match, dict[str, Any]]:
            if scope.get("path", "").startswith(API_PATHS):
                return Match.NONE, {}
            return super().matches(scope)

    for route in api.router.routes:
        if type(route) is Mount and route.path == "":
            route.__class__ = AppMount


def _print_url(url: str) -> None:
    url, _, what = url.partition(" ")
    if what == "app+api":
        print(f"interestmap listening on {url} (the app at {url}/, the API at {url}/v1, "
              f"docs at {url}/docs)", flush=True)
    else:
        print(f"interestmap API listening on {url} (docs at {url}/docs)", flush=True)
