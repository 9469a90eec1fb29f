"""How fast `interestmap classify` scores texts, in how much memory, and how well a
classifier trained on English posts scores other languages. Prints one JSON object.

    python benchmarks/classify_throughput.py                  # 10,000 lines
    python benchmarks/classify_throughput.py --lines 50000 --batch-sizes 64,256,1024
    python benchmarks/classify_throughput.py --xtopic         # + cross-language macro-F1
    python benchmarks/classify_throughput.py --lines 0 --xtopic   # macro-F1 only
    python benchmarks/classify_throughput.py --profile --lines 1024   # where the time goes

Inputs are real posts: the X-Topic test tweets (en, es, ja; ``$INTERESTMAP_DATA``,
default ``../shared/data``), cycled to the requested number of lines.

Measures:
- ``in_process``: texts/s of :func:`interestmap.topics.stream.classify_stream` per batch size,
  after the model and the topic vectors are loaded (the atlas's 37 topics, zero-shot,
  JSON lines written to a null sink), and the share of that time spent in the text
  encoder;
- ``cli``: the whole ``interestmap classify --json`` command on a JSONL file, start-up
  included: wall time, texts/s, peak resident memory (RSS of the child process);
- ``xtopic`` (with ``--xtopic``): a classifier trained on the 180 English training
  tweets, scored on each language's 800 test tweets (macro-F1 over the 19 topics, one
  predicted topic per post), next to zero-shot baselines and the majority class.

- ``profile`` (with ``--profile``): per text, each part of the default text encoder
  (language detection, USE-m3, e5-small at several batch sizes) and the whole encoder
  as it was before (every text through USE, E5 in calls of 32) and as it is now,
  alternating, on X-Topic test tweets in en/es/gr/ja, with the largest difference
  between their vectors.

Wall-clock figures depend on what else runs on the machine: compare within one run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import xtopic_data_dir  # noqa: E402


def rows(lang: str, split: str) -> list[dict]:
    path = xtopic_data_dir() / "xtopic" / lang / f"{lang}_{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def input_lines(n: int) -> list[str]:
    texts = [r["text"] for lang in ("en", "es", "ja") for r in rows(lang, "test")]
    return [json.dumps({"id": i, "text": texts[i % len(texts)]}, ensure_ascii=False)
            for i in range(n)]


class _Null(io.TextIOBase):
    def write(self, s: str) -> int:
        return len(s)


def in_process(lines: list[str], batch_sizes: list[int]) -> dict:
    from interestmap.encoders.registry import get_text_encoder
    from interestmap.topics.catalog import load_topics
    from interestmap.topics.scoring import TopicSpace
    from interestmap.topics.stream import classify_stream

    te = get_text_encoder()
    space = TopicSpace(load_topics(), te)
    t0 = time.perf_counter()
    space.proba_texts(["warm up the model and the topic vectors"])
    setup_s = time.perf_counter() - t0

    timed = {"encode": 0.0}
    encode = te.encode

    def timed_encode(items, **kw):
        t = time.perf_counter()
        try:
            return encode(items, **kw)
        finally:
            timed["encode"] += time.perf_counter() - t

    te.encode = timed_encode  # type: ignore[method-assign]
    out = {"texts": len(lines), "topics": len(space.topics), "setup_s": round(setup_s, 2),
           "batches": {}}
    try:
        for bs in batch_sizes:
            timed["encode"] = 0.0
            stats = classify_stream(iter(lines), _Null(), space, batch_size=bs)
            out["batches"][str(bs)] = {
                "seconds": round(stats.seconds, 2),
                "texts_per_s": round(stats.classified / stats.seconds, 1),
                "encoder_share": round(timed["encode"] / stats.seconds, 3),
            }
    finally:
        del te.encode
    return out


def cli(lines: list[str], batch_size: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        src.write_text("\n".join(lines) + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "interestmap.serve.cli", "classify", "--json",
                               "--top", "3", "--batch-size", str(batch_size), "--input",
                               str(src)], cwd=ROOT, capture_output=True, timeout=7200)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"classify failed: {proc.stderr.decode()[-500:]}")
    n = proc.stdout.count(b"\n")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"texts": n, "wall_s": round(wall, 2), "texts_per_s": round(n / wall, 1),
            "peak_rss_mb": round(peak_mb, 1), "batch_size": batch_size}


def xtopic() -> dict:
    from interestmap.encoders.registry import get_text_encoder
    from interestmap.topics.catalog import XTOPIC_LABELS, Topic, load_topics, xtopic_label
    from interestmap.topics.classifier import TopicClassifier, _top1_macro_f1
    from interestmap.topics.scoring import TopicSpace

    te = get_text_encoder()
    names = TopicSpace([Topic(id=x, name=x.title(), description=x.title())
                        for x in XTOPIC_LABELS], te)
    atlas = TopicSpace(load_topics(), te)
    to_x = np.array([[x in t.xtopic for x in XTOPIC_LABELS] for t in atlas.topics])
    train = rows("en", "train")
    t0 = time.perf_counter()
    clf = TopicClassifier(text_encoder=te).fit(
        [r["text"] for r in train], [[xtopic_label(t) for t in r["topics"]] for r in train],
        zero_shot=names)
    out = {"train": {"posts": len(train), "seconds": round(time.perf_counter() - t0, 1),
                     **{k: v for k, v in clf.describe().items() if k in ("C", "blend")}},
           "macro_f1": {}}
    for lang in ("en", "es", "gr", "ja"):
        test = rows(lang, "test")
        gold = np.array([[r[x.replace(" ", "_")] for x in XTOPIC_LABELS] for r in test])
        vecs = te.encode([r["text"] for r in test])
        p_zs = names.proba("caption", vecs)
        pa = atlas.proba("caption", vecs)
        p_atlas = np.stack([pa[:, to_x[:, k]].max(axis=1) for k in range(len(XTOPIC_LABELS))],
                           axis=1)
        majority = np.zeros_like(p_zs)
        majority[:, gold.sum(axis=0).argmax()] = 1.0
        out["macro_f1"][lang] = {"posts": len(test), **{k: round(_top1_macro_f1(p, gold), 4)
                                                        for k, p in (
            ("classifier", clf.proba_over(vecs, names.ids)),
            ("blend", clf.blend_with(p_zs, vecs, names.ids)),
            ("zero_shot_names", p_zs), ("zero_shot_atlas", p_atlas), ("majority", majority))}}
    return out


def encode_before(enc, texts: list[str]) -> np.ndarray:
    """The default text encoder's encode as it was before the profile (for comparison)."""
    from interestmap.encoders.base import l2_normalize
    from interestmap.encoders.text_ensemble import USE_LANGUAGES, centred_e5, detect_languages

    langs = detect_languages(texts)
    u = enc.use.encode(texts, batch_size=64)
    e = centred_e5(enc.e5.encode(texts, batch_size=32), langs)
    u = u.copy()
    u[[g is not None and g not in USE_LANGUAGES for g in langs]] = 0.0
    return l2_normalize(np.hstack([u, e]))


