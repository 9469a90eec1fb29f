"""Declared-topic accuracy of every offline text encoder and their combinations; one JSON.

    python benchmarks/topic_accuracy.py [--variants use-m3,e5-small,...] [--quick]

Encoders (all load offline): ``use-m3`` (USE-multilingual-v3), ``e5-small``
(multilingual-e5-small 4-bit, ``query:`` prefix), ``minilm-l6`` (English MiniLM), and
combinations built from their vectors here exactly as ``interestmap.encoders`` builds
them: ``e5-centred`` (E5 minus the shipped reference mean), ``use+e5`` (USE and centred
E5 concatenated, equal weight), ``use+e5-routed`` (the same, USE half dropped for texts
whose detected language USE does not know) and ``use+e5-routed-lang`` (the same with
E5's per-language offsets removed too: the shipped default ``use-m3+e5-small``).
An ensemble of scores (the mean of USE's and E5's cosines with the topics) is the same
thing as the concatenation: the cosine of two equal-weight concatenated unit vectors is
the mean of their cosines. Every vector is cached per text for the run, so each model encodes each text once.

Data (none of it was used to fit anything in interestmap except where said):
- ``ml``: ``benchmarks/data/ml_topics.jsonl``, 64 sentences written for this benchmark
  (8 topics: news-style facts and social posts), each in 14 languages (en es fr de it pt
  ru uk el ja zh ar tr pl). ``dev`` (4 per topic) was looked at while choosing methods;
  ``test`` (4 per topic) never was. Topics: ``ml_topics.yaml`` (a name and a description
  each, no examples). Trained runs learn from ``ml_topics_train_en.jsonl`` (64 English
  sentences) plus the English of the dev split, and are scored on the test split in
  every language: out-of-language accuracy. ``implicit_en``: 40 more English sentences
  whose topic is implicit (``ml_topics_implicit_en.jsonl``, held out), zero-shot and
  trained as above.
- ``xtopic``: X-Topic test sets (800 real tweets each in en/es/gr/ja, 19 labels,
  multi-label, 1.9 labels per tweet; ``$INTERESTMAP_DATA``). Zero-shot through the atlas
  (each atlas topic maps to X-Topic labels, its ``xtopic`` field), zero-shot with the 19
  label names only, and a classifier trained on the 180 English training tweets.
  Macro-F1 two ways: ``multi``, the labels of the topics interestmap says a post is
  about (``topics.select_topics``, what ``classify`` and ``analyze`` show; through the
  atlas, every label of every such atlas topic), and ``top1``, one label per tweet
  (the only figure before: through the atlas, the first label of the top atlas topic).
  ``atlas_topic_vectors_only``: the ``multi`` figure as scored before issue 11's fourth
  pass (topic vectors alone, without the nearest examples, and the text temperature
  shipped then, :data:`BEFORE_NEAREST_T`).
  ``xtopic_atlas_before``: the same through the atlas as it was before issue 11's third
  pass (``data/atlas_before_issue11c.yaml``: fewer example posts, the first mapping to
  X-Topic labels), for the baseline too, so that what the mapping adds is seen apart.
  ``--split dev`` scores X-Topic's train + validation tweets instead (200 per language:
  what the decision rule and the atlas temperature were chosen on; nothing is trained
  there), and ``--sweep`` prints the rule's figures on them for a grid of settings.

``baseline`` rows are the plain baseline of issue 11: the use-m3 vectors with one
"Name. Description" prompt per topic and the top topic only (zero-shot), and
scikit-learn's LogisticRegression with default settings (trained: ``top1`` its
prediction, ``multi`` a one-vs-rest LogisticRegression's labels). ``ours`` rows go
through interestmap's own ``TopicSpace`` and ``TopicClassifier`` (blend with
zero-shot, cross-validated) and its multi-label rule.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import xtopic_data_dir  # noqa: E402

from interestmap.encoders.base import EncoderInfo, TextEncoder, l2_normalize  # noqa: E402
from interestmap.topics.embed import NEAREST_WEIGHT  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
ML_LANGS = ("en", "es", "fr", "de", "it", "pt", "ru", "uk", "el", "ja", "zh", "ar", "tr", "pl")
X_LANGS = ("en", "es", "gr", "ja")
ATLAS_BEFORE = DATA / "atlas_before_issue11c.yaml"
"""The shipped atlas before issue 11's third pass (14 examples per topic, the first X-Topic
mapping): the baseline and the default are scored through it too (``..._atlas_before``)."""
BEFORE_NEAREST_T = {"use-m3+e5-small": 0.0304, "use-m3": 0.0320, "e5-small": 0.00487,
                    "minilm-l6": 0.0364}
"""Shipped text temperatures before issue 11's fourth pass (topic vectors alone): the
``atlas_topic_vectors_only`` figures score with them and without the nearest examples,
as interestmap did before, in the same run."""
VARIANTS = ("use-m3", "e5-small", "minilm-l6", "e5-centred", "use+e5", "use+e5-routed",
            "use+e5-routed-lang")


# Encoders -------------------------------------------------------------------------------
class Memo:
    """One real encoder, each text encoded once per run."""

    def __init__(self, name: str) -> None:
        from interestmap.encoders.registry import get_text_encoder

        self.enc = get_text_encoder(name)
        self.memo: dict[str, np.ndarray] = {}
        self.seconds = 0.0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if todo:
            t0 = time.perf_counter()
            for t, v in zip(todo, self.enc.encode(todo, batch_size=64), strict=True):
                self.memo[t] = v
            self.seconds += time.perf_counter() - t0
        return np.stack([self.memo[t] for t in texts]) if texts else np.zeros((0, 1))


class Variant(TextEncoder):
    """A text encoder made of cached base vectors (what a benchmark row runs on)."""

    def __init__(self, name: str, dim: int, fn: Callable[[list[str]], np.ndarray],
                 shipped_as: str | None = None) -> None:
        self.name, self.dim, self.fn, self.shipped_as = name, dim, fn, shipped_as

    @property
    def info(self) -> EncoderInfo:
        """Named as the shipped encoder it rebuilds, if any, so that it gets that
        encoder's shipped calibration (``topics.CALIBRATIONS``) rather than a run-time fit."""
        return EncoderInfo(name=self.shipped_as or self.name, version=f"bench:{self.name}",
                           dim=self.dim, modality="text")

    def encode(self, items: Sequence[str], *, batch_size: int = 64,
               show_progress: bool = False) -> np.ndarray:
        return l2_normalize(self.fn([str(t or "") for t in items]))


