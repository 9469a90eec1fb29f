"""The per-process service behind the routes: one open index, its encoders, the model work.

:class:`Service` holds the index the server opened, the encoders (loaded once, shared by
every request), and the bounded pool that runs model work (decoding, OCR, speech,
encoders) in worker threads, at most ``max_concurrent`` at a time, so ``/healthz`` and
vector lookups stay responsive while clips are being encoded. Its methods are the
library calls the routes make, each turning the library's result into the answer's
JSON in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hmac
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import numpy as np
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from interestmap.serve.errors import ApiError, guard
from interestmap.serve.lookups import Lookup, LookupQueue
from interestmap.serve.uploads import Upload

if TYPE_CHECKING:
    from interestmap.index.interest_index import InterestIndex

log = logging.getLogger("interestmap.serve")

T = TypeVar("T")

ENV_CONCURRENCY = "INTERESTMAP_API_CONCURRENCY"
MAX_WAITING = 64
"""Most encode requests queued at once; more are answered 503 at once."""
DEFAULT_QUEUE_TIMEOUT_S = 120.0


def default_concurrency() -> int:
    """Concurrent encodes: ``$INTERESTMAP_API_CONCURRENCY``, else half the CPU cores."""
    raw = os.environ.get(ENV_CONCURRENCY)
    if raw:
        with contextlib.suppress(ValueError):
            return max(1, int(raw))
    return max(1, (os.cpu_count() or 2) // 2)


def to_jsonable(obj: Any) -> Any:
    """NumPy values, tuples and non-finite floats turned into plain JSON values."""
    from interestmap.store.payloads import to_jsonable as _plain

    return _plain(obj)


class Service:
    """The opened index, the encoders, and the bounded pool model work runs in."""

    def __init__(self, index: InterestIndex, *, own_index: bool = False, token: str | None = None,
                 max_upload_bytes: int = 200 * 1024 * 1024, max_concurrent: int = 1,
                 queue_timeout_s: float = DEFAULT_QUEUE_TIMEOUT_S) -> None:
        self.index = index
        self.own_index = own_index
        self.token = token
        self.max_upload_bytes = max_upload_bytes
        self.max_concurrent = max_concurrent
        self.queue_timeout_s = queue_timeout_s
        self._sem: asyncio.Semaphore | None = None
        self.running = 0
        self.waiting = 0
        self.models_ready = False
        self.warmup_error: str | None = None
        self._encoders: dict[tuple[bool, bool], Any] = {}
        self._enc_lock = threading.Lock()
        self._lookups: LookupQueue | None = None

    # Model work ------------------------------------------------------------------------
    def encoder(self, ocr: bool, asr: bool) -> Any:
        """The index's encoder with these OCR/ASR settings (models shared, never mutated)."""
        with self._enc_lock:
            enc = self._encoders.get((ocr, asr))
            if enc is None:
                base = self.index.encoder
                enc = base if (base.ocr, base.asr) == (ocr, asr) else copy.copy(base)
                enc.ocr, enc.asr = ocr, asr
                self._encoders[(ocr, asr)] = enc
            return enc

    async def run_model(self, fn: Callable[..., T], *args: Any) -> T:
        """Run CPU-bound model work in a thread, at most ``max_concurrent`` at a time."""
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.max_concurrent)
        if self.waiting >= MAX_WAITING:
            raise ApiError(503, "the server is busy encoding other clips: try again shortly",
                           headers={"Retry-After": "5"})
        self.waiting += 1
        try:
            await asyncio.wait_for(self._sem.acquire(), timeout=self.queue_timeout_s)
        except TimeoutError:
            raise ApiError(503, "the server is busy encoding other clips: try again shortly",
                           headers={"Retry-After": "10"}) from None
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            return await run_in_threadpool(fn, *args)
        finally:
            self.running -= 1
            self._sem.release()

    async def warm_up(self) -> None:
        """Load the text encoder and the map models before the first request needs them."""
        from interestmap.clip import Clip

        def work() -> None:
            enc = self.encoder(True, True)
            encoded = enc.encode(Clip(caption="warming up the models", language="en"))
            self.index.nearest(encoded, k=1, k_clips=1)

        try:
            await self.run_model(work)
            self.models_ready = True
        except Exception as e:  # reported by /healthz; requests will raise it plainly
            self.warmup_error = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
            log.warning("model warm-up failed: %s", self.warmup_error)

    def check_token(self, given: str | None) -> None:
        """Refuse (401) a request without the server's bearer token, when it has one."""
        if not self.token:
            return
        if not given or not given.strip():
            raise ApiError(401, "this server needs a token: send 'Authorization: Bearer "
                                "<token>'", headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            raise ApiError(401, "the token is wrong: send the token the server was started "
                                "with", headers={"WWW-Authenticate": "Bearer"})

    # The library calls ------------------------------------------------------------------
    def _nearest(self, query: Any, k: int, k_clips: int, filters: dict[str, Any] | None
                 ) -> dict[str, Any]:
        """``index.nearest`` as the answer's dict: the one place its result is read."""
        return self.index.nearest(query, k=k, k_clips=k_clips, filters=filters).as_dict()

    async def nearest_by_vector(self, values: list[float], k: int, k_clips: int,
                                filters: dict[str, Any] | None) -> dict[str, Any]:
        """The audiences and clips nearest a fused vector (no model runs).

        This is the API's hot path: the lookup runs in a worker thread so the event loop
        stays free. An index that answers one lookup at a time (the embedded store) is
        waited for here, in the event loop, in a :class:`LookupQueue`: 16 waiting clients
        then cost 16 coroutines, not 16 worker threads contending for the index's lock
        and the interpreter, and those waiting together are answered in one call.
        """
        vec = check_vector(values, self.index.layout.total_dim)
        lookup = Lookup(vec, k, k_clips, filters)
        if not getattr(self.index, "serial_lookups", False):
            return await run_in_threadpool(self._answer, [lookup])
        if self._lookups is None:
            self._lookups = LookupQueue(self._answer)
        return await self._lookups.submit(lookup)

    def _answer(self, lookups: Sequence[Lookup]) -> list[dict[str, Any]]:
        """The answers' dicts of vector lookups of one shape (``index.nearest_many``)."""
        first = lookups[0]

        def work() -> list[dict[str, Any]]:
            results = self.index.nearest_many([lk.vector for lk in lookups], k=first.k,
                                              k_clips=first.k_clips, filters=first.filters)
            return [to_jsonable(res.as_dict() | {
                "query": query_info("vector", vector=lk.vector, index=self.index)})
                for lk, res in zip(lookups, results, strict=True)]

        return guard(work)

    async def nearest_by_clip(self, clip: Any, *, ocr: bool, asr: bool, k: int, k_clips: int,
                              filters: dict[str, Any] | None = None,
                              upload: Upload | None = None) -> dict[str, Any]:
        """Encode ``clip`` with the index's encoders, then its nearest audiences and clips."""
        def work() -> dict[str, Any]:
            encoded = self.encoder(ocr, asr).encode(clip)
            return self._nearest(encoded, k, k_clips, filters) | {
                "query": query_info("upload" if upload else "caption", encoded=encoded)}

        return to_jsonable(await self.run_model(guard, work, _plain(upload)))

    async def analyze(self, clip: Any, *, k: int, k_clips: int, ocr: bool, asr: bool,
                      upload: Upload | None = None) -> dict[str, Any]:
        """The library's analysis of ``clip`` as the answer's dict."""
        from interestmap.analysis.analyze import analyze

        def work() -> dict[str, Any]:
            res = analyze(clip, self.index, k=k, k_clips=k_clips, ocr=ocr, asr=asr)
            return res.as_dict(k)

        return self.scrub(await self.run_model(guard, work, _plain(upload)), upload)

    async def whatif(self, clip: Any, edits: Sequence[tuple[str, str]], *, combine: bool,
                     k: int, ocr: bool, asr: bool, upload: Upload | None = None
                     ) -> dict[str, Any]:
        """The library's what-if of ``clip`` under ``edits`` (``(kind, value)`` pairs)."""
        from interestmap.analysis.whatif import Edit, whatif

        def work() -> dict[str, Any]:
            report = whatif(clip, [Edit(kind, value) for kind, value in edits], self.index,
                            combine=combine, k=k, ocr=ocr, asr=asr)
            return report.as_dict()

        return self.scrub(await self.run_model(guard, work, _plain(upload)), upload)

    def scrub(self, obj: Any, upload: Upload | None) -> Any:
        """``obj`` without server paths: uploads by their names, the index by its name."""
        folder = str(getattr(self.index, "dir", ""))
        name = Path(folder).name

        def clean(v: Any) -> Any:
            if isinstance(v, str):
                v = upload.plain(v) if upload else v
                return v.replace(folder, name) if folder else v
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list):
                return [clean(x) for x in v]
            return v

        return clean(to_jsonable(obj))


