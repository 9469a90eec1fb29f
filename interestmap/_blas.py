"""Run a lookup's small linear algebra on one BLAS thread.

A lookup's matrix products are small (one query against a few thousand fitted points).
OpenBLAS still splits them over every core and its threads then spin, waiting for more
work, on the cores the store's search, the HTTP server and other requests need: measured
on 2 cores under load, one query's neighbour search took 16 ms on two BLAS threads and
1.6 ms on one. :func:`one_blas_thread` holds BLAS at one thread while any lookup runs
(counted, so overlapping lookups restore the setting only when the last one ends).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_users = 0
_limiter: Any = None
_controller: Any = None


def _get_controller() -> Any:
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()  # scans the loaded libraries once (~ms)
    return _controller


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS libraries loaded in this process use one thread inside the block."""
    global _users, _limiter
    with _lock:
        if _users == 0:
            try:
                _limiter = _get_controller().limit(limits=1, user_api="blas")
            except Exception:  # noqa: BLE001 - an unknown BLAS just keeps its threads
                _limiter = None
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _limiter is not None:
                _limiter.restore_original_limits()
                _limiter = None