def make_variants(names: Sequence[str]) -> dict[str, Variant]:
    from interestmap.encoders.text_ensemble import USE_LANGUAGES, centred_e5, e5_mean
    from interestmap.signals.language import detect_language

    base: dict[str, Memo] = {}

    def get(n: str) -> Memo:
        if n not in base:
            base[n] = Memo(n)
        return base[n]

    lang_memo: dict[str, str | None] = {}

    def languages(texts: list[str]) -> list[str | None]:
        for t in texts:
            if t not in lang_memo:
                lang_memo[t] = detect_language(t)[0]
        return [lang_memo[t] for t in texts]

    mean, _ = e5_mean()

    def e5c(texts: list[str]) -> np.ndarray:
        return l2_normalize(get("e5-small")(texts) - mean)

    def e5cl(texts: list[str]) -> np.ndarray:
        return centred_e5(get("e5-small")(texts), languages(texts))

    def cat(texts: list[str], route: bool, per_language: bool = False) -> np.ndarray:
        u = get("use-m3")(texts).copy()
        if route:
            u[[g is not None and g not in USE_LANGUAGES for g in languages(texts)]] = 0.0
        return np.hstack([u, e5cl(texts) if per_language else e5c(texts)])

    table = {
        "use-m3": (512, lambda t: get("use-m3")(t)),
        "e5-small": (384, lambda t: get("e5-small")(t)),
        "minilm-l6": (384, lambda t: get("minilm-l6")(t)),
        "e5-centred": (384, e5c),
        "use+e5": (896, lambda t: cat(t, False)),
        "use+e5-routed": (896, lambda t: cat(t, True)),
        "use+e5-routed-lang": (896, lambda t: cat(t, True, per_language=True)),
    }
    from interestmap.encoders.text_ensemble import NAME as DEFAULT_NAME

    shipped = {"use-m3": "use-m3", "e5-small": "e5-small", "minilm-l6": "minilm-l6",
               "use+e5-routed-lang": DEFAULT_NAME}
    out = {n: Variant(n, *table[n], shipped_as=shipped.get(n)) for n in names}
    out["_base"] = base  # type: ignore[assignment]
    return out


# Data -----------------------------------------------------------------------------------
def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def xtopic_rows(root: Path, lang: str, split: str) -> list[dict]:
    """One language's tweets; ``split`` "dev" is X-Topic's train + validation splits."""
    parts = ("train", "validation") if split == "dev" else (split,)
    return [r for part in parts for r in jsonl(root / "xtopic" / lang / f"{lang}_{part}.jsonl")]


