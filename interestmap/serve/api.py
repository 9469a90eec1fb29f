"""The HTTP API: the library's lookups behind FastAPI, with an OpenAPI document.

``create_app`` opens one index and serves:

- ``POST /v1/nearest-audience``: which audiences a clip reaches, from a caption (JSON),
  an uploaded clip (multipart), or a raw fused vector (JSON);
- ``POST /v1/analyze`` and ``POST /v1/whatif``: the clip analysis and what-if edits;
- ``GET /v1/audiences``, ``GET /v1/topics``; ``GET /healthz``.

Request bodies are read here, not by FastAPI, so that every bad input gets a plain 4xx:
JSON is parsed strictly (``NaN``, ``Infinity`` and overflowing numbers are refused),
bodies and uploads have size limits (uploads are streamed to a temporary folder and
refused with 413 past the limit), unknown fields are refused with 422, and no file path
a client sends is ever opened: media reach the server only as uploaded bytes.

Model work (decoding, OCR, speech, encoders) is CPU-bound: it runs in worker threads,
at most ``max_concurrent_encodes`` at a time, so ``/healthz`` and vector lookups stay
responsive while clips are being encoded.

Examples (``interestmap serve --index DIR``; the OpenAPI document is at ``/docs``)::

    curl -s localhost:8000/v1/nearest-audience -H 'Content-Type: application/json' \
         -d '{"caption": "Derby day! #football", "language": "en", "geo": "Madrid"}'
    curl -s localhost:8000/v1/nearest-audience -F file=@clip.mp4 -F caption='Derby day'
    curl -s localhost:8000/v1/whatif -H 'Content-Type: application/json' \
         -d '{"caption": "Derby day!", "edits": [{"kind": "language", "value": "es"}]}'
    curl -s localhost:8000/v1/whatif -F file=@clip.mp4 -F edit_audio=@other-sound.mp3
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hmac
import json
import logging
import math
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from interestmap import __version__
from interestmap.errors import (
    IndexError_,
    InterestmapError,
    MissingDependencyError,
    ModelLoadError,
)

log = logging.getLogger("interestmap.serve.api")

API_TITLE = "interestmap API"
ENV_TOKEN = "INTERESTMAP_API_TOKEN"
ENV_CONCURRENCY = "INTERESTMAP_API_CONCURRENCY"
MAX_JSON_BYTES = 4 * 1024 * 1024
"""Largest JSON body accepted (a fused vector is a few tens of kB)."""
FORM_SLACK_BYTES = 256 * 1024
"""Room for the text fields and part headers of a multipart upload, beyond the files."""
MAX_FILES = 20
"""Most files in one upload (a carousel)."""
MAX_WAITING = 64
"""Most encode requests queued at once; more are answered 503 at once."""
DEFAULT_QUEUE_TIMEOUT_S = 120.0
PATH_LIKE_FIELDS = frozenset({"path", "paths", "media", "file", "files", "filename",
                              "url", "uri", "video", "image", "audio"})
"""Field names a client might use to point the server at a file: named in the 422."""

T = TypeVar("T")


# Request and response models ------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ClipFilters(_Strict):
    """Which indexed clips may be returned as nearest clips (all given conditions hold)."""

    account: str | list[str] | None = Field(None, description="account name(s)",
                                            examples=["@mychannel"])
    language: str | list[str] | None = Field(None, description="language code(s)",
                                             examples=["en"])
    media_kind: str | list[str] | None = Field(
        None, description='"video", "image", "carousel", "audio" or "none"')
    labels: str | list[str] | None = Field(None, description="clip label(s)")
    audience: int | list[int] | None = Field(None, description="audience id(s)")
    since: str | None = Field(None, description="published at or after (ISO 8601 date)",
                              examples=["2024-05-01"])
    until: str | None = Field(None, description="published at or before (ISO 8601 date)")


class ClipFields(_Strict):
    """A clip described in words: caption, language and geo."""

    caption: str = Field("", max_length=10_000,
                         description="Caption with hashtags, as it would be posted.",
                         examples=["Matchday! ⚽ #football #derby"])
    language: str | None = Field(None, max_length=35,
                                 description="Language code the clip is in (ISO 639-1), "
                                             "e.g. en, ru, pt. Detected when omitted.",
                                 examples=["en"])
    geo: str | None = Field(None, max_length=200,
                            description='Where it is posted for: a city or country, or '
                                        '"lat,lon".', examples=["Madrid"])
    ocr: bool = Field(True, description="Read on-screen text of uploaded media (slower).")
    asr: bool = Field(True, description="Transcribe speech of uploaded media (slower).")


class NearestAudienceRequest(ClipFields):
    """Either a clip (caption, language, geo) or a raw fused ``vector``, not both."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"caption": "Derby day at the stadium #football", "language": "en",
         "geo": "Madrid", "k": 3},
        {"vector": [0.01, -0.02, 0.03], "k": 5},
    ]})

    vector: list[float] | None = Field(
        None, min_length=1, max_length=100_000,
        description="A fused interest vector (e.g. from `interestmap encode --out`), with "
                    "exactly the index's number of dimensions (see /healthz).")
    k: int = Field(5, ge=1, le=100, description="How many audiences to return.")
    k_clips: int = Field(5, ge=0, le=100, description="How many nearest clips to return.")
    filters: ClipFilters | None = Field(None, description="Restrict the nearest clips.")


