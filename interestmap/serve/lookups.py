"""Vector lookups waiting in the event loop, answered together.

The embedded store answers one lookup at a time (see ``InterestIndex.serial_lookups``).
Rather than run each waiting request's lookup on its own, :class:`LookupQueue` keeps the
requests that arrive while a lookup runs, and when it ends answers all of those that ask
the same question shape (``k``, ``k_clips``, filters) in one
``InterestIndex.nearest_many`` call: the same answers as one by one, with the model work
(map neighbours, audience membership, placement) done once for the batch. A lone request
is answered at once, as before.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

MAX_BATCH = 64
"""Most lookups answered in one call."""


@dataclass(frozen=True)
class Lookup:
    """One request's lookup: its fused vector and question."""

    vector: Any
    k: int
    k_clips: int
    filters: dict[str, Any] | None

    def shape(self) -> str:
        """What must be equal for two lookups to be answered in one call."""
        return json.dumps([self.k, self.k_clips, self.filters], sort_keys=True, default=str)


class LookupQueue:
    """Lookups answered in batches of those waiting, by ``answer`` in a worker thread.

    ``answer(lookups)`` gets lookups of one shape and returns one answer per lookup, in
    order; an exception it raises is every one of those requests' answer (they asked the
    same question shape, so an error in it, e.g. a bad filter, is theirs alike).
    """

    def __init__(self, answer: Callable[[Sequence[Lookup]], list[Any]],
                 max_batch: int = MAX_BATCH) -> None:
        self.answer = answer
        self.max_batch = max_batch
        self._waiting: list[tuple[Lookup, asyncio.Future[Any]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0
        self.answered = 0

    async def submit(self, lookup: Lookup) -> Any:
        """``lookup``'s answer, once its batch has run."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((lookup, fut))
        if self._worker is None:
            self._worker = loop.create_task(self._drain())
        return await fut

    def _next_batch(self) -> list[tuple[Lookup, asyncio.Future[Any]]]:
        """The oldest waiting lookup and those of its shape after it (up to the cap);
        requests already gone (cancelled) are dropped."""
        self._waiting = [(lk, f) for lk, f in self._waiting if not f.done()]
        if not self._waiting:
            return []
        shape = self._waiting[0][0].shape()
        batch, rest = [], []
        for item in self._waiting:
            (batch if len(batch) < self.max_batch and item[0].shape() == shape
             else rest).append(item)
        self._waiting = rest
        return batch

    async def _drain(self) -> None:
        try:
            while batch := self._next_batch():
                try:
                    answers = await run_in_threadpool(self.answer, [lk for lk, _ in batch])
                except Exception as e:  # noqa: BLE001 - handed to the requests that asked
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(e)
                    continue
                self.batches += 1
                self.answered += len(batch)
                for (_, fut), ans in zip(batch, answers, strict=True):
                    if not fut.done():
                        fut.set_result(ans)
        finally:
            self._worker = None
