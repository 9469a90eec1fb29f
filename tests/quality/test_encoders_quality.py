"""Quality of the bundled encoders on real data (moved from tests/test_encoders_text.py
and tests/test_encoders_visual.py): captions find their translations, and the
visual-semantics bridge names the scene of real photos far above chance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.scenes import FOLDERS, scene_images

from interestmap.encoders.registry import get_text_encoder

pytestmark = pytest.mark.quality


TRANSLATIONS = Path(__file__).resolve().parents[1] / "data" / "translations.jsonl"


def _translations() -> list[dict[str, str]]:
    return [json.loads(line) for line in TRANSLATIONS.read_text("utf-8").splitlines()
            if line.strip()]


TOPICS = {
    "buildings": "buildings and architecture",
    "forest": "forest and trees",
    "glacier": "glacier, snow and ice",
    "mountain": "mountains",
    "sea": "beach and sea",
    "street": "city street",
}


@pytest.mark.slow
def test_default_encoder_matches_captions_across_languages():
    """A caption is closer to its ru/it/pt translation than to any other caption's."""
    rows = _translations()
    assert len(rows) >= 20
    enc = get_text_encoder()
    en = enc.encode([r["en"] for r in rows])
    n = len(rows)
    for lang in ("ru", "it", "pt"):
        sims = en @ enc.encode([r[lang] for r in rows]).T
        diag = np.diag(sims)
        unrelated = sims[~np.eye(n, dtype=bool)].reshape(n, n - 1)
        retrieval = float((sims.argmax(axis=1) == np.arange(n)).mean())
        reverse = float((sims.argmax(axis=0) == np.arange(n)).mean())
        margin = float((diag - unrelated.max(axis=1)).mean())
        print(f"{enc.info.name} en<->{lang}: translation cos {diag.mean():.2f}, unrelated "
              f"{unrelated.mean():.2f}, margin {margin:.2f}, retrieval {retrieval:.2f}/{reverse:.2f}")
        assert retrieval >= 0.9 and reverse >= 0.9, (lang, retrieval, reverse)
        assert margin > 0.05, (lang, margin)


@pytest.mark.slow
def test_semantics_zero_shot_matches_scene_descriptions(semantics, data):
    images, labels = scene_images(data, per_folder=10, offset=200)
    vecs = semantics.encode(images)
    topics = semantics.text_encoder.encode([TOPICS[f] for f in FOLDERS])
    sims = vecs @ topics.T
    accuracy = float((sims.argmax(axis=1) == labels).mean())
    print(f"visual-semantics zero-shot accuracy over 6 scenes: {accuracy:.2f} (chance 0.17)")
    assert accuracy >= 0.35, accuracy  # chance is 1/6
    sea = labels == FOLDERS.index("sea")
    beach = sims[sea, FOLDERS.index("sea")]
    street = sims[sea, FOLDERS.index("street")]
    assert (beach > street).mean() >= 0.8
