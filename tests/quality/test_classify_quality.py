"""Quality of a topic classifier trained on real labelled posts (moved from
tests/test_classify.py): trained on X-Topic's English posts, it beats the majority
class in macro-F1 on the Spanish and Japanese test posts. ``xtopic_setup`` comes from
tests/conftest.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.xtopic import xtopic_split

from interestmap.topics.catalog import XTOPIC_LABELS, load_topics
from interestmap.topics.classifier import _top1_macro_f1
from interestmap.topics.scoring import TopicSpace

pytestmark = pytest.mark.quality

TEST_POSTS = 400


def _gold(rows: list[dict]) -> np.ndarray:
    return np.array([[r[x.replace(" ", "_")] for x in XTOPIC_LABELS] for r in rows])


@pytest.mark.slow
def test_english_trained_classifier_scores_spanish_greek_and_japanese(data, xtopic_setup,
                                                                       artifacts_dir):
    """Acceptance: train on X-Topic en_train, score the es, gr and ja test sets."""
    space, clf = xtopic_setup
    atlas = TopicSpace(load_topics(), space.text_encoder)
    to_x = np.array([[x in t.xtopic for x in XTOPIC_LABELS] for t in atlas.topics])
    results = {"classifier": clf.describe()}
    for lang in ("en", "es", "gr", "ja"):
        rows = xtopic_split(data, lang, "test")[:TEST_POSTS]
        gold = _gold(rows)
        vecs = space.text_encoder.encode([r["text"] for r in rows])
        p_zs = space.proba("caption", vecs)
        pa = atlas.proba("caption", vecs)
        p_atlas = np.stack([pa[:, to_x[:, k]].max(axis=1) for k in range(len(XTOPIC_LABELS))], 1)
        p_clf = clf.proba_over(vecs, space.ids)
        p_blend = clf.blend_with(p_zs, vecs, space.ids)
        majority = np.zeros_like(p_zs)
        majority[:, gold.sum(axis=0).argmax()] = 1.0
        results[lang] = {k: round(_top1_macro_f1(p, gold), 4) for k, p in (
            ("classifier", p_clf), ("blend", p_blend), ("zero_shot_names", p_zs),
            ("zero_shot_atlas", p_atlas), ("majority", majority))}
    (artifacts_dir / "xtopic_classifier_f1.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    for lang in ("en", "es", "ja"):  # languages the multilingual encoder was trained on
        r = results[lang]
        assert r["classifier"] > 0.18, (lang, r)
        assert r["classifier"] > 4 * r["majority"], (lang, r)
        assert r["blend"] >= r["classifier"] - 1e-9 or r["blend"] >= r["zero_shot_names"], r
    # Greek is not among use-m3's languages: it scores near chance, and is reported as such
    assert results["gr"]["classifier"] < results["es"]["classifier"]
