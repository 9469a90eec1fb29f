"""The HTTP API: :func:`create_app` serves one open index with FastAPI.

- ``POST /v1/nearest-audience``: which audiences a clip reaches, from a caption or a raw
  fused vector (JSON); ``POST /v1/nearest-audience/upload``: the same for an uploaded
  clip (multipart);
- ``POST /v1/analyze`` and ``POST /v1/whatif`` (JSON), ``/v1/analyze/upload`` and
  ``/v1/whatif/upload`` (multipart): the clip analysis and what-if edits;
- ``GET /v1/audiences``, ``GET /v1/topics``; ``GET /healthz``; the OpenAPI document at
  ``/openapi.json`` and ``/docs``.

The pieces: :mod:`~interestmap.serve.schemas` (the bodies), :mod:`~interestmap.serve.bodies`
and :mod:`~interestmap.serve.uploads` (how bytes are read), :mod:`~interestmap.serve.service`
(the open index and model work), :mod:`~interestmap.serve.routes`,
:mod:`~interestmap.serve.errors`. No file path a client sends is ever opened: media reach
the server only as uploaded bytes.

Examples (``interestmap serve --index DIR``)::

    curl -s localhost:8000/v1/nearest-audience -H 'Content-Type: application/json' \\
         -d '{"caption": "Derby day! #football", "language": "en", "geo": "Madrid"}'
    curl -s localhost:8000/v1/nearest-audience/upload -F file=@clip.mp4 -F caption='Derby day'
    curl -s localhost:8000/v1/whatif -H 'Content-Type: application/json' \\
         -d '{"caption": "Derby day!", "edits": [{"kind": "language", "value": "es"}]}'
    curl -s localhost:8000/v1/whatif/upload -F file=@clip.mp4 -F edit_audio=@other-sound.mp3
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from interestmap import __version__
from interestmap.serve.errors import install_error_handlers
from interestmap.serve.routes import ROUTERS
from interestmap.serve.service import DEFAULT_QUEUE_TIMEOUT_S, Service, default_concurrency

if TYPE_CHECKING:
    from interestmap.index.interest_index import InterestIndex

API_TITLE = "interestmap API"


def create_app(index: InterestIndex | None = None, index_dir: Path | None = None, *,
               token: str | None = None, max_upload_mb: int = 200,
               max_concurrent_encodes: int | None = None,
               queue_timeout_s: float = DEFAULT_QUEUE_TIMEOUT_S,
               warm_up: bool = True) -> FastAPI:
    """The API over one index: ``index`` as opened, else ``index_dir``, else the embedded
    default index (built on first use).

    ``token``: every ``/v1`` endpoint then needs ``Authorization: Bearer <token>``.
    ``max_upload_mb``: largest upload. ``max_concurrent_encodes``: clips encoded at once
    (default: :func:`~interestmap.serve.service.default_concurrency`). ``warm_up`` loads
    the models at start-up.
    """
    from interestmap.index.default import ensure_default_index
    from interestmap.index.interest_index import InterestIndex

    if max_upload_mb <= 0:
        from interestmap.errors import ConfigError

        raise ConfigError(f"max_upload_mb must be > 0, got {max_upload_mb}")
    own = index is None
    if index is None:
        index = InterestIndex.open(index_dir) if index_dir else ensure_default_index()
    service = Service(index, own_index=own, token=token or None,
                      max_upload_bytes=int(max_upload_mb * 1024 * 1024),
                      max_concurrent=max_concurrent_encodes or default_concurrency(),
                      queue_timeout_s=queue_timeout_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(service.warm_up()) if warm_up else None
        try:
            yield
        finally:
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if service.own_index:
                index.close()

    app = FastAPI(
        title=API_TITLE, version=__version__, lifespan=lifespan,
        description="Which audiences and declared topics a short clip will reach. "
                    "Send a caption or a fused vector as JSON, or upload a clip to the "
                    "`/upload` routes. Errors answer with a one-line `detail`.")
    app.state.service = service
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
