"""Encode speed: the per-stage table before/after a change, and corpus builds local vs Ray.

    python benchmarks/encode_speed.py stages [--baseline REV]   # before/after, one run
    python benchmarks/encode_speed.py corpus [--clips 200]      # clips/s: local, Ray 1 and 2 workers

``stages`` exports the code of ``--baseline`` (default: the last commit before issue 10's
encode work) with ``git archive`` and times the same clips with both versions in the
same run, alternating: a fresh process per cold encode, one process per version for the
warm runs (models loaded, the image encoder's frame cache cleared before each run).
Clips: the real 5.3 s Big Buck Bunny video and itself three times over (15.9 s).

``corpus`` makes N real demo clips once (an X-Topic tweet spoken by espeak-ng over a
photo from ``scenes/`` and an ESC-50 sound bed, muxed by ffmpeg: see
``tests/helpers/media.py``; kept in ``$TMPDIR/interestmap-bench-corpus-N``) and builds
an index of them three times from scratch: in this process, on a local 2-CPU Ray
cluster with 1 worker, and with 2 workers. It reports clips/s of the encode stage and
the whole build's wall time, and how far the Ray builds' vectors are from the local one.

Both print one JSON object on stdout (progress on stderr). Run them on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, data_dir, median, run_json  # noqa: E402

BASELINE_REV = "f9b2154"
"""The last commit before issue 10 changed the encode path."""
CAPTION = "Big Buck Bunny wakes up in the forest #animation #shortfilm"


def log(msg: str) -> None:
    print(f"[encode-speed {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# Stages --------------------------------------------------------------------------------
def export_rev(rev: str, dest: Path) -> Path:
    """The package as it was at ``rev``, in ``dest`` (for PYTHONPATH)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "interestmap"],
                             check=True, capture_output=True, timeout=120).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True, timeout=120)
    return dest


def child_env(pythonpath: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(pythonpath))


def encode_child(paths: list[Path], reps: int) -> dict[str, Any]:
    """In this process: load, encode once cold, then ``reps`` warm runs per clip."""
    import interestmap
    from interestmap.clip import Clip
    from interestmap.encoders.pipeline import ClipEncoder

    def once(encoder: Any, path: Path) -> dict[str, Any]:
        cache = getattr(encoder.image, "_cache", None)
        if cache is not None:
            cache.clear()
        t0 = time.perf_counter()
        enc = encoder.encode(Clip(media=[path], caption=CAPTION, language="en"))
        return {"wall_s": time.perf_counter() - t0,
                "stages": {k: float(v) for k, v in enc.timings_s.items()},
                "transcript": enc.signals.transcript, "ocr": enc.signals.ocr_text,
                "faces": enc.signals.faces}

    encoder = ClipEncoder()
    out: dict[str, Any] = {"package": str(Path(interestmap.__file__).parent)}
    t0 = time.perf_counter()
    first = once(encoder, paths[0])
    out["cold"] = first | {"load_and_encode_s": time.perf_counter() - t0}
    for path in paths if reps > 0 else []:
        runs = [once(encoder, path) for _ in range(reps)]
        keys = sorted({k for r in runs for k in r["stages"]})
        out[path.name] = {
            "wall_s": round(median([r["wall_s"] for r in runs]), 3),
            "walls": [round(r["wall_s"], 3) for r in runs],
            "stages_s": {k: round(median([r["stages"][k] for r in runs if k in r["stages"]]), 4)
                         for k in keys},
            "transcript": runs[-1]["transcript"], "ocr": runs[-1]["ocr"],
            "faces": runs[-1]["faces"]}
    return out


def bench_stages(baseline: str, reps: int, colds: int) -> dict[str, Any]:
    bunny = data_dir() / "video" / "bigbuckbunny.mp4"
    with tempfile.TemporaryDirectory(prefix="interestmap-stages-") as tmp:
        tmp_p = Path(tmp)
        clip15 = tmp_p / "bunny_15s.mp4"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "2",
                        "-i", str(bunny), "-c:v", "libx264", "-preset", "veryfast",
                        "-c:a", "aac", str(clip15)], check=True, timeout=300)
        versions = {"before": export_rev(baseline, tmp_p / "before"), "after": REPO}
        me = str(Path(__file__).resolve())
        res: dict[str, Any] = {"baseline": baseline, "reps": reps, "colds": colds}
        for clip in (bunny, clip15):
            for k in range(colds):
                for name, path in versions.items():
                    log(f"cold {name} {clip.name} ({k + 1}/{colds})")
                    t0 = time.perf_counter()
                    r = run_json([me, "child", "--reps", "0", str(clip)], timeout_s=900,
                                 env=child_env(path))
                    r["cold"]["process_wall_s"] = time.perf_counter() - t0
                    res.setdefault(f"cold_{clip.name}", {}).setdefault(name, []).append(r["cold"])
        for name, path in versions.items():
            log(f"warm {name}")
            res[f"warm_{name}"] = run_json([me, "child", "--reps", str(reps), str(bunny),
                                            str(clip15)], timeout_s=1800, env=child_env(path))
    res["table"] = stage_table(res)
    return res


