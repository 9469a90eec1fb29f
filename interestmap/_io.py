"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file interestmap writes (manifests, saved models, cached vectors, thumbnails, the
Whisper model copy) goes through :func:`atomic_writer` or one of its shortcuts. The data
goes to a temporary file in the target's folder (so the final rename never crosses a
filesystem), is flushed and fsynced, then ``os.replace``-d over the target, and the folder
is fsynced so the rename itself survives a power cut. If anything fails on the way, the
temporary file is removed and the old file is left as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_text", "atomic_writer",
           "fsync_dir"]

TEMP_SUFFIX = ".tmp"
"""Ending of the temporary files (``.NAME.<random>.tmp`` next to the target)."""


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (renames, new files) to disk; a no-op where unsupported."""
    with contextlib.suppress(OSError):  # not every platform / filesystem allows it
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _open_temp(path: Path) -> tuple[Path, int]:
    """A new, empty temporary file next to ``path``: (its path, an open descriptor).

    Created with mode 0o666 minus the umask, like any file ``open(path, "w")`` makes
    (``tempfile.mkstemp`` would make it private to the user).
    """
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file next to {path}")


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: str = "wb", *,
                  encoding: str = "utf-8") -> Iterator[IO[Any]]:
    """A file object whose content replaces ``path`` when the ``with`` block succeeds.

    For writers that take a file object (``joblib.dump``, ``np.save``, ``PIL.Image.save``,
    ``shutil.copyfileobj``)::

        with atomic_writer(out) as fh:
            np.save(fh, array)

    ``mode`` is ``"wb"`` (bytes) or ``"w"`` (text in ``encoding``). The parent folder must
    exist. If the block raises, ``path`` is untouched and no temporary file is left.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_writer mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    tmp, fd = _open_temp(path)
    try:
        fh: IO[Any] = (os.fdopen(fd, "w", encoding=encoding, newline="") if mode == "w"
                       else os.fdopen(fd, "wb"))
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically (see the module docstring); returns it."""
    with atomic_writer(path) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``text`` atomically; returns it."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | os.PathLike[str], data: Any, **dumps: Any) -> Path:
    """Replace ``path`` with ``data`` as JSON (``dumps`` go to :func:`json.dumps`;
    ``ensure_ascii=False`` unless given) atomically; returns it."""
    dumps.setdefault("ensure_ascii", False)
    return atomic_write_text(path, json.dumps(data, **dumps))
