"""The API's errors: every answer other than 200 is ``{"detail": "<one line>"}``.

Library errors become a 422 (the client's input) or a 503 (something the server lacks);
pydantic's validation errors are rewritten in plain words naming the field; anything
unexpected is a 500 with a reference that the server's log repeats with the details.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from interestmap.errors import (
    IndexError_,
    InterestmapError,
    MissingDependencyError,
    ModelLoadError,
)

log = logging.getLogger("interestmap.serve")

T = TypeVar("T")

PATH_LIKE_FIELDS = frozenset({"path", "paths", "media", "file", "files", "filename",
                              "url", "uri", "video", "image", "audio"})
"""Field names a client might use to point the server at a file: named in the 422."""
JSON_ONLY_FIELDS = frozenset({"vector", "filters"})
"""Fields of the JSON routes that a multipart form cannot carry."""


class ApiError(StarletteHTTPException):
    """An answer other than 200, with a one-line message and, optionally, the fields."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, detail, headers)
        self.status, self.errors = status, errors


def error_response(status: int, detail: str, errors: list[dict[str, str]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The error JSON: ``detail`` always, ``errors`` (field, message) when known."""
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
    if strip_prefix and parts and parts[0] in ("body", "query", "path", "header"):
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
            elif name in JSON_ONLY_FIELDS:
                msg += "; send it in a JSON body, not in a multipart form"
        elif kind == "missing":
            msg = f"'{where}' is required"
        elif kind == "finite_number":
            msg = f"'{where}' must be a finite number (no NaN or infinity)"
        elif "Expected UploadFile" in str(e.get("msg", "")):
            msg = f"'{where}' must be an uploaded file (a form part with a file name)"
        elif kind == "value_error":
            text = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
            msg = text if where == "body" else f"'{where}': {text}"
        elif kind == "model_attributes_type" and where == "body":
            msg = 'the request body must be a JSON object, e.g. {"caption": "...", ' \
                  '"language": "en"}'
        else:
            msg = f"'{where}': {e.get('msg', 'invalid value')}"
        out.append({"field": where, "message": msg})
    return out


def validation_error(errors: Iterable[dict[str, Any]], strip_prefix: bool = False
                     ) -> ApiError:
    """A 422 naming the first few problems in one line."""
    problems = validation_problems(errors, strip_prefix)
    return ApiError(422, "; ".join(p["message"] for p in problems[:5]) or "invalid request",
                    problems)


def guard(fn: Callable[[], T], plain: Callable[[str], str] | None = None) -> T:
    """Run ``fn``; library errors become one-line 4xx/503 answers (their text passed
    through ``plain``, e.g. to put back uploaded names), anything else a 500."""
    try:
        return fn()
    except ApiError:
        raise
    except InterestmapError as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ApiError(library_error_status(e), plain(msg) if plain else msg) from None
    except Exception as e:
        raise internal_error(e) from None


def internal_error(e: BaseException) -> ApiError:
    """A 500 that names a reference; the log has the reference and the details."""
    ref = uuid.uuid4().hex[:12]
    log.error("internal error %s: %s: %s", ref, type(e).__name__, e, exc_info=e)
    return ApiError(500, f"internal error (reference {ref}): the server logged the details; "
                         "please report it")


def _is_empty_body(errors: list[Any]) -> bool:
    return len(errors) == 1 and errors[0].get("type") == "missing" \
        and tuple(errors[0].get("loc", ())) == ("body",)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` with the one-line error JSON."""
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError) -> JSONResponse:
        return error_response(e.status, str(e.detail), e.errors, e.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        errors = list(e.errors())
        if _is_empty_body(errors):
            return error_response(400, "the request body is empty: send a JSON object")
        err = validation_error(errors, strip_prefix=True)
        return error_response(422, str(err.detail), err.errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        detail = e.detail if isinstance(e.detail, str) else "request refused"
        if e.status_code == 404:
            detail = f"no such endpoint: {request.url.path} (see /docs)"
        elif e.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path} (see /docs)"
        elif e.status_code == 400 and "multipart" in request.headers.get("content-type", ""):
            detail = f"the multipart form could not be read: {detail}"
        return error_response(e.status_code, detail, headers=getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, e: Exception) -> JSONResponse:
        return error_response(500, str(internal_error(e).detail))