class AnalyzeRequest(ClipFields):
    """A clip described in words; upload media with multipart to analyse them too."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"caption": "3 drills for a stronger first touch #football", "language": "en",
         "geo": "Madrid", "k": 3},
    ]})

    k: int = Field(5, ge=1, le=100, description="How many audiences and topics to return.")
    k_clips: int = Field(5, ge=0, le=100, description="How many nearest clips to return.")


FILE_EDITS: dict[str, str] = {"media": "edit_media", "frames": "edit_frames",
                              "audio": "edit_audio"}
"""Edits that swap media, and the multipart field their replacement file comes in."""


class EditIn(_Strict):
    """One change to the clip. Media swaps are uploaded files (see the multipart form)."""

    kind: Literal["caption", "language", "geo", "drop"] = Field(
        description="caption: new caption text ('' removes it); language: a language "
                    "code; geo: a place; drop: a block to remove (caption, ocr, speech, "
                    "visual, visual_semantics, audio, language, geo, or 'visuals').")
    value: str = Field("", max_length=10_000, examples=["ru"])


class WhatIfRequest(ClipFields):
    """A clip and the edits to try; each edit is a separate variant unless ``combine``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"caption": "Derby day! #football", "language": "en", "geo": "Madrid",
         "edits": [{"kind": "language", "value": "es"}, {"kind": "geo", "value": "London"},
                   {"kind": "caption", "value": "¡Día de derbi! #fútbol"}]},
    ]})

    edits: list[EditIn] = Field(default_factory=list, max_length=20,
                                description="The changes to try (text edits; media swaps "
                                            "are uploaded files, see the multipart form).")
    combine: bool = Field(False, description="Apply all the edits together as one variant.")
    k: int = Field(5, ge=1, le=50, description="How many audiences to compare.")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AnalyzeResponse(_Open):
    """The analysis of one clip (what ``interestmap analyze --json`` prints)."""

    index: str = Field(description="Name of the index the clip was compared with.")
    clip: dict[str, Any] = Field(description="Media kind, blocks present, missing blocks "
                                             "and why, the signals read.")
    clarity: dict[str, Any] = Field(description="Topic clarity 0-100 with its reason.")
    topics: dict[str, Any] = Field(description="Declared topics, fused and per block.")
    modalities: dict[str, Any] = Field(description="Which block drives the match and "
                                                   "which disagrees.")
    audiences: list[dict[str, Any]]
    nearest_clips: list[dict[str, Any]]
    map: dict[str, Any] = Field(description="x, y on the index's map.")
    advice: list[dict[str, Any]] = Field(description="Ranked suggestions with evidence.")


class VariantOut(_Open):
    edits: list[dict[str, Any]]
    summary: str = Field(description="The move in one sentence.")
    fused_distance: float = Field(description="1 - cosine between the original and the "
                                              "edited fused vectors.")
    distance_by_block: dict[str, float]
    map: dict[str, Any]
    top_topic: dict[str, Any]
    audiences: list[dict[str, Any]] = Field(description="Similarity before and after.")
    attribution_delta: dict[str, Any]
    clarity: dict[str, Any]


class WhatIfResponse(_Open):
    original: AnalyzeResponse
    variants: list[VariantOut]


class TopicRef(BaseModel):
    id: str = Field(description="Declared topic id.")
    name: str
    similarity: float | None = Field(None, description="Cosine of the audience's text "
                                                       "centroid to the topic.")


class AudienceMatch(BaseModel):
    """An audience the clip reaches, with why."""

    id: int
    label: str = Field(description="Plain-words name of the audience.")
    size: int = Field(description="Clips of the index in this audience.")
    similarity: float = Field(description="Weighted mean of per-block cosines to the "
                                          "audience centroid, over the blocks both have.")
    probability: float = Field(description="Membership probability (0..1) by the "
                                           "audience model.")
    attribution: dict[str, float] = Field(
        description="Each block's share of the similarity (they sum to it).")
    top_topics: list[TopicRef] = Field(default_factory=list)


class ClipMatch(BaseModel):
    id: str | None = None
    account: str | None = None
    caption: str | None = None
    audience: int | None = None
    similarity: float