def xtopic_gold(rows: list[dict]) -> np.ndarray:
    from interestmap.topics.catalog import XTOPIC_LABELS

    return np.array([[int(r[x.replace(" ", "_")]) for x in XTOPIC_LABELS] for r in rows])


# Measures -------------------------------------------------------------------------------
def old_topic_vectors(topics: list, enc: TextEncoder) -> np.ndarray:
    """Topic vectors as interestmap made them before issue 11: one "Name. Description"
    prompt per topic, plus the example mean (scored alone: ``nearest_weight=0``)."""
    from interestmap.topics.embed import topic_prompt

    out = l2_normalize(enc.encode([topic_prompt(t) for t in topics]))
    for k, t in enumerate(topics):
        if t.examples:
            out[k] = out[k] + l2_normalize(enc.encode(t.examples).mean(axis=0))
    return l2_normalize(out)


def top1_f1(scores: np.ndarray, gold: np.ndarray) -> float:
    from interestmap.topics.classifier import _top1_macro_f1

    return round(_top1_macro_f1(np.asarray(scores), gold), 4)


def macro_f1(pred: np.ndarray, gold: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return round(float(f1_score(gold, pred, average="macro", zero_division=0)), 4)


def atlas_to_xtopic(atlas: list) -> np.ndarray:
    """``(n_atlas, 19)`` 0/1: which X-Topic labels each atlas topic stands for."""
    from interestmap.topics.catalog import XTOPIC_LABELS

    return np.array([[x in t.xtopic for x in XTOPIC_LABELS] for t in atlas], dtype=int)


def atlas_labels(mask: np.ndarray, to_x: np.ndarray) -> np.ndarray:
    """X-Topic labels of the atlas topics a post is about: every label of each."""
    return (mask.astype(int) @ to_x > 0).astype(int)


def atlas_first_label_scores(cos: np.ndarray, to_x: np.ndarray) -> np.ndarray:
    """The first figure's one label per post: per label the best cosine of an atlas
    topic mapped to it (argmax = the first label of the top atlas topic)."""
    return np.stack([np.where(to_x[:, k] > 0, cos, -9).max(axis=1)
                     for k in range(to_x.shape[1])], axis=1)


def xtopic_zero_shot(enc: TextEncoder, root: Path, old: bool, split: str = "test",
                     atlas_path: Path | None = None) -> dict:
    """Zero-shot X-Topic macro-F1 through an atlas (the shipped one by default; ``atlas_path``:
    another, e.g. :data:`ATLAS_BEFORE`) and through the 19 label names."""
    from interestmap.topics.calibration import TopicCalibration
    from interestmap.topics.catalog import XTOPIC_LABELS, Topic, load_topics
    from interestmap.topics.scoring import TopicSpace, select_topics

    atlas = load_topics(atlas_path)
    names = [Topic(id=x, name=x.title(), description=x.title()) for x in XTOPIC_LABELS]
    tv = old_topic_vectors(atlas, enc) if old else None
    nv = old_topic_vectors(names, enc) if old else None
    plain = {"nearest_weight": 0.0} if old else {}  # the baseline: topic vectors alone
    sa = TopicSpace(atlas, enc, text_vectors=tv, **plain)
    sn = TopicSpace(names, enc, text_vectors=nv, **plain)
    to_x = atlas_to_xtopic(atlas)
    t_before = BEFORE_NEAREST_T.get(enc.info.name)
    sb = None if old or t_before is None else TopicSpace(
        atlas, enc, nearest_weight=0.0,
        calibration=TopicCalibration(text=t_before, visual=t_before, source="before"))
    out: dict = {"atlas": {"top1": {}, "multi": {}}, "names": {"top1": {}, "multi": {}}}
    for lang in X_LANGS:
        rows = xtopic_rows(root, lang, split)
        gold = xtopic_gold(rows)
        v = enc.encode([r["text"] for r in rows])
        ca = sa.cosines("caption", v)
        out["atlas"]["top1"][lang] = top1_f1(atlas_first_label_scores(ca, to_x), gold)
        out["names"]["top1"][lang] = top1_f1(sn.cosines("caption", v), gold)
        if not old:  # the baseline predicted one label; the rule is this code's
            out["atlas"]["multi"][lang] = macro_f1(
                atlas_labels(select_topics(sa.proba("caption", v)), to_x), gold)
            out["names"]["multi"][lang] = macro_f1(select_topics(sn.proba("caption", v)), gold)
            if sb is not None:
                out.setdefault("atlas_topic_vectors_only", {"multi": {}})["multi"][lang] = (
                    macro_f1(atlas_labels(select_topics(sb.proba("caption", v)), to_x), gold))
    for part in out.values():
        if not part["multi"]:
            del part["multi"]
    return out


def xtopic_rule_sweep(enc: TextEncoder, root: Path, split: str = "dev") -> dict:
    """Macro-F1 of the multi-label rule for a grid of settings (mean of the 4 languages
    next to each): how ``MATCH_MIN_PROBABILITY`` / ``MATCH_MAX_TOPICS`` were chosen."""
    from interestmap.topics.catalog import XTOPIC_LABELS, Topic, load_topics
    from interestmap.topics.scoring import TopicSpace, select_topics

    atlas = load_topics()
    sa = TopicSpace(atlas, enc)
    sn = TopicSpace([Topic(id=x, name=x.title(), description=x.title())
                     for x in XTOPIC_LABELS], enc)
    to_x = atlas_to_xtopic(atlas)
    data = {}
    for lang in X_LANGS:
        rows = xtopic_rows(root, lang, split)
        v = enc.encode([r["text"] for r in rows])
        data[lang] = (sa.proba("caption", v), sn.proba("caption", v), xtopic_gold(rows))
    out: dict = {"split": split, "atlas": {}, "names": {}}
    for kind in ("atlas", "names"):
        for lang, (pa, pn, gold) in data.items():
            p = pa if kind == "atlas" else pn
            one = np.zeros(p.shape, dtype=bool)
            one[np.arange(len(p)), p.argmax(axis=1)] = True
            out[kind].setdefault("top topic only", {})[lang] = macro_f1(
                atlas_labels(one, to_x) if kind == "atlas" else one, gold)
            for m in (0.1, 0.12, 0.15, 0.18, 0.2, 0.25, 0.3):
                for k in (2, 3, 5):
                    mask = select_topics(p, min_probability=m, max_topics=k)
                    out[kind].setdefault(f"p>={m:g}, at most {k}", {})[lang] = macro_f1(
                        atlas_labels(mask, to_x) if kind == "atlas" else mask, gold)
        for per in out[kind].values():
            per["mean"] = round(float(np.mean([per[g] for g in X_LANGS])), 4)
    return out


def ml_summary(acc: dict[str, float], agree: dict[str, float] | None = None) -> dict:
    others = [acc[g] for g in ML_LANGS if g != "en"]
    out = {"en": acc["en"], "others_mean": round(float(np.mean(others)), 4),
           "others_min": min(others), "worst": min((g for g in ML_LANGS if g != "en"),
                                                   key=lambda g: acc[g]),
           "per_language": acc}
    if agree is not None:
        out["same_top_as_english"] = round(float(np.mean(list(agree.values()))), 4)
    return out


def ml_zero_shot(enc: TextEncoder, rows: list[dict], old: bool) -> dict:
    """Top-1 accuracy per language; for this code also how many topics the multi-label
    rule gives these one-topic sentences (``topics_per_sentence``, all languages) and how
    often the right one is among them (``right_among_topics``)."""
    from interestmap.topics.catalog import load_topics
    from interestmap.topics.scoring import TopicSpace, select_topics

    topics = load_topics(DATA / "ml_topics.yaml")
    ids = [t.id for t in topics]
    space = TopicSpace(topics, enc, text_vectors=old_topic_vectors(topics, enc) if old else None,
                       nearest_weight=0.0 if old else NEAREST_WEIGHT)
    out = {}
    for split in ("dev", "test"):
        part = [r for r in rows if r["split"] == split]
        gold = np.array([ids.index(r["topic"]) for r in part])
        vecs = {g: enc.encode([r[g] for r in part]) for g in ML_LANGS}
        preds = {g: space.cosines("caption", vecs[g]).argmax(1) for g in ML_LANGS}
        acc = {g: round(float((preds[g] == gold).mean()), 4) for g in ML_LANGS}
        agree = {g: float((preds[g] == preds["en"]).mean()) for g in ML_LANGS if g != "en"}
        out[split] = ml_summary(acc, agree)
        if not old:
            masks = np.concatenate([select_topics(space.proba("caption", vecs[g]))
                                    for g in ML_LANGS])
            right = np.tile(gold, len(ML_LANGS))
            out[split]["topics_per_sentence"] = round(float(masks.sum(axis=1).mean()), 3)
            out[split]["right_among_topics"] = round(
                float(masks[np.arange(len(right)), right].mean()), 4)
    return out


def implicit_en(enc: TextEncoder, rows: list[dict], old: bool, plain: bool) -> dict:
    """English sentences whose topic is implicit: zero-shot, and trained on English."""
    from interestmap.topics.catalog import load_topics
    from interestmap.topics.classifier import TopicClassifier
    from interestmap.topics.scoring import TopicSpace

    topics = load_topics(DATA / "ml_topics.yaml")
    ids = [t.id for t in topics]
    test = jsonl(DATA / "ml_topics_implicit_en.jsonl")
    gold = np.array([r["label"] for r in test])
    v = enc.encode([r["text"] for r in test])
    space = TopicSpace(topics, enc, text_vectors=old_topic_vectors(topics, enc) if old else None,
                       nearest_weight=0.0 if old else NEAREST_WEIGHT)
    zs = float(np.mean(np.array(ids)[space.cosines("caption", v).argmax(axis=1)] == gold))
    train = jsonl(DATA / "ml_topics_train_en.jsonl")
    texts = [r["text"] for r in train] + [r["en"] for r in rows if r["split"] == "dev"]
    labels = [r["label"] for r in train] + [r["topic"] for r in rows if r["split"] == "dev"]
    if plain:
        from sklearn.linear_model import LogisticRegression

        pred = LogisticRegression(max_iter=2000).fit(enc.encode(texts), labels).predict(v)
    else:
        clf = TopicClassifier(text_encoder=enc).fit(texts, labels, zero_shot=space)
        pred = np.array(ids)[clf.blend_with(space.proba("caption", v), v, ids).argmax(axis=1)]
    return {"sentences": len(test), "zero_shot": round(zs, 4),
            "trained_on_english": round(float(np.mean(pred == gold)), 4)}


def ml_trained(enc: TextEncoder, rows: list[dict], plain: bool) -> dict:
    from interestmap.topics.catalog import load_topics
    from interestmap.topics.classifier import TopicClassifier
    from interestmap.topics.scoring import TopicSpace

    topics = load_topics(DATA / "ml_topics.yaml")
    train = jsonl(DATA / "ml_topics_train_en.jsonl")
    texts = [r["text"] for r in train] + [r["en"] for r in rows if r["split"] == "dev"]
    labels = [r["label"] for r in train] + [r["topic"] for r in rows if r["split"] == "dev"]
    test = [r for r in rows if r["split"] == "test"]
    gold = np.array([r["topic"] for r in test])
    if plain:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(max_iter=2000).fit(enc.encode(texts), labels)
        predict = model.predict
        desc = {"model": "LogisticRegression()"}
    else:
        space = TopicSpace(topics, enc)
        clf = TopicClassifier(text_encoder=enc).fit(texts, labels, zero_shot=space)

        def predict(v: np.ndarray) -> np.ndarray:
            p = clf.blend_with(space.proba("caption", v), v, space.ids)
            return np.array(space.ids)[p.argmax(axis=1)]

        desc = {"model": "TopicClassifier blend", "C": clf.C_, "blend": clf.blend_}
    preds = {g: predict(enc.encode([r[g] for r in test])) for g in ML_LANGS}
    acc = {g: round(float((preds[g] == gold).mean()), 4) for g in ML_LANGS}
    agree = {g: float((preds[g] == preds["en"]).mean()) for g in ML_LANGS if g != "en"}
    return {**desc, "train_posts": len(texts), **ml_summary(acc, agree)}


def xtopic_trained(enc: TextEncoder, root: Path, plain: bool) -> dict:
    from interestmap.topics.catalog import XTOPIC_LABELS, Topic, xtopic_label
    from interestmap.topics.classifier import TopicClassifier
    from interestmap.topics.scoring import TopicSpace, select_topics

    train = xtopic_rows(root, "en", "train")
    texts = [r["text"] for r in train]
    labels = [[xtopic_label(t) for t in r["topics"]] for r in train]
    names = TopicSpace([Topic(id=x, name=x.title(), description=x.title())
                        for x in XTOPIC_LABELS], enc)
    if plain:
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        from interestmap.topics.classifier import _expand

        x_train = enc.encode(texts)
        rows_, labs, w = _expand(labels)
        model = LogisticRegression(max_iter=2000).fit(x_train[rows_], labs, sample_weight=w)
        ovr = OneVsRestClassifier(LogisticRegression(max_iter=2000)).fit(
            x_train, xtopic_gold(train))

        def proba(v: np.ndarray) -> np.ndarray:
            p = model.predict_proba(v)
            out = np.zeros((len(v), 19))
            for k, c in enumerate(model.classes_):
                out[:, XTOPIC_LABELS.index(c)] = p[:, k]
            return out

        def labels_of(v: np.ndarray, p: np.ndarray) -> np.ndarray:
            return ovr.predict(v)
    else:
        clf = TopicClassifier(text_encoder=enc).fit(texts, labels, zero_shot=names)

        def proba(v: np.ndarray) -> np.ndarray:
            return clf.blend_with(names.proba("caption", v), v, names.ids)

        def labels_of(v: np.ndarray, p: np.ndarray) -> np.ndarray:
            return select_topics(p)
    out: dict = {"top1": {}, "multi": {}}
    for lang in X_LANGS:
        rows = xtopic_rows(root, lang, "test")
        gold = xtopic_gold(rows)
        v = enc.encode([r["text"] for r in rows])
        p = proba(v)
        out["top1"][lang] = top1_f1(p, gold)
        out["multi"][lang] = macro_f1(labels_of(v, p), gold)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help=f"comma-separated, from {', '.join(VARIANTS)}")
    ap.add_argument("--no-xtopic", action="store_true", help="skip the X-Topic sets")
    ap.add_argument("--split", choices=("test", "dev"), default=None,
                    help="X-Topic tweets to score: test (the default: what is reported) or "
                         "dev = train + validation (what was chosen on); trained rows always "
                         "train on en_train and score test")
    ap.add_argument("--sweep", action="store_true",
                    help="only the multi-label rule's grid on X-Topic (split dev unless "
                         "--split test), with the first of --variants (default: the "
                         "shipped default, use+e5-routed-lang)")
    args = ap.parse_args(argv)
    if args.sweep:
        given = [v.strip() for v in args.variants.split(",") if v.strip()]
        name = given[0] if args.variants != ",".join(VARIANTS) else "use+e5-routed-lang"
        enc = make_variants([name])[name]
        print(json.dumps({"variant": name, **xtopic_rule_sweep(
            enc, xtopic_data_dir(), args.split or "dev")}, indent=1))
        return
    args.split = args.split or "test"
    t_start = time.perf_counter()
    root = None if args.no_xtopic else xtopic_data_dir()
    rows = jsonl(DATA / "ml_topics.jsonl")
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    variants = make_variants(names)
    base = variants.pop("_base")  # type: ignore[arg-type]
    out: dict = {"machine": {"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)},
                 "xtopic_split": args.split, "results": {}}
    for name in names:
        enc = variants[name]
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        r: dict = {"zero_shot": {"ml": ml_zero_shot(enc, rows, old=False)},
                   "trained_on_english": {"ml": ml_trained(enc, rows, plain=False)}}
        r["implicit_en"] = implicit_en(enc, rows, old=False, plain=False)
        if name == "use-m3":  # the plain baseline of issue 11, on the same vectors
            r["baseline"] = {"zero_shot": {"ml": ml_zero_shot(enc, rows, old=True)},
                             "trained_on_english": {"ml": ml_trained(enc, rows, plain=True)},
                             "implicit_en": implicit_en(enc, rows, old=True, plain=True)}
        if root is not None:
            r["zero_shot"]["xtopic"] = xtopic_zero_shot(enc, root, old=False, split=args.split)
            r["zero_shot"]["xtopic_atlas_before"] = xtopic_zero_shot(
                enc, root, old=False, split=args.split, atlas_path=ATLAS_BEFORE)
            if name == "use-m3":
                r["baseline"]["zero_shot"]["xtopic"] = xtopic_zero_shot(enc, root, old=True,
                                                                        split=args.split)
                r["baseline"]["zero_shot"]["xtopic_atlas_before"] = xtopic_zero_shot(
                    enc, root, old=True, split=args.split, atlas_path=ATLAS_BEFORE)
            if args.split == "test":
                r["trained_on_english"]["xtopic"] = xtopic_trained(enc, root, plain=False)
                if name == "use-m3":
                    r["baseline"]["trained_on_english"]["xtopic"] = xtopic_trained(
                        enc, root, plain=True)
        out["results"][name] = r
    out["encode_seconds"] = {n: round(m.seconds, 1) for n, m in base.items()}
    out["machine"]["load_1min_end"] = round(os.getloadavg()[0], 2)
    out["total_s"] = round(time.perf_counter() - t_start, 1)
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
