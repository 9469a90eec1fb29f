"""One small thread pool for the stages of an encode that can overlap.

The heavy stages release the GIL (CTranslate2, PyTorch, OpenCV, Tesseract in its own
process), so on two cores a clip's sound branch, OCR and picture stages run side by
side. Rule that keeps this deadlock-free: work given to :func:`background` never waits
on other background work; only the caller waits (:func:`join_all`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
MAX_WORKERS = 8
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=MAX_WORKERS,
                                       thread_name_prefix="interestmap-stage")
        return _pool


_imported = False
_STAGE_MODULES = ("numpy", "scipy.ndimage", "scipy.sparse.csgraph", "av", "PIL.Image", "cv2",
                  "torch", "librosa", "librosa.core", "librosa.feature", "librosa.decompose",
                  "librosa.filters", "soxr", "silero_vad", "faster_whisper", "ctranslate2",
                  "pytesseract", "onnxruntime")


def import_stage_modules() -> None:
    """Import the libraries the stages use, in this thread, once per process.

    Two threads importing the same module at once can see it half-initialised (librosa's
    lazy loader is the usual victim) and fail with an ImportError that would read as a
    missing package; importing everything up front, before the stages run side by side,
    rules that out. Modules that are not installed are skipped here: the stage that needs
    one says so when it runs.
    """
    global _imported
    if _imported:
        return
    import importlib

    with _lock:
        if _imported:
            return
        for name in _STAGE_MODULES:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - not installed or broken: the stage reports it
                continue
        _imported = True


def background(fn: Callable[[], T]) -> Future[T]:
    """Run ``fn`` on the shared stage pool; its result or error comes from the future."""
    return _executor().submit(fn)


def join_all(futures: Iterable[Future], *, raise_errors: bool = True) -> None:
    """Wait for every future, then raise the first error among them (in given order)."""
    futures = list(futures)
    if not futures:
        return
    wait(futures)
    if not raise_errors:
        return
    for f in futures:
        err = f.exception()
        if err is not None:
            raise err