class QueryInfo(BaseModel):
    """What the server made of the request."""

    kind: Literal["caption", "vector", "upload"]
    media_kind: str = Field("none", description='"video", "image", "carousel", "audio" '
                                                'or "none" (caption only).')
    blocks: list[str] = Field(description="Blocks present in the clip's fused vector.")
    missing: dict[str, str] = Field(default_factory=dict,
                                    description="Absent blocks and why, in words.")
    language: str | None = None
    notes: list[str] = Field(default_factory=list)


class NearestAudienceResponse(BaseModel):
    audiences: list[AudienceMatch]
    clips: list[ClipMatch]
    x: float | None = Field(None, description="Where the clip lands on the map.")
    y: float | None = None
    query: QueryInfo


class AudienceOut(BaseModel):
    id: int
    label: str
    size: int
    keywords: list[tuple[str, float]]
    top_topics: list[TopicRef]
    account_shares: dict[str, float] = Field(description="Account -> share of the "
                                                         "audience's clips.")
    exemplars: list[str] = Field(description="Ids of its most typical clips.")


class AudiencesResponse(BaseModel):
    count: int
    clips: int | None = Field(None, description="Clips in the index.")
    outlier_share: float | None = Field(None, description="Share of clips in no audience.")
    audiences: list[AudienceOut]


class TopicOut(BaseModel):
    id: str
    name: str
    description: str = ""
    examples: list[str] = Field(default_factory=list)
    sounds: list[str] = Field(default_factory=list)
    visuals: list[str] = Field(default_factory=list)


class TopicsResponse(BaseModel):
    count: int
    topics: list[TopicOut]


class IndexSummary(BaseModel):
    name: str
    clips: int | None = None
    audiences: int | None = None
    topics: int | None = None
    vector_dim: int = Field(description="Dimensions of the fused vectors it accepts.")
    blocks: dict[str, int] = Field(description="Block -> dimensions, in vector order.")


class HealthResponse(BaseModel):
    status: Literal["ok"]
    version: str
    index: IndexSummary
    models_ready: bool = Field(description="The encoders are loaded (first requests "
                                           "before that wait for them).")
    warmup_error: str | None = None
    encodes_running: int
    encodes_waiting: int
    auth: bool = Field(description="Whether /v1 endpoints need a bearer token.")


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorResponse(BaseModel):
    detail: str = Field(description="What is wrong and what to do, in one line.")
    errors: list[FieldProblem] | None = None


