"""Analysing a clip before posting: clarity, modality agreement, attribution and advice,
on real clips (espeak-ng speech over real photos, see tests/helpers/clips.py)."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import numpy as np
import pytest

from interestmap.analysis.advice import advise, readable_share, suggest_hashtags
from interestmap.analysis.analyze import analyze, analyze_encoded, recognition_chance
from interestmap.clip import Clip
from interestmap.encoders.fusion import BLOCKS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def index(default_index):
    return default_index


@pytest.fixture(scope="module")
def coherent(encoded_clip, index):
    return analyze_encoded(encoded_clip("coherent"), index)


@pytest.fixture(scope="module")
def disagreeing(encoded_clip, index):
    return analyze_encoded(encoded_clip("disagreeing"), index)


def test_coherent_clip_is_clearer_and_the_disagreeing_modalities_are_named(coherent,
                                                                            disagreeing):
    """Acceptance: shared topic -> clearly higher clarity; the disagreeing blocks named."""
    c, d = coherent, disagreeing
    assert c.clarity.score >= d.clarity.score + 25, (c.clarity, d.clarity)
    assert c.clarity.band == "clear" and d.clarity.band == "unclear"
    assert c.topics.top.id == "travel"
    assert c.agreement.disagreeing == [] and c.agreement.agreement > 0.9
    assert {r.block for r in c.agreement.blocks} == {"caption", "speech", "visual_semantics"}

    assert d.topics.top.id == "football"
    assert set(d.agreement.disagreeing) == {"speech", "visual_semantics"}
    own = {r.block: r.top_topic["id"] for r in d.agreement.blocks}
    assert own == {"caption": "football", "speech": "business-finance",
                   "visual_semantics": "nature-outdoors"}
    assert "the speech is about Business & finance" in d.agreement.summary
    assert "the visuals are about Nature & outdoors" in d.agreement.summary
    assert "speech" in d.clarity.reason and "visuals" in d.clarity.reason
    assert d.agreement.topic_driver == "caption"
    # the advice starts with the two disagreeing modalities, the stronger block first
    assert [a.id for a in d.advice[:2]] == ["off_topic_speech", "off_topic_visual_semantics"]
    assert "Business & finance" in d.advice[0].detail
    assert not any(a.id.startswith("off_topic") for a in c.advice)


def test_clarity_formula_and_its_calibration(coherent, disagreeing):
    for a in (coherent, disagreeing):
        cl = a.clarity
        assert cl.score == round(100 * cl.recognition * cl.agreement)
        assert cl.recognition == pytest.approx(recognition_chance(cl.top_probability))
        assert 0 <= cl.margin <= cl.top_probability <= 1
    # recognition grows with the top probability and stays a probability
    ps = [recognition_chance(p) for p in (0.03, 0.2, 0.5, 0.9, 0.999)]
    assert ps == sorted(ps) and 0 < ps[0] < ps[-1] < 1


def test_attribution_for_the_top_topic_and_the_top_audience(disagreeing):
    d = disagreeing
    m = d.agreement
    s = d.topics
    top = s.top_index
    weighted_cos = sum(w * s.block_cosines[b][top] for b, w in s.block_weights.items())
    assert sum(m.top_topic_attribution.values()) == pytest.approx(weighted_cos, abs=1e-3)
    aud = d.audiences[0]
    assert set(m.top_audience_attribution) == set(BLOCKS)
    assert sum(m.top_audience_attribution.values()) == pytest.approx(aud.similarity, abs=2e-3)
    assert m.audience_driver == max(aud.attribution, key=aud.attribution.get)
    for r in m.blocks:
        assert r.audience_contribution == aud.attribution[r.block]
        assert r.topic_contribution == m.top_topic_attribution[r.block]
    assert m.blocks[0].evidence.startswith("What a goal")


def test_advice_from_the_signals_of_a_real_clip(coherent):
    c = coherent
    ids = [a.id for a in c.advice]
    # a talking still photo with no on-screen text, no face and no location
    for expected in ("no_subtitles", "too_static", "no_face", "no_geo"):
        assert expected in ids, ids
    assert ids.index("no_subtitles") < ids.index("too_static") < ids.index("no_face")
    sub = next(a for a in c.advice if a.id == "no_subtitles")
    assert sub.evidence["speech_share"] > 0.5
    static = next(a for a in c.advice if a.id == "too_static")
    assert static.evidence["motion"] < 0.005
    assert all(c.advice[i].priority >= c.advice[i + 1].priority for i in range(len(ids) - 1))


def _advice_ids(base, **signals) -> list[str]:
    e = copy.deepcopy(base.encoded)
    for k, v in signals.items():
        setattr(e.signals, k, v)
    return [a.id for a in advise(e, base.topics, base.agreement, base.clarity, None)]


def test_each_signal_rule_fires_on_its_evidence(coherent):
    c = coherent
    assert "too_quiet" in _advice_ids(c, loudness_dbfs=-41.0)
    assert "too_loud" in _advice_ids(c, loudness_dbfs=-6.0)
    assert not {"too_quiet", "too_loud"} & set(_advice_ids(c, loudness_dbfs=-16.0))
    assert "too_busy" in _advice_ids(c, motion=0.3)
    assert "caption_speech_language" in _advice_ids(c, caption_language="es",
                                                    speech_language="en")
    late = [(5.2, 9.0, "Welcome to my travel vlog")]
    assert "topic_late" in _advice_ids(c, speech_segments=late)
    garbled = _advice_ids(c, ocr_text="~ |} ;: ee _- =")
    assert "ocr_unreadable" in garbled and "no_subtitles" not in garbled
    no_tags = _advice_ids(c, hashtags=[])
    assert "no_hashtags" in no_tags
    assert readable_share("Summer at the beach") == 1.0 and readable_share("~ |} ;:") == 0.0


def test_the_opening_words_are_checked_against_the_topic(data, index, coherent):
    e = copy.deepcopy(coherent.encoded)
    # the opening (the words that start in the first 3 s) is about business only
    e.signals.speech_segments = [(0.0, 2.5, "Let me explain how to grow your small business."),
                                 (3.5, 8.0, "Welcome to my travel vlog at the beach.")]
    from interestmap.analysis.analyze import topic_space

    ids = [a.id for a in advise(e, coherent.topics, coherent.agreement, coherent.clarity,
                                topic_space(index))]
    assert "topic_not_in_opening" in ids
    assert "topic_not_in_opening" not in [a.id for a in coherent.advice]


def test_hashtag_suggestions_come_from_the_topic_in_the_clips_language(index):
    travel = next(t for t in index.topics if t.id == "travel")
    # the atlas's Spanish travel post is tagged #viajes #italia #viajar
    assert suggest_hashtags(travel, "es", exclude="#viajes") == ["italia", "viajar", "travel"]
    assert suggest_hashtags(travel, "pt")[:3] == ["viagem", "paris", "dicasdeviagem"]
    assert suggest_hashtags(travel, None, exclude="#Travel") == ["lisbon", "wanderlust",
                                                                 "traveltips"]


def test_caption_only_and_empty_clips(index):
    a = analyze(Clip(caption="Receta fácil de paella valenciana 🥘 #paella #receta #cocina"),
                index)
    assert a.topics.top.id == "cooking"
    assert list(a.topics.block_weights) == ["caption"]
    assert a.agreement.summary.startswith("Only the caption")
    out = a.as_dict()
    json.dumps(out, default=float)
    assert out["clip"]["blocks"]["caption"] and not out["clip"]["blocks"]["speech"]
    assert out["audiences"] and out["map"]["x"] is not None

    empty = analyze(Clip(caption="🙂"), index)
    assert empty.topics.top is None and empty.clarity.score == 0
    assert empty.advice[0].id == "no_topic_signal"


def test_a_trained_classifier_is_blended_in_and_saved_with_an_index(index, tmp_path):
    from interestmap.topics.classifier import (
        TopicClassifier,
        load_index_classifier,
        save_index_classifier,
    )

    texts = [e for t in index.topics for e in t.examples]
    labels = [t.id for t in index.topics for _ in t.examples]
    clf = TopicClassifier(C=3.0, blend=0.5, text_encoder=index.encoder.text).fit(texts, labels)
    a = analyze(Clip(caption="Leg day: 5x5 squats, new PR 💪 #gym"), index, classifier=clf)
    assert a.topics.sources == {"caption": "zero-shot + classifier"}
    assert a.topics.top.id == "fitness"
    z = analyze(Clip(caption="Leg day: 5x5 squats, new PR 💪 #gym"), index, classifier=None)
    assert z.topics.sources == {"caption": "zero-shot"}
    assert not np.allclose(a.topics.probabilities, z.topics.probabilities)

    fake = SimpleNamespace(dir=tmp_path, layout=index.layout)
    assert load_index_classifier(fake) is None
    save_index_classifier(fake, clf)
    back = load_index_classifier(fake)
    assert list(back.classes_) == list(clf.classes_)


def test_cli_analyze(capsys):
    from interestmap.serve.cli import main

    rc = main(["analyze", "--caption", "Matchday! Full stadium ⚽ #football #derby", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["topics"]["top"][0]["id"] == "football"
    assert {"clarity", "modalities", "audiences", "advice", "map"} <= set(out)
    rc = main(["analyze", "--caption", "Matchday! Full stadium ⚽ #football #derby"])
    text = capsys.readouterr().out
    assert rc == 0 and text.startswith("Clarity ") and "Football" in text
    assert main(["analyze"]) == 2
    assert "nothing to encode" in capsys.readouterr().err


def test_a_one_word_transcript_is_not_read_for_topics(coherent, index):
    from interestmap.analysis.advice import talks
    from interestmap.analysis.analyze import topic_blocks

    e = copy.deepcopy(coherent.encoded)
    assert talks(e) and topic_blocks(e)["speech"] is not None
    e.signals.transcript = "Hmm"  # what Whisper hears in Big Buck Bunny
    e.signals.speech_segments = [(0.4, 1.0, "Hmm")]
    assert not talks(e) and topic_blocks(e)["speech"] is None
    a = analyze_encoded(e, index)
    assert "speech" not in a.topics.block_weights
    assert e.blocks["speech"] is not None  # still part of the fused vector
    ids = [x.id for x in a.advice]
    assert "no_subtitles" not in ids and "topic_not_in_opening" not in ids
    assert "no_words" in ids
