"""HTTP lookups over an index already built, optionally against another source tree.

    python benchmarks/serve_lookup.py --index DIR --queries q.npy [--baseline-src TREE]

``run.py --only lookup`` builds and grows its own index to 100k clips (minutes); this
serves one already there (e.g. the one ``run.py`` leaves with ``--keep``), with the same
load runs (``--quick`` sizes of ``run.py``: 200 requests with 1 client, 400 with 16, and
the three filtered runs) and recall@10. With ``--baseline-src`` the same runs first go to
a server started from that tree (e.g. ``git archive main | tar -x -C TREE``), then to one
from this tree: side by side on the same machine, the same index, the same queries.
Prints one JSON object with the 1-min load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Server  # noqa: E402
from run import FILTERED, filtered_runs, load_runs, recall_at_10  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def serve_and_load(index_dir: Path, queries: Path, src: Path, log: Path) -> dict[str, Any]:
    """Start ``interestmap serve`` from source tree ``src`` and run the load."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(src)
    try:
        t0 = time.perf_counter()
        with Server(index_dir, log) as srv:
            out: dict[str, Any] = {"src": str(src),
                                   "start_s": round(time.perf_counter() - t0, 2)}
            out |= load_runs(srv.url, queries, quick=True)
            out["filtered_c1"] = filtered_runs(srv.url, queries, quick=True)
            out["server_peak_rss_gib"] = srv.peak_rss_gib()
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    return out


def recall_of_k50(index_dir: Path, queries: np.ndarray) -> float:
    """Share of the exact top 10 in the first 10 of a k=50 search (what ``nearest`` asks:
    fewer candidates re-scored per hit than a k=10 search, see ``StoreSettings``)."""
    from interestmap.index.manifest import open_index

    shares = []
    with open_index(index_dir) as ix:
        for q in queries:
            want = {h["id"] for h in ix.store.search_clips(q, k=10, exact=True)}
            got = {h["id"] for h in ix.store.search_clips(q, k=50)[:10]}
            shares.append(len(got & want) / max(len(want), 1))
    return round(float(np.mean(shares)), 4)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--queries", type=Path, required=True, help=".npy of fused vectors")
    p.add_argument("--baseline-src", type=Path, help="source tree of the baseline server")
    p.add_argument("--recall-queries", type=int, default=50)
    a = p.parse_args()
    res: dict[str, Any] = {"load_avg_1m_before": os.getloadavg()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        if a.baseline_src:
            res["baseline"] = serve_and_load(a.index, a.queries, a.baseline_src.resolve(),
                                             Path(tmp) / "baseline.log")
        res["this"] = serve_and_load(a.index, a.queries, ROOT, Path(tmp) / "this.log")
    if a.baseline_src:
        res["rps_16c_ratio"] = round(res["this"]["c16"]["rps"]
                                     / res["baseline"]["c16"]["rps"], 3)
    rng = np.random.default_rng(1)
    q = np.load(a.queries)[:a.recall_queries]
    q = q + rng.normal(0, 0.02, q.shape).astype(np.float32)
    res["recall_at_10"] = recall_at_10(a.index, q)
    res["recall_at_10_language_en"] = recall_at_10(a.index, q, FILTERED["language"])
    res["recall_at_10_of_k50"] = recall_of_k50(a.index, q)
    res["load_avg_1m_after"] = os.getloadavg()[0]
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