# Errors ------------------------------------------------------------------------------------
class ApiError(Exception):
    """An answer other than 200, with a one-line message."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers


def _error_response(status: int, detail: str, errors: list[dict[str, str]] | None = None,
                    headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def library_error_status(e: InterestmapError) -> int:
    """HTTP status for an error the library raised on purpose."""
    if isinstance(e, MissingDependencyError | ModelLoadError | IndexError_):
        return 503  # the server lacks something: not the client's fault
    return 422


def _loc(loc: Iterable[Any], strip_prefix: bool) -> str:
    parts = [str(p) for p in loc]
    if strip_prefix and len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]  # FastAPI's own validation says where the field came from
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def validation_problems(errors: Iterable[dict[str, Any]], strip_prefix: bool = False
                        ) -> list[dict[str, str]]:
    """Pydantic errors as ``{"field", "message"}`` in plain words."""
    out = []
    for e in errors:
        where = _loc(e.get("loc", ()), strip_prefix)
        kind = e.get("type", "")
        name = where.rsplit(".", 1)[-1]
        if kind == "extra_forbidden":
            msg = f"unknown field '{name}'"
            if name.lower() in PATH_LIKE_FIELDS:
                msg += ("; this API never opens files named by the client: upload the "
                        "file's bytes as multipart form data under 'file'")
        elif kind == "missing":
            msg = f"'{where}' is required"
        elif kind == "finite_number":
            msg = f"'{where}' must be a finite number (no NaN or infinity)"
        else:
            msg = f"'{where}': {e.get('msg', 'invalid value')}"
        out.append({"field": where, "message": msg})
    return out


def _validation_error(errors: Iterable[dict[str, Any]], strip_prefix: bool = False
                      ) -> ApiError:
    problems = validation_problems(errors, strip_prefix)
    return ApiError(422, "; ".join(p["message"] for p in problems[:5]) or "invalid request",
                    problems)


# Strict JSON ---------------------------------------------------------------------------
class _BadNumber(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _BadNumber(f"{name} is not a number JSON allows: send finite numbers only")


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise _BadNumber(f"the number {text[:40]} is too large: send finite numbers only")
    return v


def _all_finite(obj: Any) -> bool:
    """True unless a float in the parsed JSON is infinite (an overflowing number)."""
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_all_finite(v) for v in obj.values())
    if isinstance(obj, list):
        try:
            return all(map(math.isfinite, obj))  # a list of numbers, checked in C
        except (TypeError, OverflowError):
            return all(_all_finite(v) for v in obj)
    return True


def parse_json_strict(raw: bytes) -> Any:
    """Parse a JSON body; NaN, Infinity and overflowing numbers raise ``ApiError`` 400.

    The C parser reads the numbers; only a body with an overflowing one is parsed again,
    number by number, to name it (4x faster on a fused vector than always doing so).
    """
    if not raw.strip():
        raise ApiError(400, "the request body is empty: send a JSON object")
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
        if _all_finite(data):
            return data
        return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _BadNumber as e:
        raise ApiError(400, f"the request body is not valid JSON: {e}") from None
    except json.JSONDecodeError as e:
        raise ApiError(400, f"the request body is not valid JSON: {e.msg} at line {e.lineno} "
                            f"column {e.colno}") from None
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not UTF-8 text: send UTF-8 JSON") from None
    except (ValueError, RecursionError) as e:
        raise ApiError(400, f"the request body is not valid JSON: {str(e)[:120]}") from None


def _validate(model: type[BaseModel], data: Any) -> Any:
    if not isinstance(data, dict):
        raise ApiError(422, "the request body must be a JSON object, e.g. "
                            '{"caption": "...", "language": "en"}')
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise _validation_error(e.errors(include_url=False)) from None


# Bodies and uploads ---------------------------------------------------------------------
def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "the Content-Length header is not a number") from None


async def _limited_stream(request: Request, limit: int, too_big: str
                          ) -> AsyncIterator[bytes]:
    """The request body in chunks; ``ApiError`` 413 as soon as it passes ``limit`` bytes."""
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise ApiError(413, too_big)
        yield chunk


async def read_json_body(request: Request) -> Any:
    """The JSON body of a request, size-limited and strictly parsed."""
    too_big = (f"the JSON body is larger than {MAX_JSON_BYTES // (1024 * 1024)} MB: send a "
               "caption or one vector per request")
    n = _declared_length(request)
    if n is not None and n > MAX_JSON_BYTES:
        raise ApiError(413, too_big)
    chunks = [c async for c in _limited_stream(request, MAX_JSON_BYTES, too_big)]
    return parse_json_strict(b"".join(chunks))


@dataclass
class Upload:
    """Uploaded files saved in a private temporary folder, and the text fields."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    """The form field each file came in (``file``, or an edit's field for what-if)."""
    fields: dict[str, str] = field(default_factory=dict)

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def under(self, part: str) -> list[Path]:
        """The files sent under the form field ``part``, in order."""
        return [f for f, p in zip(self.files, self.parts, strict=True) if p == part]

    def plain(self, message: str) -> str:
        """A library message with temporary paths replaced by the uploaded names."""
        for path, name in sorted(zip(self.files, self.names, strict=True),
                                 key=lambda pn: -len(str(pn[0]))):
            message = message.replace(str(path), name).replace(path.name, name)
        return message.replace(str(self.folder), "upload")


_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")


def _display_name(filename: str | None, i: int) -> str:
    base = re.split(r"[\\/]", filename or "")[-1].strip()
    base = "".join(ch for ch in base if ch.isprintable())[:120]
    return base or f"file {i + 1}"


def _suffix(filename: str | None) -> str:
    """Only the extension of a client's file name is used (a hint for the decoder)."""
    suffix = Path(re.split(r"[\\/]", filename or "")[-1]).suffix.lower()
    return suffix if _SAFE_SUFFIX.match(suffix) else ""


async def read_upload(request: Request, max_bytes: int,
                      file_fields: tuple[str, ...] = ("file",)) -> Upload:
    """Stream a multipart body's files to a temporary folder (413 past ``max_bytes``).

    Files are accepted under the form fields ``file_fields`` only; their client-side
    names are kept for messages, never used as paths."""
    from starlette.formparsers import MultiPartException, MultiPartParser

    limit = max_bytes + FORM_SLACK_BYTES
    mb = max_bytes / (1024 * 1024)
    too_big = (f"the upload is larger than this server's limit of {mb:g} MB: send a shorter "
               "or smaller clip, or start the server with a larger --max-upload-mb")
    n = _declared_length(request)
    if n is not None and n > limit:
        raise ApiError(413, too_big)
    parser = MultiPartParser(request.headers, _limited_stream(request, limit, too_big),
                             max_files=MAX_FILES, max_fields=50, max_part_size=64 * 1024)
    try:
        form = await parser.parse()
    except MultiPartException as e:
        raise ApiError(400, f"the multipart form could not be read: {e.message}") from None
    up = Upload(folder=Path(tempfile.mkdtemp(prefix="interestmap-upload-")))
    try:
        total = 0
        for i, (name, value) in enumerate(form.multi_items()):
            if isinstance(value, str):
                if name in up.fields:
                    raise ApiError(422, f"the form field '{name}' is given twice")
                up.fields[name] = value
                continue
            if name not in file_fields:
                raise ApiError(422, f"unknown file field '{name}': send media under "
                                    f"{' or '.join(repr(f) for f in file_fields)} (repeat "
                                    "'file' for a carousel)")
            target = up.folder / f"upload-{len(up.files)}{_suffix(value.filename)}"
            total += await run_in_threadpool(_save_part, value.file, target)
            await value.close()
            if total > max_bytes:
                raise ApiError(413, too_big)
            up.files.append(target)
            up.names.append(_display_name(value.filename, i))
            up.parts.append(name)
        return up
    except BaseException:
        up.cleanup()
        raise
    finally:
        await form.close()


def _save_part(src: Any, target: Path) -> int:
    src.seek(0)
    with open(target, "xb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
        return out.tell()


# The service behind the routes -------------------------------------------------------------
class _Service:
    """The opened index, the encoders, and the bounded pool model work runs in."""

    def __init__(self, index: Any, own_index: bool, token: str | None, max_upload_bytes: int,
                 max_concurrent: int, queue_timeout_s: float) -> None:
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

    def check_token(self, request: Request) -> None:
        if not self.token:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise ApiError(401, "this server needs a token: send 'Authorization: Bearer "
                                "<token>'", headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            raise ApiError(401, "the token is wrong: send the token the server was started "
                                "with", headers={"WWW-Authenticate": "Bearer"})


def _service(request: Request) -> _Service:
    return request.app.state.service


def _require_token(request: Request) -> None:
    _service(request).check_token(request)


ServiceDep = Annotated[_Service, Depends(_service)]


# Results -----------------------------------------------------------------------------------
def to_jsonable(obj: Any) -> Any:
    """NumPy values, tuples and non-finite floats turned into plain JSON values."""
    from interestmap.store.payloads import to_jsonable as _plain

    return _plain(obj)


def _query_info(kind: str, encoded: Any = None, vector: np.ndarray | None = None,
                index: Any = None) -> dict[str, Any]:
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


def _check_vector(values: list[float], dim: int) -> np.ndarray:
    if len(values) != dim:
        raise ApiError(422, f"the vector has {len(values)} dimensions, but this index's fused "
                            f"vectors have {dim}: encode the clip with the index's encoders "
                            "(see /healthz for its blocks)",
                       [{"field": "vector", "message": f"expected {dim} numbers, "
                                                       f"got {len(values)}"}])
    v = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(v)) or np.any(np.abs(v) > np.finfo(np.float32).max):
        raise ApiError(422, "the vector must hold finite numbers (no NaN or infinity)",
                       [{"field": "vector", "message": "not finite"}])
    if not np.any(v):
        raise ApiError(422, "the vector is all zeros: it says nothing about a clip",
                       [{"field": "vector", "message": "all zeros"}])
    return v.astype(np.float32)


def _clip_from(fields: ClipFields, media: list[Path] | None = None,
               clip_id: str | None = None) -> Any:
    from interestmap.clip import Clip

    if not media and not fields.caption.strip():
        raise ApiError(422, "nothing to analyse: give a caption, upload a clip under 'file', "
                            "or send a fused 'vector'",
                       [{"field": "caption", "message": "empty"}])
    return Clip.of(media or None, caption=fields.caption, language=fields.language or None,
                   geo=fields.geo or None, id=clip_id)


# The app -----------------------------------------------------------------------------------
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text} for code, text in (
        (400, "Malformed body (not JSON, NaN/Infinity, unreadable form)"),
        (401, "Missing or wrong bearer token (when the server has one)"),
        (413, "Body or upload larger than the server's limit"),
        (415, "Unsupported content type"),
        (422, "Invalid fields (unknown field, wrong type, wrong vector dimension) or a clip "
              "that cannot be analysed"),
        (503, "Busy, or a model/tool the server needs is missing"),
    )
}

