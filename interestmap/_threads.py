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
