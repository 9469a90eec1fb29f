"""What a store of N clips costs: write time, disk, memory to open, search latency, recall.

    python benchmarks/store_cost.py --n 100000                # the embedded store (Qdrant Edge)
    python benchmarks/store_cost.py --n 10000 --mode old      # qdrant-client local mode, as before
    python benchmarks/store_cost.py --n 1000000 --quantization int8 --keep DIR

Prints one JSON object. Clips are caption + language + geo posts: the caption block is a
real X-Topic tweet's USE-m3 vector jittered (a quarter of its norm in Gaussian noise,
renormalised), the language block that tweet's language, the geo block a gazetteer
place moved up to 300 km; fused with the default weights and the default layout (4,452
dims; the old mode stores the old layout: fused 5,046 dims plus one vector per present
block, as interestmap did before Qdrant Edge). Lookup cost depends on count and size,
not on meaning.

``new``: written through :class:`interestmap.store.interface.IndexStore` in parts of 5,000, then
``optimize()`` (the HNSW graph); ``write_s`` counts both. Then a fresh process opens the
store and runs 200 searches (k=50, as ``nearest`` asks) without and with a filter: its
peak RSS, open time and p50/p99. recall@10: the engine's top 10 against the exact top 10,
computed in NumPy while the vectors are made (so 1M clips need no exact scan), for 100
queries. ``old``: qdrant-client local mode with the SQLite tuning interestmap used; its
open is in a fresh process too; sizes it cannot open in this machine's memory are
refused before writing (from the RSS per clip of the smaller sizes given with
``--old-rss-per-clip-kib``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir, load_xtopic  # noqa: E402

HERE = Path(__file__).resolve().parent
PART = 5000
N_QUERIES = 100
OLD_DIMS = {"caption": 512, "ocr": 512, "speech": 512, "visual": 1280,
            "visual_semantics": 512, "audio": 512, "language": 116, "geo": 1090}


def log(msg: str) -> None:
    print(f"[store_cost {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def peak_rss_gib() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it does not carry over the
    parent's peak into a child started with fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def folder_gib(path: Path) -> float:
    return round(sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())
                 / 1024**3, 3)


class Source:
    """Deterministic clips: part ``i`` is always the same vectors and payloads."""

    def __init__(self) -> None:
        from clustering import embed

        from interestmap.encoders.context import GeoEncoder, LanguageEncoder
        from interestmap.encoders.fusion import Fuser, FusionLayout
        from interestmap.signals.geo import load_gazetteer

        rows = load_xtopic(data_dir())
        self.langs = [{"gr": "el"}.get(r["lang"], r["lang"]) for r in rows]
        self.caption = embed([r["text"] for r in rows], "use").astype(np.float32)
        self.lang_enc, self.geo_enc = LanguageEncoder(), GeoEncoder()
        self.places = [(p.lat, p.lon, p.name) for p in load_gazetteer() if p.kind == "city"]
        dims = {"caption": 512, "ocr": 512, "speech": 512, "visual": 1280,
                "visual_semantics": 512, "audio": 512, "audio_semantics": 512,
                "language": self.lang_enc.info.dim,
                "geo": self.geo_enc.dim}
        self.fuser = Fuser.from_layout(FusionLayout(dims=dims))
        self.layout = self.fuser.layout_

    def part(self, i: int, n: int) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
        rng = np.random.default_rng([7, i])
        src = rng.integers(0, len(self.caption), n)
        cap = self.caption[src] + rng.normal(0, 0.25 / np.sqrt(512), (n, 512)).astype(
            np.float32)
        cap /= np.linalg.norm(cap, axis=1, keepdims=True)
        place = rng.integers(0, len(self.places), n)
        lat = np.array([self.places[j][0] for j in place]) + rng.uniform(-2, 2, n)
        lon = np.array([self.places[j][1] for j in place]) + rng.uniform(-2, 2, n)
        lat, lon = np.clip(lat, -89, 89), (lon + 540) % 360 - 180
        langs = [self.langs[j] for j in src]
        lang = self.lang_enc.encode(langs)
        geo = self.geo_enc.encode(list(zip(lat, lon, strict=True)))
        fused = self.fuser.transform([{"caption": cap[r], "language": lang[r], "geo": geo[r]}
                                      for r in range(n)])
        ids = [f"c{i}-{r}" for r in range(n)]
        payloads = [{"account": f"@acct{(i * PART + r) % 400}", "language": langs[r],
                     "geo": {"name": self.places[place[r]][2], "lat": float(lat[r]),
                             "lon": float(lon[r])},
                     "published_at": f"2024-{1 + r % 12:02d}-{1 + r % 28:02d}T12:00:00Z",
                     "audience": int(r % 50), "caption": f"post {i}-{r}", "media_kind": "none",
                     "labels": []} for r in range(n)]
        return ids, fused, payloads

    def queries(self) -> np.ndarray:
        _, fused, _ = self.part(10**6, N_QUERIES)
        rng = np.random.default_rng(3)
        q = fused + rng.normal(0, 0.01, fused.shape).astype(np.float32)
        return q / np.linalg.norm(q, axis=1, keepdims=True)


def write_new(n: int, folder: Path, quantization: str) -> dict[str, Any]:
    from interestmap.store.interface import IndexStore
    from interestmap.store.schema import StoreSettings

    src = Source()
    queries = src.queries()
    top_s = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    top_i = np.empty((len(queries), 10), dtype=object)
    upsert_s = 0.0
    with IndexStore(path=folder, settings=StoreSettings(quantization=quantization)) as s:
        s.create(src.layout, recreate=True)
        for i, lo in enumerate(range(0, n, PART)):
            ids, fused, payloads = src.part(i, min(PART, n - lo))
            scores = queries @ fused.T  # the exact top 10, kept part by part
            both_s = np.concatenate([top_s, scores], axis=1)
            both_i = np.concatenate([top_i, np.array(ids, dtype=object)[None, :].repeat(
                len(queries), 0)], axis=1)
            keep = np.argsort(-both_s, axis=1)[:, :10]
            top_s = np.take_along_axis(both_s, keep, 1)
            top_i = np.take_along_axis(both_i, keep, 1)
            t0 = time.perf_counter()
            s.upsert_clips(ids, fused, None, None, payloads)
            upsert_s += time.perf_counter() - t0
            if i % 20 == 0:
                log(f"wrote {lo + len(ids):,} clips ({upsert_s:.0f} s)")
        t0 = time.perf_counter()
        s.optimize()
        optimize_s = time.perf_counter() - t0
        stats = s.stats()
    np.save(folder / "queries.npy", queries)
    (folder / "exact_top10.json").write_text(json.dumps(top_i.tolist()))
    log(f"optimize {optimize_s:.0f} s")
    return {"upsert_s": round(upsert_s, 2), "optimize_s": round(optimize_s, 2),
            "write_s": round(upsert_s + optimize_s, 2), "writer_peak_rss_gib":
            round(peak_rss_gib(), 3), "store": stats, "layout_dims": src.layout.total_dim}


def open_new(folder: Path, searches: int = 200) -> dict[str, Any]:
    """(In a fresh process.) Open, search, filter; recall against the exact top 10."""
    from interestmap.store.interface import IndexStore

    queries = np.load(folder / "queries.npy")
    exact = json.loads((folder / "exact_top10.json").read_text())
    t0 = time.perf_counter()
    s = IndexStore(path=folder)
    s.count()
    open_s = time.perf_counter() - t0
    out: dict[str, Any] = {"open_s": round(open_s, 3)}
    recall = []
    for q, want in zip(queries, exact, strict=True):
        got = {h["id"] for h in s.search_clips(q, k=10)}
        recall.append(len(got & set(want)) / 10)
    out["recall_at_10"] = round(float(np.mean(recall)), 4)
    for name, flt in (("unfiltered", None), ("language", {"language": "en"}),
                      ("account", {"account": "@acct7"}),
                      ("time", {"since": "2024-06-01", "until": "2024-09-30"})):
        times = []
        for r in range(searches):
            t0 = time.perf_counter()
            s.search_clips(queries[r % len(queries)], k=50, filters=flt,
                           fields=("account", "caption", "audience", "blocks"))
            times.append(time.perf_counter() - t0)
        ms = np.asarray(times) * 1000
        out[f"search_{name}"] = {"p50_ms": round(float(np.percentile(ms, 50)), 2),
                                 "p99_ms": round(float(np.percentile(ms, 99)), 2)}
    out["peak_rss_gib"] = round(peak_rss_gib(), 3)
    s.close()
    return out


def write_old(n: int, folder: Path) -> dict[str, Any]:
    """The store as interestmap wrote it before: qdrant-client local mode, one vector per
    present block plus the fused one (old dims), WAL + synchronous=NORMAL."""
    import warnings

    from qdrant_client import QdrantClient, models

    warnings.filterwarnings("ignore")
    rng = np.random.default_rng(0)
    total = sum(OLD_DIMS.values())
    client = QdrantClient(path=str(folder), force_disable_check_same_thread=True)
    params = {b: models.VectorParams(size=d, distance=models.Distance.COSINE)
              for b, d in {**OLD_DIMS, "fused": total}.items()}
    client.create_collection("clips", vectors_config=params)
    for coll in client._client.collections.values():  # the old _tune_local
        conn = coll.storage.storage
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    t_write = 0.0
    for lo in range(0, n, 1000):
        m = min(1000, n - lo)
        vec = {b: rng.normal(size=(m, OLD_DIMS[b])).astype(np.float32)
               for b in ("caption", "language", "geo")}
        fused = rng.normal(size=(m, total)).astype(np.float32)
        points = [models.PointStruct(id=lo + r, vector={"fused": fused[r].tolist(), **{
            b: v[r].tolist() for b, v in vec.items()}}, payload={"language": "en" if r % 4
                                                                  else "es"})
                  for r in range(m)]
        t0 = time.perf_counter()
        for k in range(0, m, 256):
            client.upsert("clips", points=points[k:k + 256], wait=True)
        t_write += time.perf_counter() - t0
    client.close()
    return {"write_s": round(t_write, 2), "writer_peak_rss_gib": round(peak_rss_gib(), 3)}


def open_old(folder: Path) -> dict[str, Any]:
    import warnings

    from qdrant_client import QdrantClient, models

    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    client = QdrantClient(path=str(folder), force_disable_check_same_thread=True)
    client.count("clips")
    out: dict[str, Any] = {"open_s": round(time.perf_counter() - t0, 3)}
    rng = np.random.default_rng(1)
    total = sum(OLD_DIMS.values())
    flt = models.Filter(must=[models.FieldCondition(key="language",
                                                    match=models.MatchValue(value="es"))])
    for name, f in (("unfiltered", None), ("language", flt)):
        times = []
        for _ in range(20):
            q = rng.normal(size=total).tolist()
            t0 = time.perf_counter()
            client.query_points("clips", query=q, using="fused", limit=50, query_filter=f)
            times.append(time.perf_counter() - t0)
        ms = np.asarray(times) * 1000
        out[f"search_{name}"] = {"p50_ms": round(float(np.percentile(ms, 50)), 2),
                                 "p99_ms": round(float(np.percentile(ms, 99)), 2)}
    out["peak_rss_gib"] = round(peak_rss_gib(), 3)
    client.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, required=True, help="clips")
    p.add_argument("--mode", choices=("new", "old"), default="new")
    p.add_argument("--quantization", choices=("int8", "binary", "none"), default="int8")
    p.add_argument("--keep", type=Path, default=None,
                   help="write the store here and keep it (default: a temporary folder)")
    p.add_argument("--old-rss-per-clip-kib", type=float, default=None,
                   help="old mode: refuse sizes whose open would not fit in memory")
    p.add_argument("--searches", type=int, default=200, help="searches per kind when open")
    p.add_argument("--open-only", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.open_only:
        print(json.dumps(open_new(a.open_only, a.searches) if a.mode == "new"
                         else open_old(a.open_only)))
        return 0
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    out: dict[str, Any] = {"mode": a.mode, "clips": a.n, "machine_gib": round(machine, 1)}
    if a.mode == "old" and a.old_rss_per_clip_kib:
        need = a.old_rss_per_clip_kib * a.n / 1024**2
        if need > 0.75 * machine:
            out["not_measured"] = (f"opening needs ~{need:.0f} GiB at "
                                   f"{a.old_rss_per_clip_kib:.0f} KiB per clip; the machine "
                                   f"has {machine:.0f} GiB")
            print(json.dumps(out))
            return 0
    tmp = None
    if a.keep is None:
        tmp = tempfile.mkdtemp(prefix="interestmap-store-cost-", dir=os.environ.get("TMPDIR"))
        folder = Path(tmp) / "store"
    else:
        folder = a.keep
        shutil.rmtree(folder, ignore_errors=True)
    try:
        t0 = time.perf_counter()
        out["write"] = (write_new(a.n, folder, a.quantization) if a.mode == "new"
                        else write_old(a.n, folder))
        out["disk_gib"] = folder_gib(folder)
        log(f"written in {time.perf_counter() - t0:.0f} s; opening in a fresh process")
        proc = subprocess.run([sys.executable, str(HERE / "store_cost.py"), "--n", str(a.n),
                               "--mode", a.mode, "--searches", str(a.searches),
                               "--open-only", str(folder)],
                              capture_output=True, text=True, timeout=7200)
        if proc.returncode != 0:
            out["open"] = {"failed": proc.stderr[-800:], "returncode": proc.returncode}
        else:
            out["open"] = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    out["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