_MULTIPART_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "array", "items": {"type": "string", "format": "binary"},
                 "description": "A video, an audio file, or image(s) (several = a "
                                "carousel). Only the bytes are used."},
        "caption": {"type": "string"},
        "language": {"type": "string", "description": "ISO 639-1 code, e.g. en"},
        "geo": {"type": "string", "description": 'A city or country, or "lat,lon"'},
        "k": {"type": "integer", "default": 5, "minimum": 1, "maximum": 100},
        "k_clips": {"type": "integer", "default": 5, "minimum": 0, "maximum": 100},
        "ocr": {"type": "boolean", "default": True},
        "asr": {"type": "boolean", "default": True},
    },
}


def _body_doc(model: type[BaseModel], multipart: bool) -> dict[str, Any]:
    content: dict[str, Any] = {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}
    if multipart:
        content["multipart/form-data"] = {"schema": _MULTIPART_SCHEMA}
    return {"requestBody": {"required": True, "content": content}}


def default_concurrency() -> int:
    """Concurrent encodes: ``$INTERESTMAP_API_CONCURRENCY``, else half the CPU cores."""
    raw = os.environ.get(ENV_CONCURRENCY)
    if raw:
        with contextlib.suppress(ValueError):
            return max(1, int(raw))
    return max(1, (os.cpu_count() or 2) // 2)


def create_app(index: Any | None = None, index_dir: Path | None = None, *,
               token: str | None = None, max_upload_mb: int = 200,
               max_concurrent_encodes: int | None = None,
               queue_timeout_s: float = DEFAULT_QUEUE_TIMEOUT_S,
               warm_up: bool = True) -> FastAPI:
    """The API over one index: ``index`` as opened, else ``index_dir``, else the embedded
    default index (built on first use).

    ``token``: every ``/v1`` endpoint then needs ``Authorization: Bearer <token>``.
    ``max_upload_mb``: largest upload. ``max_concurrent_encodes``: clips encoded at once
    (default: :func:`default_concurrency`). ``warm_up`` loads the models at start-up.
    """
    from interestmap.index.core import InterestIndex, ensure_default_index

    if max_upload_mb <= 0:
        from interestmap.errors import ConfigError

        raise ConfigError(f"max_upload_mb must be > 0, got {max_upload_mb}")
    own = index is None
    if index is None:
        index = InterestIndex.open(index_dir) if index_dir else ensure_default_index()
    service = _Service(index, own, token or None, int(max_upload_mb * 1024 * 1024),
                       max_concurrent_encodes or default_concurrency(), queue_timeout_s)

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
                    "Send a caption, an uploaded clip, or a fused vector. Errors answer "
                    "with a one-line `detail`.")
    app.state.service = service
    _install_error_handlers(app)
    v1 = [Depends(_require_token)]

    @app.get("/healthz", response_model=HealthResponse, tags=["service"],
             summary="Is the server up, which index it serves, and are the models loaded")
    async def healthz() -> dict[str, Any]:
        m = index.manifest
        counts = m.get("counts", {})
        layout = index.layout
        return {"status": "ok", "version": __version__,
                "index": {"name": Path(index.dir).name, "clips": counts.get("clips"),
                          "audiences": counts.get("audiences"),
                          "topics": counts.get("topics"),
                          "vector_dim": layout.total_dim, "blocks": dict(layout.dims)},
                "models_ready": service.models_ready, "warmup_error": service.warmup_error,
                "encodes_running": service.running, "encodes_waiting": service.waiting,
                "auth": bool(service.token)}

    @app.get("/v1/audiences", response_model=AudiencesResponse, dependencies=v1,
             responses=_ERRORS, tags=["index"], summary="The audiences of the index")
    def audiences() -> dict[str, Any]:
        info = _guard(None, index.info)
        return to_jsonable({"count": len(info["audiences"]),
                            "clips": info["counts"].get("clips"),
                            "outlier_share": info.get("outlier_share"),
                            "audiences": info["audiences"]})

    @app.get("/v1/topics", response_model=TopicsResponse, dependencies=v1,
             responses=_ERRORS, tags=["index"], summary="The declared topics of the index")
    def topics() -> dict[str, Any]:
        items = _guard(None, lambda: [t.as_dict() for t in index.topics])
        return {"count": len(items), "topics": items}

    @app.post("/v1/nearest-audience", response_model=NearestAudienceResponse,
              dependencies=v1, responses=_ERRORS, tags=["clips"],
              openapi_extra=_body_doc(NearestAudienceRequest, multipart=True),
              summary="The audiences a clip reaches, with scores and per-block attribution")
    async def nearest_audience(request: Request, svc: ServiceDep) -> dict[str, Any]:
        """Send JSON (``caption`` + ``language`` + ``geo``, or a fused ``vector``) or a
        multipart form with the clip under ``file`` and the same fields as text."""
        ctype = _content_type(request)
        if ctype == "multipart/form-data":
            return await _nearest_upload(request, svc)
        _require_json(ctype)
        req = _validate(NearestAudienceRequest, await read_json_body(request))
        filters = req.filters.model_dump(exclude_none=True) if req.filters else None
        if req.vector is not None:
            if req.caption.strip() or req.language or req.geo:
                raise ApiError(422, "give either a 'vector' or a clip (caption, language, "
                                    "geo), not both: a fused vector already holds them")
            vec = _check_vector(req.vector, index.layout.total_dim)

            def lookup() -> dict[str, Any]:
                res = index.nearest(vec, k=req.k, k_clips=req.k_clips, filters=filters)
                return res | {"query": _query_info("vector", vector=vec, index=index)}

            return to_jsonable(await run_in_threadpool(_guard, None, lookup))
        clip = _clip_from(req)
        return to_jsonable(await svc.run_model(
            _guard, None, lambda: _encode_nearest(svc, clip, req, filters, "caption")))

    async def _nearest_upload(request: Request, svc: _Service) -> dict[str, Any]:
        up = await read_upload(request, svc.max_upload_bytes)
        try:
            fields = _form_fields(NearestAudienceRequest, up.fields, forbid={"vector",
                                                                              "filters"})
            if not up.files:
                raise ApiError(422, "the form has no file: send the clip under 'file', or "
                                    "send JSON for a caption-only post")
            clip = _clip_from(fields, up.files, clip_id=up.names[0])
            return to_jsonable(await svc.run_model(
                _guard, up, lambda: _encode_nearest(svc, clip, fields, None, "upload")))
        finally:
            await run_in_threadpool(up.cleanup)

    _add_analysis_routes(app, service, v1)
    _install_openapi(app, [NearestAudienceRequest, *_analysis_models()])
    return app


