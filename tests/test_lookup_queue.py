"""The server's queue of embedded vector lookups: who is answered together, and how."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from interestmap.serve.lookups import Lookup, LookupQueue


class Recorder:
    """An ``answer`` that blocks until released, and records each batch it got."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, lookups: Sequence[Lookup]) -> list[str]:
        self.release.wait(10)
        ids = [lk.vector for lk in lookups]
        self.batches.append(ids)
        if self.fail_on in ids:
            raise ValueError("bad filter")
        return [f"answer {i}" for i in ids]


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0.01)


def test_those_waiting_are_answered_together_by_shape() -> None:
    async def main() -> tuple[Recorder, list[str]]:
        rec = Recorder()
        q = LookupQueue(rec)
        first = asyncio.ensure_future(q.submit(Lookup(0, 5, 5, None)))
        await _settle()  # the first runs alone while the others arrive
        rest = [asyncio.ensure_future(q.submit(Lookup(i, 5, 5, f)))
                for i, f in ((1, None), (2, {"language": "en"}), (3, None),
                             (4, {"language": "en"}))]
        await _settle()
        rec.release.set()
        answers = await asyncio.gather(first, *rest)
        return rec, answers

    rec, answers = asyncio.run(main())
    assert answers == [f"answer {i}" for i in range(5)]
    assert rec.batches == [[0], [1, 3], [2, 4]]


def test_an_error_is_the_answer_of_its_batch_only() -> None:
    async def main() -> list[object]:
        rec = Recorder(fail_on=2)
        q = LookupQueue(rec)
        first = asyncio.ensure_future(q.submit(Lookup(0, 5, 5, None)))
        await _settle()
        bad = [asyncio.ensure_future(q.submit(Lookup(i, 5, 5, {"account": "x"})))
               for i in (1, 2)]
        good = asyncio.ensure_future(q.submit(Lookup(3, 5, 0, None)))
        await _settle()
        rec.release.set()
        return await asyncio.gather(first, *bad, good, return_exceptions=True)

    out = asyncio.run(main())
    assert out[0] == "answer 0" and out[3] == "answer 3"
    assert all(isinstance(e, ValueError) for e in out[1:3])


def test_a_request_gone_before_its_turn_is_not_looked_up() -> None:
    async def main() -> Recorder:
        rec = Recorder()
        q = LookupQueue(rec)
        first = asyncio.ensure_future(q.submit(Lookup(0, 5, 5, None)))
        await _settle()
        gone = asyncio.ensure_future(q.submit(Lookup(1, 5, 5, None)))
        kept = asyncio.ensure_future(q.submit(Lookup(2, 5, 5, None)))
        await _settle()
        gone.cancel()
        rec.release.set()
        assert await kept == "answer 2" and await first == "answer 0"
        with pytest.raises(asyncio.CancelledError):
            await gone
        return rec

    assert asyncio.run(main()).batches == [[0], [2]]


def test_batches_are_capped() -> None:
    async def main() -> Recorder:
        rec = Recorder()
        q = LookupQueue(rec, max_batch=2)
        futs = [asyncio.ensure_future(q.submit(Lookup(i, 5, 5, None))) for i in range(5)]
        await _settle()
        rec.release.set()
        await asyncio.gather(*futs)
        return rec

    assert asyncio.run(main()).batches == [[0, 1], [2, 3], [4]]
