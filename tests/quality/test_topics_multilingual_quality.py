"""Declared topics across languages, quality on real captions (moved from
tests/test_topics_multilingual.py): translations find each other and keep their topic,
a classifier trained on English labels other languages, and several topics per post
beat the top topic alone in macro-F1. ``encoder`` comes from tests/conftest.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from interestmap.topics.catalog import load_topics
from interestmap.topics.scoring import TopicSpace

pytestmark = pytest.mark.quality

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "tests" / "data" / "translations.jsonl"
BENCH = ROOT / "benchmarks" / "data"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def atlas(encoder) -> TopicSpace:
    return TopicSpace(load_topics(), encoder)


@pytest.fixture(scope="module")
def pairs() -> list[dict]:
    return _jsonl(TRANSLATIONS)


@pytest.mark.slow
def test_greek_and_ukrainian_captions_find_their_english_translation(encoder, pairs):
    en = encoder.encode([r["en"] for r in pairs])
    for lang in ("uk", "el", "ru", "it", "pt"):
        xx = encoder.encode([r[lang] for r in pairs])
        sims = en @ xx.T
        hits = float(np.mean(sims.argmax(axis=1) == np.arange(len(pairs))))
        assert hits >= 0.9, (lang, hits)
        # a translation is much closer than the nearest unrelated caption, on average
        off = np.where(np.eye(len(pairs), dtype=bool), -1.0, sims).max(axis=1)
        assert float(np.mean(np.diag(sims) - off)) > 0.15, lang


@pytest.mark.slow
def test_a_ukrainian_caption_and_its_english_translation_get_the_same_topic(atlas, pairs):
    ids = np.array(atlas.ids)
    top = {g: ids[atlas.proba_texts([r[g] for r in pairs]).argmax(axis=1)]
           for g in ("en", "uk", "el")}
    by_en = dict(zip((r["en"] for r in pairs), range(len(pairs)), strict=True))
    for caption, topic in (("Easy vegan pasta in fifteen minutes", {"cooking"}),
                           ("This new video game is so hard, I died fifty times", {"gaming"}),
                           ("Our baby took her first steps today ❤️", {"parenting"}),
                           ("Our team won the championship final last night! ⚽",
                            {"sports", "football"})):
        i = by_en[caption]
        assert top["en"][i] in topic, (caption, top["en"][i])
        assert top["uk"][i] in topic, (pairs[i]["uk"], top["uk"][i])
        assert top["el"][i] in topic, (pairs[i]["el"], top["el"][i])
    # most of the 20 everyday captions keep their top topic in Ukrainian and Greek
    # (measured 0.70 and 0.85; the old default, use-m3 alone, kept 0.40 and 0.05)
    assert np.mean(top["uk"] == top["en"]) >= 0.6
    assert np.mean(top["el"] == top["en"]) >= 0.7


@pytest.mark.slow
def test_a_classifier_trained_on_english_labels_ukrainian_and_greek_sentences(encoder):
    from interestmap.topics.classifier import TopicClassifier

    topics = load_topics(BENCH / "ml_topics.yaml")
    train = _jsonl(BENCH / "ml_topics_train_en.jsonl")
    test = [r for r in _jsonl(BENCH / "ml_topics.jsonl") if r["split"] == "test"]
    space = TopicSpace(topics, encoder)
    clf = TopicClassifier(text_encoder=encoder).fit(
        [r["text"] for r in train], [r["label"] for r in train], zero_shot=space)
    gold = np.array([r["topic"] for r in test])
    pred = {g: clf.predict([r[g] for r in test]) for g in ("en", "uk", "el", "ja")}
    assert np.mean(pred["en"] == gold) >= 0.9
    for g in ("uk", "el", "ja"):  # never seen in training
        assert np.mean(pred[g] == gold) >= 0.85, g
        assert np.mean(pred[g] == pred["en"]) >= 0.85, g


@pytest.mark.slow
def test_posts_about_several_things_get_several_topics(atlas, data):
    """X-Topic tweets carry 1.9 labels on average: the topics `classify` and `analyze`
    say a post is about (select_topics) find more of them than its top topic alone.
    Measured on X-Topic's train + validation tweets, which the rule was chosen on
    (macro-F1 en 0.479 -> 0.521, es 0.422 -> 0.449); the test tweets are for the
    benchmark only."""
    from sklearn.metrics import f1_score

    from interestmap.topics.catalog import XTOPIC_LABELS
    from interestmap.topics.scoring import select_topics

    to_x = np.array([[x in t.xtopic for x in XTOPIC_LABELS] for t in atlas.topics], dtype=int)
    for lang in ("en", "es"):
        rows = [r for split in ("train", "validation")
                for r in _jsonl(data / "xtopic" / lang / f"{lang}_{split}.jsonl")]
        gold = np.array([[int(r[x.replace(" ", "_")]) for x in XTOPIC_LABELS] for r in rows])
        p = atlas.proba_texts([r["text"] for r in rows])
        top = np.zeros(p.shape, dtype=int)
        top[np.arange(len(p)), p.argmax(axis=1)] = 1
        mask = select_topics(p)
        assert mask[np.arange(len(p)), p.argmax(axis=1)].all()
        assert 1.1 < mask.sum(axis=1).mean() < 2.0, lang  # a few posts get two or three

        f1 = {name: f1_score(gold, (m @ to_x > 0).astype(int), average="macro",
                             zero_division=0) for name, m in (("rule", mask.astype(int)),
                                                              ("top", top))}
        assert f1["rule"] > f1["top"] + 0.015, (lang, f1)