def _encode_nearest(svc: _Service, clip: Any, req: Any, filters: dict[str, Any] | None,
                    kind: str) -> dict[str, Any]:
    encoded = svc.encoder(req.ocr, req.asr).encode(clip)
    res = svc.index.nearest(encoded, k=req.k, k_clips=req.k_clips, filters=filters)
    return res | {"query": _query_info(kind, encoded=encoded)}


def _require_json(ctype: str) -> None:
    if ctype not in ("application/json", "") and not ctype.endswith("+json"):
        raise ApiError(415, f"unsupported content type '{ctype}': send application/json, "
                            "or multipart/form-data with a file")


def _form_fields(model: type[BaseModel], fields: dict[str, Any],
                 forbid: Iterable[str] = ()) -> Any:
    bad = sorted(set(fields) & set(forbid))
    if bad:
        raise ApiError(422, f"'{bad[0]}' cannot be sent in a form upload: send it as JSON")
    return _validate(model, dict(fields))


def _guard(upload: Upload | None, fn: Callable[[], T]) -> T:
    """Run ``fn``; library errors become one-line 4xx/503 answers, anything else a 500."""
    try:
        return fn()
    except ApiError:
        raise
    except InterestmapError as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ApiError(library_error_status(e), upload.plain(msg) if upload else msg) from None
    except Exception as e:
        raise _internal(e) from None