def _plain(upload: Upload | None) -> Callable[[str], str] | None:
    return upload.plain if upload is not None else None


def query_info(kind: str, encoded: Any = None, vector: np.ndarray | None = None,
               index: InterestIndex | None = None) -> dict[str, Any]:
    """What the server made of the request: its kind, media, blocks and language."""
    from interestmap.encoders.fusion import BLOCKS

    if encoded is not None:
        return {"kind": kind, "media_kind": encoded.media_kind,
                "blocks": [b for b in BLOCKS if encoded.blocks.get(b) is not None],
                "missing": dict(encoded.missing), "language": encoded.signals.language,
                "notes": list(encoded.notes)}
    present = index.fuser.presence(vector)[0]
    return {"kind": kind, "media_kind": "none",
            "blocks": [b for b, p in zip(BLOCKS, present, strict=True) if p],
            "missing": {}, "language": None, "notes": []}


def check_vector(values: list[float], dim: int) -> np.ndarray:
    """``values`` as a float32 vector of the index's dimension, or a 422 saying why not."""
    if len(values) != dim:
        raise ApiError(422, f"the vector has {len(values)} dimensions, but this index's fused "
                            f"vectors have {dim}: encode the clip with the index's encoders "
                            "(see /healthz for its blocks)",
                       [{"field": "vector", "message": f"expected {dim} numbers, "
                                                       f"got {len(values)}"}])
    with np.errstate(over="ignore"):
        v = np.array(values, dtype=np.float32)  # past float32's range becomes infinite
    if not np.isfinite(v).all():
        raise ApiError(422, "the vector must hold finite numbers (no NaN or infinity)",
                       [{"field": "vector", "message": "not finite"}])
    if not v.any():
        raise ApiError(422, "the vector is all zeros: it says nothing about a clip",
                       [{"field": "vector", "message": "all zeros"}])
    return v


def clip_of(caption: str, language: str | None, geo: str | None,
            media: list[Path] | None = None, clip_id: str | None = None) -> Any:
    """The library's ``Clip`` for a request, or a 422 when it says nothing."""
    from interestmap.clip import Clip

    if not media and not caption.strip():
        raise ApiError(422, "nothing to analyse: give a caption, upload a clip under 'file', "
                            "or send a fused 'vector'",
                       [{"field": "caption", "message": "empty"}])
    return Clip.of(media or None, caption=caption, language=language or None,
                   geo=geo or None, id=clip_id)


def get_service(request: Request) -> Service:
    """The app's service (a FastAPI dependency)."""
    return request.app.state.service


BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="Needed when the server was started with a token (--token "
                                "or $INTERESTMAP_API_TOKEN).")


def require_token(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
    """The ``/v1`` routes' dependency: the bearer token, when the server has one."""
    get_service(request).check_token(credentials.credentials if credentials else None)


ServiceDep = Annotated[Service, Depends(get_service)]