def profile(n: int, repeats: int) -> dict:
    from interestmap.encoders.text_ensemble import USE_LANGUAGES, UseE5Text, detect_languages

    texts = [r["text"] for lang in ("en", "es", "gr", "ja") for r in rows(lang, "test")]
    texts = texts[::max(1, len(texts) // n)][:n]
    enc = UseE5Text()
    enc.encode(["warm up the models", "y el otro"])

    def ms(fn) -> float:
        best = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            best.append(time.perf_counter() - t0)
        return round(float(np.median(best)) / len(texts) * 1000, 3)

    langs = detect_languages(texts)
    kept = [t for t, g in zip(texts, langs, strict=True) if g is None or g in USE_LANGUAGES]
    e5 = enc.e5.model
    out: dict = {"texts": len(texts), "repeats": repeats, "use_kept_share":
                 round(len(kept) / len(texts), 3), "ms_per_text": {}}
    parts = out["ms_per_text"]
    parts["language_detection"] = ms(lambda: detect_languages(texts))
    parts["use_all_texts"] = ms(lambda: enc.use.encode(texts, batch_size=64))
    parts["use_kept_texts_only"] = ms(lambda: enc.use.encode(kept, batch_size=64))
    ref = np.vstack([e5.query(texts[i:i + 32]) for i in range(0, len(texts), 32)])
    out["e5_max_abs_diff_vs_calls_of_32"] = {}
    for bs in (8, 32, 64, 256):
        parts[f"e5_calls_of_{bs}"] = ms(lambda bs=bs: [e5.query(texts[i:i + bs])
                                                         for i in range(0, len(texts), bs)])
        got = np.vstack([e5.query(texts[i:i + bs]) for i in range(0, len(texts), bs)])
        out["e5_max_abs_diff_vs_calls_of_32"][str(bs)] = float(np.abs(got - ref).max())
    before, after = [], []
    for _ in range(repeats):  # alternating, so drift on the machine hits both alike
        t0 = time.perf_counter()
        v_before = encode_before(enc, texts)
        before.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        v_after = enc.encode(texts, batch_size=64)
        after.append(time.perf_counter() - t0)
    parts["encoder_before"] = round(float(np.median(before)) / len(texts) * 1000, 3)
    parts["encoder_now"] = round(float(np.median(after)) / len(texts) * 1000, 3)
    out["texts_per_s"] = {"before": round(len(texts) / float(np.median(before)), 1),
                          "now": round(len(texts) / float(np.median(after)), 1)}
    out["max_abs_diff_before_vs_now"] = float(np.abs(v_before - v_after).max())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--batch-sizes", default="64,256,1024")
    ap.add_argument("--no-cli", action="store_true", help="skip the command-line run")
    ap.add_argument("--xtopic", action="store_true", help="also the cross-language macro-F1")
    ap.add_argument("--profile", action="store_true",
                    help="only where the default text encoder's time goes, on --lines texts")
    ap.add_argument("--repeats", type=int, default=3, help="repeats per --profile figure")
    args = ap.parse_args()
    if args.profile:
        result = {"machine": {"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)},
                  "profile": profile(args.lines, args.repeats)}
        result["machine"]["load_1min_end"] = round(os.getloadavg()[0], 2)
        print(json.dumps(result, indent=2))
        return
    lines = input_lines(args.lines)
    sizes = [int(x) for x in args.batch_sizes.split(",") if x.strip()]
    result = {"machine": {"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2),
                          "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS")}}
    if lines:
        result["in_process"] = in_process(lines, sizes)
    if lines and not args.no_cli:
        result["cli"] = cli(lines, 256)
    if args.xtopic:
        result["xtopic"] = xtopic()
    result["machine"]["load_1min_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