def _internal(e: BaseException) -> ApiError:
    ref = uuid.uuid4().hex[:12]
    log.error("internal error %s: %s: %s", ref, type(e).__name__, e, exc_info=e)
    return ApiError(500, f"internal error (reference {ref}): the server logged the details; "
                         "please report it")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError) -> JSONResponse:
        return _error_response(e.status, e.detail, e.errors, e.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        err = _validation_error(e.errors(), strip_prefix=True)
        return _error_response(422, err.detail, err.errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        detail = e.detail if isinstance(e.detail, str) else "request refused"
        if e.status_code == 404:
            detail = f"no such endpoint: {request.url.path} (see /docs)"
        elif e.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path} (see /docs)"
        return _error_response(e.status_code, detail, headers=getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, e: Exception) -> JSONResponse:
        err = _internal(e)
        return _error_response(500, err.detail)


def _install_openapi(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Add the hand-parsed request bodies' schemas to the OpenAPI components."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        for m in models:
            s = m.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in s.pop("$defs", {}).items():
                comps.setdefault(name, sub)
            comps[m.__name__] = s
        schema["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": f"Needed when the server was started with a token "
                                      f"(--token or ${ENV_TOKEN})."}}
        for path, ops in schema.get("paths", {}).items():
            if path.startswith("/v1/"):
                for op in ops.values():
                    op["security"] = [{"bearer": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


# Analysis and what-if -------------------------------------------------------------------
def _analysis_models() -> list[type[BaseModel]]:
    return [AnalyzeRequest, WhatIfRequest]


def _scrub(obj: Any, index: Any, upload: Upload | None) -> Any:
    """The result without server paths: uploads by their names, the index by its name."""
    folder, name = str(getattr(index, "dir", "")), Path(str(getattr(index, "dir", ""))).name

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


def _form_edits(up: Upload) -> list[dict[str, str]]:
    """The ``edits`` form field (a JSON list) as plain dicts."""
    raw = up.fields.pop("edits", "")
    if not raw.strip():
        return []
    data = parse_json_strict(raw.encode())
    if not isinstance(data, list):
        raise ApiError(422, "the 'edits' form field must be a JSON list, e.g. "
                            '[{"kind": "language", "value": "es"}]')
    return data


def _refuse_file_edits(edits: Any) -> None:
    for e in edits if isinstance(edits, list) else []:
        kind = e.get("kind") if isinstance(e, dict) else None
        if kind in FILE_EDITS:
            raise ApiError(422, f"a '{kind}' edit swaps media: upload the new file as "
                                f"multipart under '{FILE_EDITS[kind]}' (no file path sent "
                                "by a client is ever opened)")


def _add_analysis_routes(app: FastAPI, service: _Service, deps: list[Any]) -> None:
    """``POST /v1/analyze`` and ``POST /v1/whatif``: the library's analysis and what-if."""
    index = service.index
    form_schema = dict(_MULTIPART_SCHEMA)
    whatif_form = {**form_schema, "required": [], "properties": {
        **form_schema["properties"],
        "file": {**form_schema["properties"]["file"],
                 "description": "The clip's media (optional: caption-only posts too)."},
        "edits": {"type": "string", "description": 'JSON list of text edits, e.g. '
                                                   '[{"kind": "language", "value": "es"}]'},
        "combine": {"type": "boolean", "default": False},
        **{f: {"type": "string", "format": "binary",
               "description": f"A file for a '{k}' edit (one variant)."}
           for k, f in FILE_EDITS.items()},
    }}
    whatif_doc = _body_doc(WhatIfRequest, multipart=False)
    whatif_doc["requestBody"]["content"]["multipart/form-data"] = {"schema": whatif_form}

    @app.post("/v1/analyze", response_model=AnalyzeResponse, dependencies=deps,
              responses=_ERRORS, tags=["clips"],
              openapi_extra=_body_doc(AnalyzeRequest, multipart=True),
              summary="Declared topics, clarity, audiences, modality agreement and advice")
    async def analyze_clip(request: Request, svc: ServiceDep) -> dict[str, Any]:
        """JSON for a caption-only post, or multipart with the clip under ``file``."""
        from interestmap.analysis.analyze import analyze

        up: Upload | None = None
        try:
            if _content_type(request) == "multipart/form-data":
                up = await read_upload(request, svc.max_upload_bytes)
                req = _form_fields(AnalyzeRequest, up.fields)
                if not up.files:
                    raise ApiError(422, "the form has no file: send the clip under 'file', "
                                        "or send JSON for a caption-only post")
                clip = _clip_from(req, up.files, clip_id=up.names[0])
            else:
                _require_json(_content_type(request))
                req = _validate(AnalyzeRequest, await read_json_body(request))
                clip = _clip_from(req)

            def work() -> dict[str, Any]:
                res = analyze(clip, index, k=req.k, k_clips=req.k_clips, ocr=req.ocr,
                              asr=req.asr)
                return res.as_dict(req.k)

            out = await svc.run_model(_guard, up, work)
            return _scrub(out, index, up)
        finally:
            if up is not None:
                await run_in_threadpool(up.cleanup)

    @app.post("/v1/whatif", response_model=WhatIfResponse, dependencies=deps,
              responses=_ERRORS, tags=["clips"], openapi_extra=whatif_doc,
              summary="Try edits (caption, language, geo, media, a block removed) and see "
                      "how far the clip moves")
    async def whatif_clip(request: Request, svc: ServiceDep) -> dict[str, Any]:
        """JSON with text edits, or multipart: the clip under ``file``, text edits as a
        JSON list in ``edits``, and replacement media under ``edit_media``,
        ``edit_frames`` or ``edit_audio`` (each one variant)."""
        from interestmap.analysis.whatif import Edit, whatif

        up: Upload | None = None
        try:
            file_edits: list[tuple[str, Path]] = []
            if _content_type(request) == "multipart/form-data":
                up = await read_upload(request, svc.max_upload_bytes,
                                       file_fields=("file", *FILE_EDITS.values()))
                raw_edits = _form_edits(up)
                _refuse_file_edits(raw_edits)
                for kind, part in FILE_EDITS.items():
                    file_edits += [(kind, f) for f in up.under(part)]
                req = _form_fields(WhatIfRequest, {**up.fields, "edits": raw_edits})
                media = up.under("file")
                clip = _clip_from(req, media, clip_id=up.names[0] if media else None)
            else:
                _require_json(_content_type(request))
                data = await read_json_body(request)
                if isinstance(data, dict):
                    _refuse_file_edits(data.get("edits"))
                req = _validate(WhatIfRequest, data)
                clip = _clip_from(req)
            if not req.edits and not file_edits:
                raise ApiError(422, "no edits: send 'edits', e.g. [{\"kind\": \"language\", "
                                    "\"value\": \"es\"}], or upload a file under "
                                    "'edit_media', 'edit_frames' or 'edit_audio'")

            def work() -> dict[str, Any]:
                edits = [Edit(e.kind, e.value) for e in req.edits]
                edits += [Edit(kind, str(path)) for kind, path in file_edits]
                report = whatif(clip, edits, index, combine=req.combine, k=req.k,
                                ocr=req.ocr, asr=req.asr)
                return report.as_dict()

            out = await svc.run_model(_guard, up, work)
            return _scrub(out, index, up)
        finally:
            if up is not None:
                await run_in_threadpool(up.cleanup)
