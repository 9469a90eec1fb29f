"""Uploaded media: the multipart routes' size limit, media type check and temporary files.

FastAPI parses the form (:class:`UploadRoute` only bounds it: ``multipart/form-data``
only, at most the server's ``--max-upload-mb`` plus room for the text fields, refused
with 413 while streaming); :func:`saved_uploads` then copies each file into a private
temporary folder the decoders read from, removed when the request is answered. A client's file name is kept for messages and
its extension as a hint for the decoder; it is never used as a path.
"""

from __future__ import annotations

import contextlib
import mimetypes
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import Request, Response, UploadFile
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from interestmap.serve.bodies import (
    UPLOAD_SUFFIX,
    check_token_first,
    content_type,
    limited_receive,
)
from interestmap.serve.errors import ApiError

FORM_SLACK_BYTES = 256 * 1024
"""Room for the text fields and part headers of a multipart upload, beyond the files."""
MAX_FILES = 20
"""Most files in one upload (a carousel)."""
FORM_LIMITS: dict[str, int] = {"max_files": MAX_FILES, "max_fields": 50,
                               "max_part_size": 64 * 1024}
"""FastAPI's limits on the parsed form: files, text fields, bytes per text field."""
MEDIA_TYPES = ("video/", "image/", "audio/")
NEUTRAL_TYPES = frozenset({"", "application/octet-stream", "application/mp4",
                           "application/ogg", "binary/octet-stream"})
"""Declared types that say nothing about the file: the decoder decides."""

_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")


def too_big_message(max_bytes: int) -> str:
    """The 413's words for an upload past ``max_bytes``."""
    return (f"the upload is larger than this server's limit of {max_bytes / 1024**2:g} MB: "
            "send a shorter or smaller clip, or start the server with a larger "
            "--max-upload-mb")


class UploadRoute(APIRoute):
    """A route whose body is a multipart form with files, bounded before FastAPI reads it.

    The limit is the serving app's ``service.max_upload_bytes`` (set by ``create_app``).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        json_path = self.path.removesuffix(UPLOAD_SUFFIX)

        async def read_form(request: Request) -> Response:
            check_token_first(request)
            ctype = content_type(request)
            if ctype != "multipart/form-data":
                raise ApiError(415, f"{self.path} takes multipart/form-data with the clip "
                                    f"under 'file' (got '{ctype or 'none'}'): send JSON to "
                                    f"{json_path}")
            max_bytes = request.app.state.service.max_upload_bytes
            receive = limited_receive(request, max_bytes + FORM_SLACK_BYTES,
                                      too_big_message(max_bytes))
            return await handler(Request(request.scope, receive))

        return read_form


@dataclass
class Upload:
    """Uploaded files saved in a private temporary folder."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    """What each file is for (e.g. the form field it came in, or a what-if edit kind)."""

    def cleanup(self) -> None:
        """Delete the temporary folder and everything in it."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def tagged(self, tag: str) -> list[Path]:
        """The files saved with ``tag``, in order."""
        return [f for f, t in zip(self.files, self.tags, strict=True) if t == tag]

    def plain(self, message: str) -> str:
        """A library message with temporary paths replaced by the uploaded names."""
        for path, name in sorted(zip(self.files, self.names, strict=True),
                                 key=lambda pn: -len(str(pn[0]))):
            message = message.replace(str(path), name).replace(path.name, name)
        return message.replace(str(self.folder), "upload")


def _display_name(filename: str | None, i: int) -> str:
    base = re.split(r"[\\/]", filename or "")[-1].strip()
    base = "".join(ch for ch in base if ch.isprintable())[:120]
    return base or f"file {i + 1}"


def _suffix(filename: str | None, media_type: str) -> str:
    """The client's extension if it looks like one, else one for the declared type: a
    hint for the decoder."""
    suffix = Path(re.split(r"[\\/]", filename or "")[-1]).suffix.lower()
    if _SAFE_SUFFIX.match(suffix):
        return suffix
    guessed = mimetypes.guess_extension(media_type) if media_type else None
    return guessed if guessed and _SAFE_SUFFIX.match(guessed) else ""


def check_media_type(name: str, media_type: str) -> None:
    """Refuse (415) a file its sender declares to be something other than media."""
    if media_type in NEUTRAL_TYPES or media_type.startswith(MEDIA_TYPES):
        return
    raise ApiError(415, f"'{name}' was sent as {media_type}: upload a video, an image or an "
                        "audio file")


def _copy(src: BinaryIO, target: Path) -> int:
    src.seek(0)
    with open(target, "xb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
        return out.tell()


@contextlib.asynccontextmanager
async def saved_uploads(parts: Sequence[tuple[str, UploadFile]], max_bytes: int
                        ) -> AsyncIterator[Upload]:
    """Each ``(tag, file)`` copied into a new private temporary folder (413 past
    ``max_bytes`` in all; 415 for a file declared as non-media), deleted when the block
    ends, however it ends."""
    up = Upload(folder=Path(tempfile.mkdtemp(prefix="interestmap-upload-")))
    try:
        total = 0
        for i, (tag, part) in enumerate(parts):
            name = _display_name(part.filename, i)
            media_type = (part.content_type or "").split(";")[0].strip().lower()
            check_media_type(name, media_type)
            target = up.folder / f"upload-{i}{_suffix(part.filename, media_type)}"
            total += await run_in_threadpool(_copy, part.file, target)
            if total > max_bytes:
                raise ApiError(413, too_big_message(max_bytes))
            up.files.append(target)
            up.names.append(name)
            up.tags.append(tag)
        yield up
    finally:
        await run_in_threadpool(up.cleanup)
