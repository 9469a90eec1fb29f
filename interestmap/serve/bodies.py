"""How FastAPI reads the API's request bodies: content type, size limit, strict JSON.

The routes declare their bodies as pydantic models and FastAPI parses them; the route
classes here only decide *how the bytes are read* before that:

- :class:`JsonRoute`: ``application/json`` (or no content type) only (415 otherwise, naming the upload route
  when a form was sent), at most :data:`MAX_JSON_BYTES` (413 while streaming), and parsed
  strictly by :func:`parse_json_strict` (``NaN``, ``Infinity`` and overflowing numbers are
  refused with a 400 that names them, where Python's ``json`` would accept them).
- :func:`limited_receive`: the byte counter both route classes use (uploads have their
  own limit, see :mod:`interestmap.serve.uploads`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message, Receive

from interestmap.serve.errors import ApiError

MAX_JSON_BYTES = 4 * 1024 * 1024
"""Largest JSON body accepted (a fused vector is a few tens of kB)."""
UPLOAD_SUFFIX = "/upload"
"""A JSON route's multipart twin is at the same path plus this."""

_CONSTANT = re.compile(rb"-?(NaN|Infinity)")


def content_type(request: Request) -> str:
    """The request's media type, lower-case, without parameters ("" when absent)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def declared_length(request: Request) -> int | None:
    """The Content-Length header as a number (None when absent)."""
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "the Content-Length header is not a number") from None


def check_token_first(request: Request) -> None:
    """The serving app's bearer-token check, before any body byte is read (the routes'
    token dependency runs only after FastAPI has read the body)."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    request.app.state.service.check_token(given if scheme.lower() == "bearer" else None)


def limited_receive(request: Request, limit: int, too_big: str) -> Receive:
    """``request``'s receive channel that raises ``ApiError`` 413 with ``too_big`` as soon as
    the declared or streamed body passes ``limit`` bytes."""
    n = declared_length(request)
    if n is not None and n > limit:
        raise ApiError(413, too_big)
    receive, seen = request.receive, 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise ApiError(413, too_big)
        return message

    return counted


def parse_json_strict(raw: bytes) -> Any:
    """Parse a JSON body; NaN, Infinity and overflowing numbers raise ``ApiError`` 400.

    orjson follows RFC 8259: it refuses the constants and numbers that overflow a double,
    so every number it returns is finite (and it is ~10x faster than ``json`` on a vector).
    """
    if not raw.strip():
        raise ApiError(400, "the request body is empty: send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ApiError(400, f"the request body is not valid JSON: {_json_problem(raw, e)}"
                       ) from None


def _json_problem(raw: bytes, e: orjson.JSONDecodeError) -> str:
    constant = _CONSTANT.match(raw, max(e.pos - 1, 0)) or _CONSTANT.match(raw, e.pos)
    if constant:
        return (f"{constant.group(0).decode()} is not a number JSON allows: send finite "
                "numbers only")
    if "infinity" in e.msg:
        number = re.match(rb"[-+0-9.eE]{1,40}", raw[e.pos:])
        shown = number.group(0).decode() if number else "a number"
        return f"the number {shown} is too large: send finite numbers only"
    if "utf-8" in e.msg.lower() or "surrogate" in e.msg.lower():
        return "it is not UTF-8 text: send UTF-8 JSON"
    return f"{e.msg} at line {e.lineno} column {e.colno}"


class _StrictJSONRequest(Request):
    """A request whose ``json()`` is :func:`parse_json_strict`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json_strict(await self.body())
        return self._json


class JsonRoute(APIRoute):
    """A route whose body is JSON: content type, size and strict parsing checked first."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        upload_path = self.path + UPLOAD_SUFFIX
        too_big = (f"the JSON body is larger than {MAX_JSON_BYTES // (1024 * 1024)} MB: send "
                   "a caption or one vector per request")

        async def read_json(request: Request) -> Response:
            check_token_first(request)
            ctype = content_type(request)
            if ctype == "multipart/form-data":
                raise ApiError(415, f"{self.path} takes JSON: upload files to {upload_path}")
            if ctype not in ("application/json", "") and not ctype.endswith("+json"):
                raise ApiError(415, f"unsupported content type '{ctype or 'none'}': send "
                                    f"application/json to {self.path}, or multipart/form-data "
                                    f"with a file to {upload_path}")
            receive = limited_receive(request, MAX_JSON_BYTES, too_big)
            return await handler(_StrictJSONRequest(request.scope, receive))

        return read_json
