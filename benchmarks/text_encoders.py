"""Compare the offline text encoders on real multilingual social posts; print one JSON object.

    python benchmarks/text_encoders.py [--encoders use-m3,e5-small,minilm-l6]

Data: X-Topic tweets (``$INTERESTMAP_DATA/xtopic/{en,es,gr,ja}``, default
``../shared/data`` next to the repository) and the caption translations in
``tests/data/translations.jsonl`` (English with faithful ru/it/pt translations).

Measures, per encoder:
- ``topics``: multi-label topic quality on each language's test split (800 tweets, 19
  topics). ``lr_within_macro_f1``: one logistic regression per topic trained on that
  language's train split (180 tweets). ``lr_from_en_macro_f1``: trained on English only,
  tested on each language (cross-lingual transfer). ``zero_shot_p_at_1``: how often the
  topic whose name is closest to the tweet is one of its true topics (declared topics).
- ``alignment``: for the captions and their translations, mean cosine of a caption with
  its translation vs. with other captions' translations, the mean margin (translation
  cosine minus the highest unrelated cosine) and rank-1 retrieval accuracy en -> xx.
- ``spread``: mean and standard deviation of the cosine between two unrelated tweets
  (all test splits). The fused vector weighs each block's cosine, so an encoder whose
  cosines sit in a narrow band moves the fused similarity less than its weight says.
- ``speed``: captions per second, batched, after the model has loaded (wall clock on
  this machine; other work on the CPU makes it noisy).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import xtopic_data_dir  # noqa: E402

LANGS = ("en", "es", "gr", "ja")
TOPIC_COLUMNS = (
    "arts_&_culture", "business_&_entrepreneurs", "celebrity_&_pop_culture",
    "diaries_&_daily_life", "family", "fashion_&_style", "film_tv_&_video",
    "fitness_&_health", "food_&_dining", "gaming", "learning_&_educational", "music",
    "news_&_social_concern", "other_hobbies", "relationships", "science_&_technology",
    "sports", "travel_&_adventure", "youth_&_student_life",
)
TRANSLATIONS = ROOT / "tests" / "data" / "translations.jsonl"


def topic_name(column: str) -> str:
    """``"film_tv_&_video"`` -> ``"film tv & video"``."""
    return column.replace("_", " ")


def load_split(root: Path, lang: str, split: str) -> tuple[list[str], np.ndarray]:
    rows = [json.loads(line) for line in
            (root / "xtopic" / lang / f"{lang}_{split}.jsonl").read_text("utf-8").splitlines()
            if line.strip()]
    texts = [r["text"] for r in rows]
    y = np.array([[int(r[c]) for c in TOPIC_COLUMNS] for r in rows], dtype=np.int8)
    return texts, y


def macro_f1(x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, y_te: np.ndarray) -> float:
    """Macro-F1 over topics present in the test set; one balanced LR per topic."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    pred = np.zeros_like(y_te)
    for j in range(y_tr.shape[1]):
        if len(set(y_tr[:, j])) < 2:
            continue  # no positive example to learn from: predict "not this topic"
        clf = LogisticRegression(C=2.0, class_weight="balanced", max_iter=2000)
        clf.fit(x_tr, y_tr[:, j])
        pred[:, j] = clf.predict(x_te)
    present = y_te.sum(0) > 0
    return float(f1_score(y_te[:, present], pred[:, present], average="macro",
                          zero_division=0))


def zero_shot_p_at_1(x: np.ndarray, y: np.ndarray, topics: np.ndarray) -> float:
    top = (x @ topics.T).argmax(1)
    return float(y[np.arange(len(y)), top].mean())


def alignment(enc, rows: list[dict]) -> dict:
    en = enc.encode([r["en"] for r in rows])
    out: dict = {}
    for lang in ("ru", "it", "pt"):
        xx = enc.encode([r[lang] for r in rows])
        sims = en @ xx.T
        diag = np.diag(sims)
        off = sims[~np.eye(len(rows), dtype=bool)].reshape(len(rows), -1)
        out[lang] = {
            "translation_cos": round(float(diag.mean()), 3),
            "unrelated_cos": round(float(off.mean()), 3),
            "unrelated_max_cos": round(float(off.max()), 3),
            "margin_mean": round(float((diag - off.max(1)).mean()), 3),
            "retrieval_at_1": round(float((sims.argmax(1) == np.arange(len(rows))).mean()), 3),
        }
    return out


def bench(name: str, root: Path) -> dict:
    from interestmap.encoders.registry import get_text_encoder

    enc = get_text_encoder(name)
    t0 = time.perf_counter()
    enc.encode(["warm-up"])
    load_s = time.perf_counter() - t0

    splits = {lang: {s: load_split(root, lang, s) for s in ("train", "test")} for lang in LANGS}
    vecs: dict[tuple[str, str], np.ndarray] = {}
    n_texts, enc_s = 0, 0.0
    for lang in LANGS:
        for s in ("train", "test"):
            texts = splits[lang][s][0]
            t0 = time.perf_counter()
            vecs[lang, s] = enc.encode(texts, batch_size=64)
            enc_s += time.perf_counter() - t0
            n_texts += len(texts)
    topics = enc.encode([topic_name(c) for c in TOPIC_COLUMNS])

    per_lang = {}
    for lang in LANGS:
        y_tr, y_te = splits[lang]["train"][1], splits[lang]["test"][1]
        per_lang[lang] = {
            "lr_within_macro_f1": round(macro_f1(vecs[lang, "train"], y_tr,
                                                 vecs[lang, "test"], y_te), 3),
            "lr_from_en_macro_f1": round(macro_f1(vecs["en", "train"], splits["en"]["train"][1],
                                                  vecs[lang, "test"], y_te), 3),
            "zero_shot_p_at_1": round(zero_shot_p_at_1(vecs[lang, "test"], y_te, topics), 3),
        }
    every = np.concatenate([vecs[lang, "test"] for lang in LANGS])
    pairs = every @ every.T
    off = pairs[~np.eye(len(every), dtype=bool)]
    rows = [json.loads(line) for line in TRANSLATIONS.read_text("utf-8").splitlines()
            if line.strip()]
    return {
        "info": enc.info.as_dict(),
        "topics": per_lang,
        "topics_mean": {k: round(float(np.mean([v[k] for v in per_lang.values()])), 3)
                        for k in next(iter(per_lang.values()))},
        "alignment": alignment(enc, rows),
        "spread": {"pairwise_cos_mean": round(float(off.mean()), 3),
                   "pairwise_cos_std": round(float(off.std()), 3)},
        "speed": {"load_s": round(load_s, 2),
                  "captions_per_s": round(n_texts / enc_s, 1),
                  "ms_per_caption": round(1000 * enc_s / n_texts, 2),
                  "n_captions": n_texts},
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--encoders", default="use-m3,e5-small,minilm-l6",
                    help="comma-separated encoder names (see interestmap.encoders.registry)")
    args = ap.parse_args(argv)
    root = xtopic_data_dir()
    out = {"data": str(root), "results": {}}
    for name in args.encoders.split(","):
        print(f"benchmarking {name} ...", file=sys.stderr, flush=True)
        out["results"][name] = bench(name.strip(), root)
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
