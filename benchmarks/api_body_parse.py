"""Per-request cost of reading a nearest-by-vector JSON body, ours vs FastAPI's default.

Baseline: what FastAPI does without our route class (``json.loads``, which accepts NaN
and Infinity, then pydantic validates; a finiteness walk is needed on top to refuse what
``json`` let through). Ours: :func:`interestmap.serve.bodies.parse_json_strict` (orjson,
strict by itself) then the same pydantic validation, then :func:`check_vector`'s float32
conversion. Prints microseconds per body and the ratio, with the load average.

    python benchmarks/api_body_parse.py [--dims 1536 5988] [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import timeit
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from interestmap.serve.bodies import parse_json_strict
from interestmap.serve.schemas import NearestAudienceRequest
from interestmap.serve.service import check_vector


def _all_finite(obj: Any) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_all_finite(v) for v in obj.values())
    if isinstance(obj, list):
        try:
            return all(map(math.isfinite, obj))
        except TypeError:
            return all(_all_finite(v) for v in obj)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[1536, 5988])
    ap.add_argument("--n", type=int, default=2000, help="bodies per timing")
    args = ap.parse_args()
    body = TypeAdapter(NearestAudienceRequest)  # how FastAPI validates a body model
    rng = np.random.default_rng(0)
    rows = []
    for dim in args.dims:
        raw = json.dumps({"vector": rng.normal(size=dim).astype(np.float32).tolist(),
                          "k": 5, "k_clips": 5}).encode()

        def baseline(raw: bytes = raw) -> Any:
            data = json.loads(raw)
            assert _all_finite(data)
            return body.validate_python(data)

        def ours(raw: bytes = raw) -> Any:
            return body.validate_python(parse_json_strict(raw))

        def ours_to_vector(raw: bytes = raw, dim: int = dim) -> Any:
            return check_vector(ours(raw).vector, dim)

        def per_body(fn: Any) -> float:
            return min(timeit.repeat(fn, number=args.n, repeat=5)) / args.n * 1e6

        b, o, v = per_body(baseline), per_body(ours), per_body(ours_to_vector)
        rows.append({"dim": dim, "body_kb": round(len(raw) / 1024, 1),
                     "baseline_us": round(b, 1), "ours_us": round(o, 1),
                     "ours_with_float32_us": round(v, 1), "speedup": round(b / o, 2)})
    print(json.dumps({"rows": rows, "loadavg": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
