"""The API's uploaded files: copied into a private folder that goes when the request ends."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from starlette.datastructures import Headers, UploadFile

from interestmap.serve.errors import ApiError
from interestmap.serve.uploads import saved_uploads


def _file(name: str, data: bytes, media_type: str = "video/mp4") -> UploadFile:
    return UploadFile(io.BytesIO(data), filename=name,
                      headers=Headers({"content-type": media_type}))


def _run(parts: list[tuple[str, UploadFile]], max_bytes: int, fail: bool = False
         ) -> tuple[Path | None, list[bytes], BaseException | None]:
    seen: dict[str, object] = {"folder": None, "data": []}

    async def main() -> None:
        async with saved_uploads(parts, max_bytes) as up:
            seen["folder"] = up.folder
            seen["data"] = [p.read_bytes() for p in up.files]
            assert up.names == [n for _, f in parts for n in [f.filename]]
            if fail:
                raise RuntimeError("the analysis failed")

    try:
        asyncio.run(main())
    except (ApiError, RuntimeError) as e:
        return seen["folder"], seen["data"], e  # type: ignore[return-value]
    return seen["folder"], seen["data"], None  # type: ignore[return-value]


def _upload_folders() -> set[Path]:
    import tempfile

    return set(Path(tempfile.gettempdir()).glob("interestmap-upload-*"))


def test_files_are_there_in_the_block_and_gone_after() -> None:
    before = _upload_folders()
    folder, data, err = _run([("file", _file("clip.mp4", b"abc")),
                              ("audio", _file("bed.wav", b"defg", "audio/wav"))], 100)
    assert err is None and data == [b"abc", b"defg"]
    assert folder is not None and not folder.exists()
    assert _upload_folders() == before


def test_the_folder_goes_when_the_work_fails() -> None:
    before = _upload_folders()
    folder, _, err = _run([("file", _file("clip.mp4", b"abc"))], 100, fail=True)
    assert isinstance(err, RuntimeError)
    assert folder is not None and not folder.exists()
    assert _upload_folders() == before


@pytest.mark.parametrize(("parts", "status"), [
    ([("file", _file("a.mp4", b"x" * 60)), ("file", _file("b.mp4", b"y" * 60))], 413),
    ([("file", _file("notes.pdf", b"%PDF", "application/pdf"))], 415)])
def test_a_refused_upload_leaves_nothing_behind(parts, status) -> None:
    before = _upload_folders()
    folder, _, err = _run(parts, 100)
    assert isinstance(err, ApiError) and err.status == status, err
    assert folder is None  # the block never ran
    assert _upload_folders() == before
