"""Embedded stores shared inside a process: one open Qdrant Edge store per folder.

Qdrant Edge allows one process per folder; inside a process every user of a folder
(the app, the API, a build) shares one open backend, closed when its last user lets go.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interestmap.store.schema import StoreSettings


@dataclass
class SharedBackend:
    """One open embedded backend and how many stores use it."""

    backend: Any
    refs: int = 0
    closed: bool = False


_LOCAL: dict[Path, SharedBackend] = {}
_LOCAL_LOCK = threading.Lock()


def acquire_embedded(path: Path, settings: StoreSettings) -> SharedBackend:
    """The shared backend of the embedded store in ``path`` (opened on first use)."""
    from interestmap.store.edge import EdgeBackend

    with _LOCAL_LOCK:
        shared = _LOCAL.get(path)
        if shared is None:
            shared = _LOCAL[path] = SharedBackend(EdgeBackend(path, settings))
        shared.refs += 1
        return shared


def release_embedded(path: Path, shared: SharedBackend | None = None,
                     force: bool = False) -> None:
    """Drop one user of the store of ``path`` (``shared``: only if it is still that one)."""
    with _LOCAL_LOCK:
        current = _LOCAL.get(path)
        if current is None or (shared is not None and current is not shared):
            return
        current.refs -= 1
        if current.refs <= 0 or force:
            current.closed = True
            current.backend.close()
            del _LOCAL[path]


def embedded_open_under(folder: Path) -> bool:
    """True if this process has an embedded store open on ``folder`` or inside it."""
    folder = folder.resolve()
    with _LOCAL_LOCK:
        return any(p == folder or folder in p.parents for p in _LOCAL)


def close_embedded_under(folder: Path) -> None:
    """Close every shared embedded store whose folder lies in ``folder``."""
    folder = folder.resolve()
    with _LOCAL_LOCK:
        paths = [p for p in _LOCAL if p == folder or folder in p.parents]
    for path in paths:
        release_embedded(path, force=True)