def stage_table(res: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """stage -> {"5s before", "5s after", "15s before", ...} (warm medians, cold medians)."""
    cols: dict[str, dict[str, float]] = {}
    for ver in ("before", "after"):
        warm = res[f"warm_{ver}"]
        for clip, label in (("bigbuckbunny.mp4", "5s"), ("bunny_15s.mp4", "15s")):
            cols[f"{label} warm {ver}"] = dict(warm[clip]["stages_s"],
                                               wall=warm[clip]["wall_s"])
            colds = res[f"cold_{clip}"][ver]
            stages = sorted({k for c in colds for k in c["stages"]})
            cols[f"{label} cold {ver}"] = {k: round(median([c["stages"][k] for c in colds
                                                            if k in c["stages"]]), 4)
                                           for k in stages}
            cols[f"{label} cold {ver}"]["wall"] = round(median(
                [c["process_wall_s"] for c in colds]), 3)
    stages = sorted({k for c in cols.values() for k in c} - {"wall"}) + ["wall"]
    return {s: {c: cols[c].get(s) for c in cols} for s in stages}


# Corpus --------------------------------------------------------------------------------
def make_corpus(n: int) -> Path:
    """The ``n`` demo clips and their manifest (made once, then reused)."""
    sys.path.insert(0, str(REPO / "tests"))
    from helpers.media import demo_corpus, write_manifest

    root = Path(tempfile.gettempdir()) / f"interestmap-bench-corpus-{n}"
    log(f"making {n} demo clips in {root} (reused when present)")
    rows = demo_corpus(data_dir(), root / "clips", n, seed=0)
    return write_manifest(rows, root / "corpus.jsonl")


def bench_corpus(n: int) -> dict[str, Any]:
    import numpy as np

    from interestmap.corpus.cache import EncodeCache
    from interestmap.corpus.executors import LocalExecutor, RayExecutor
    from interestmap.index.build import build_index
    from interestmap.index.manifest import cache_dir

    manifest = make_corpus(n)
    runs = {"local": LocalExecutor(), "ray_1_worker": RayExecutor(workers=1, num_cpus=2),
            "ray_2_workers": RayExecutor(workers=2, num_cpus=2)}
    out: dict[str, Any] = {"clips": n}
    vectors: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="interestmap-corpus-") as tmp:
        for name, executor in runs.items():
            log(f"build {name}")
            target = Path(tmp) / name
            t0 = time.perf_counter()
            with build_index(manifest, target, executor=executor) as built:
                report = built.build_report
            wall = time.perf_counter() - t0
            enc_s = report.timings_s["encode"]
            out[name] = {"encode_s": round(enc_s, 2),
                         "clips_per_s": round(report.n_encoded / enc_s, 3),
                         "build_s": round(wall, 2), "n_clips": report.n_clips,
                         "n_encoded": report.n_encoded, "problems": len(report.problems),
                         "executor": report.executor, "audiences": report.n_audiences,
                         "load_avg_1m": round(os.getloadavg()[0], 2)}
            log(f"{name}: {out[name]}")
            with EncodeCache(cache_dir(target)) as cache:
                vectors[name] = {e.clip.id: e.fused for _, e in cache.iter_items()}
    for name in ("ray_1_worker", "ray_2_workers"):
        same_ids = set(vectors[name]) == set(vectors["local"])
        diff = max((float(np.abs(vectors[name][k] - v).max()) for k, v in vectors["local"].items()
                    if k in vectors[name]), default=float("nan"))
        out[name]["same_clip_ids_as_local"] = same_ids
        out[name]["max_abs_diff_vs_local"] = diff
        out[name]["speedup_vs_local"] = round(out[name]["clips_per_s"]
                                              / out["local"]["clips_per_s"], 3)
    return out


def markdown(res: dict[str, Any]) -> str:
    """A ``stages`` or ``corpus`` result as the Markdown tables of benchmarks/README.md."""
    out = []
    if "table" in res:
        cols = list(next(iter(res["table"].values())))
        out.append("| stage | " + " | ".join(cols) + " |")
        out.append("|---" * (len(cols) + 1) + "|")
        for stage, row in res["table"].items():
            cells = ["" if row[c] is None else f"{row[c]:.3f}" for c in cols]
            name = f"**{stage}**" if stage == "wall" else stage
            out.append(f"| {name} | " + " | ".join(cells) + " |")
    if "local" in res:
        out.append("| build | encode s | clips/s | vs local | whole build s | clips | "
                   "skipped | max abs diff vs local |")
        out.append("|---|---|---|---|---|---|---|---|")
        for name in ("local", "ray_1_worker", "ray_2_workers"):
            r = res[name]
            out.append(f"| {name} | {r['encode_s']} | {r['clips_per_s']} | "
                       f"{r.get('speedup_vs_local', 1.0)} | {r['build_s']} | {r['n_clips']} | "
                       f"{r['problems']} | {r.get('max_abs_diff_vs_local', 0.0):.2g} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("stages")
    s.add_argument("--baseline", default=BASELINE_REV)
    s.add_argument("--reps", type=int, default=3)
    s.add_argument("--colds", type=int, default=1)
    c = sub.add_parser("corpus")
    c.add_argument("--clips", type=int, default=200)
    c.add_argument("--prepare-only", action="store_true", help="make the clips and stop")
    r = sub.add_parser("render", help="print a saved result as Markdown tables")
    r.add_argument("result", type=Path)
    ch = sub.add_parser("child")
    ch.add_argument("--reps", type=int, default=3)
    ch.add_argument("paths", nargs="+", type=Path)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    load_start = round(os.getloadavg()[0], 2)
    if a.what == "render":
        print(markdown(json.loads(a.result.read_text(encoding="utf-8"))))
        return 0
    if a.what == "child":
        print(json.dumps(encode_child(a.paths, a.reps), default=float))
        return 0
    if a.what == "stages":
        res = bench_stages(a.baseline, a.reps, a.colds)
    elif a.prepare_only:
        print(json.dumps({"manifest": str(make_corpus(a.clips))}))
        return 0
    else:
        res = bench_corpus(a.clips)
    res["total_s"] = round(time.perf_counter() - t0, 1)
    res["machine"] = {"cpus": os.cpu_count(), "load_avg_1m_at_start": load_start,
                      "load_avg_1m_at_end": round(os.getloadavg()[0], 2)}
    print(json.dumps(res, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
