"""Start the app (``app.main``) on the built-in atlas, optionally serving a bigger map.

    python benchmarks/_app_scaled.py --rows 100000 --port 7871

With ``--rows N`` the atlas's real clips are copied to N rows with their map positions
jittered (2 % of the map's width) and fresh ids, and ``InterestIndex.clips_frame``
returns those rows (filters applied as the store would: account, language, dates). Everything
after the store read is the real app code. Writes ``$INTERESTMAP_HOME/accounts.json``
(clips per account) for the benchmark's account-filter step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def scaled_rows(rows: list[dict], n: int, seed: int = 0) -> list[dict]:
    """``rows`` copied to ``n`` rows, positions jittered, ids unique."""
    rng = np.random.default_rng(seed)
    xs = np.array([r["x"] for r in rows], dtype=float)
    ys = np.array([r["y"] for r in rows], dtype=float)
    width = max(xs.max() - xs.min(), ys.max() - ys.min())
    pick = rng.integers(0, len(rows), n)
    jx, jy = rng.normal(0, 0.02 * width, (2, n))
    out = []
    for j, (i, dx, dy) in enumerate(zip(pick.tolist(), jx.tolist(), jy.tolist(), strict=True)):
        r = dict(rows[i])
        r.update(id=f"{r['id']}~{j}", x=float(r["x"]) + dx, y=float(r["y"]) + dy)
        out.append(r)
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=0)
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()

    from interestmap.index import interest_index as index_mod
    from interestmap.index.default import ensure_default_index
    from interestmap.store.filters import _timestamp

    idx = ensure_default_index()
    real = idx.clips_frame()
    idx.close()
    rows = scaled_rows(real, args.rows) if args.rows else real
    if args.rows:
        def clips_frame(self, filters=None):  # noqa: ANN001, ARG001 - same signature
            f = filters or {}
            keep = rows
            for key in ("account", "language"):
                if f.get(key):
                    allowed = set(f[key]) if isinstance(f[key], list) else {f[key]}
                    keep = [r for r in keep if r.get(key) in allowed]
            if f.get("since") is not None or f.get("until") is not None:
                lo = _timestamp(f["since"], "since") if f.get("since") is not None else None
                hi = _timestamp(f["until"], "until") if f.get("until") is not None else None
                keep = [r for r in keep if r.get("published_ts") is not None
                        and (lo is None or r["published_ts"] >= lo)
                        and (hi is None or r["published_ts"] <= hi)]
            return [dict(r) for r in keep]

        index_mod.InterestIndex.clips_frame = clips_frame
    home = Path(os.environ.get("INTERESTMAP_HOME", "."))
    (home / "accounts.json").write_text(json.dumps(Counter(
        str(r.get("account") or "unknown") for r in rows)))
    import app

    return app.main(["--port", str(args.port)])


if __name__ == "__main__":
    sys.exit(main())
