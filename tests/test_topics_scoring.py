"""Zero-shot scoring of declared topics: topic vectors, calibration, per-block and fused
(accuracy on real posts and photos is in tests/quality/test_topics_quality.py)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.xtopic import xtopic_split_texts
from scipy.special import softmax

from interestmap.errors import ConfigError
from interestmap.topics.calibration import CALIBRATIONS, fit_temperature
from interestmap.topics.catalog import Topic
from interestmap.topics.embed import nearest_example_cosines, topic_prompt, visual_phrases
from interestmap.topics.scoring import TopicSpace, select_topics

# --- no model needed ----------------------------------------------------------------------

def test_prompts_and_visual_phrases():
    t = Topic(id="x", name="Street food", description="Food sold on the street.",
              visuals=["food truck", "grill"])
    assert topic_prompt(t) == "Street food. Food sold on the street."
    assert topic_prompt(Topic(id="y", name="Vinyl", description="Vinyl")) == "Vinyl"
    assert visual_phrases(t) == ["a photo of a food truck", "a photo of a grill"]
    # no visuals: the name and description, phrased like an image label
    assert visual_phrases(Topic(id="y", name="Vinyl", description="Record collecting.")) == \
        ["a photo of a Vinyl: Record collecting."]


def test_nearest_example_cosines_average_each_topics_closest_examples():
    # 3 topics: 4 examples, none, 2 examples
    cos = np.array([[0.9, 0.1, 0.5, 0.7, 0.2, 0.4],
                    [0.0, 0.3, 0.2, 0.1, 0.8, 0.6]])
    near = nearest_example_cosines(cos, [4, 0, 2], k=2)
    assert near[:, 0] == pytest.approx([0.8, 0.25])  # the two highest of the first four
    assert np.isnan(near[:, 1]).all()  # no examples: no score
    assert near[:, 2] == pytest.approx([0.3, 0.7])  # fewer than k: all of them
    assert nearest_example_cosines(cos[0], [4, 0, 2], k=1)[0, 0] == pytest.approx(0.9)


class _Words:
    """A toy text encoder (bag of known words) with the encoder interface TopicSpace uses."""

    VOCAB = ("goal", "match", "transfer", "recipe", "oven", "soup")

    class info:  # noqa: N801 - mimics EncoderInfo
        name, version, dim = "words", "1", 6

    def encode(self, texts, batch_size=64, show_progress=False):
        v = np.array([[float(w in t.lower().split()) for w in self.VOCAB] for t in texts])
        v[~v.any(axis=1), 0] = 1e-3
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_text_scores_blend_the_topic_vector_with_the_nearest_examples():
    from interestmap.topics.calibration import TopicCalibration

    topics = [Topic(id="football", name="goal", description="goal match",
                    examples=["goal match", "transfer", "goal"]),
              Topic(id="cooking", name="recipe", description="recipe oven",
                    examples=["recipe oven", "soup"]),
              Topic(id="bare", name="oven", description="oven")]  # no examples
    cal = TopicCalibration(text=0.05, visual=0.05, source="test")
    enc = _Words()
    plain = TopicSpace(topics, enc, calibration=cal, nearest_weight=0.0)
    space = TopicSpace(topics, enc, calibration=cal, nearest_examples=1, nearest_weight=0.5)
    v = enc.encode(["transfer"])
    c0, c1 = plain.cosines("caption", v)[0], space.cosines("caption", v)[0]
    # a post on one sub-theme (a transfer) is far from the topic vector, at one example
    assert c1[0] == pytest.approx((c0[0] + 0.5 * 1.0) / 1.5)
    assert c1[0] > c0[0] + 0.2
    assert c1[2] == pytest.approx(c0[2])  # a topic without examples: its vector alone
    # stored vectors are used as given and checked
    same = TopicSpace(topics, enc, calibration=cal, nearest_examples=1,
                      example_vectors=space.example_vectors)
    assert np.allclose(same.cosines("caption", v), c1)
    with pytest.raises(ConfigError, match="example vectors"):
        TopicSpace(topics, enc, example_vectors=np.ones((4, 6)))
    with pytest.raises(ConfigError, match="nearest_examples"):
        TopicSpace(topics, enc, nearest_examples=0)
    with pytest.raises(ConfigError, match="nearest_weight"):
        TopicSpace(topics, enc, nearest_weight=-1)


def test_fit_temperature_recovers_the_temperature_that_made_the_labels():
    rng = np.random.default_rng(0)
    cos = rng.uniform(-0.1, 0.6, size=(4000, 12))
    p = softmax(cos / 0.05, axis=-1)
    gold = np.zeros_like(cos, dtype=bool)
    gold[np.arange(len(cos)), [rng.choice(12, p=row) for row in p]] = True
    assert fit_temperature(cos, gold) == pytest.approx(0.05, rel=0.1)
    with pytest.raises(ConfigError, match="no item has a right topic"):
        fit_temperature(cos[:3], np.zeros((3, 12), dtype=bool))


def test_a_post_is_about_its_top_topic_and_every_other_likely_one():
    p = np.array([[0.50, 0.30, 0.12, 0.08],   # two topics over 15 %
                  [0.05, 0.90, 0.03, 0.02],   # one clear topic
                  [0.26, 0.25, 0.25, 0.24],   # four likely ones: the three likeliest
                  [0.10, 0.10, 0.10, 0.70]])
    mask = select_topics(p)
    assert mask.tolist() == [[True, True, False, False], [False, True, False, False],
                             [True, True, True, False], [False, False, False, True]]
    assert select_topics(p, max_topics=2).sum(axis=1).tolist() == [2, 1, 2, 1]
    # the top topic is kept even when nothing reaches the threshold; ties keep the first
    assert select_topics(np.full(8, 1 / 8), min_probability=0.5).tolist() == \
        [True] + [False] * 7
    assert select_topics(p[0], min_probability=0.1).tolist() == [True, True, True, False]
    assert select_topics(np.zeros((0, 4))).shape == (0, 4)
    with pytest.raises(ConfigError, match="min_probability"):
        select_topics(p, min_probability=1.5)
    with pytest.raises(ConfigError, match="max_topics"):
        select_topics(p, max_topics=0)


def test_empty_topics_and_wrong_stored_vectors_are_refused():
    class Enc:
        class info:  # noqa: N801 - mimics EncoderInfo
            dim = 4

    with pytest.raises(ConfigError, match="no declared topics"):
        TopicSpace([], Enc())
    with pytest.raises(ConfigError, match="do not fit"):
        TopicSpace([Topic(id="a", name="A")], Enc(), text_vectors=np.ones((2, 4)))


# --- real model, real posts -----------------------------------------------------------------

@pytest.mark.slow
def test_shipped_text_temperature_refits_on_real_posts(space, data):
    """CALIBRATIONS['use-m3'] is what fit_temperature gives on X-Topic en_train."""
    texts, labels = xtopic_split_texts(data, "en", "train")
    cos = space.cosines("caption", space.text_encoder.encode(texts))
    gold = np.array([[bool(set(t.xtopic) & lab) for t in space.topics] for lab in labels])
    assert fit_temperature(cos, gold) == pytest.approx(CALIBRATIONS["use-m3"].text, rel=0.1)


@pytest.mark.slow
def test_block_scores_fuse_as_the_weighted_mean_of_block_probabilities(space):
    te = space.text_encoder
    cap, speech = te.encode(["What a goal in the derby! #football #PremierLeague",
                             "How to grow your small business and increase your sales"])
    weights = {"caption": 0.26, "speech": 0.16, "ocr": 0.10, "language": 0.12}
    s = space.score({"caption": cap, "speech": speech, "ocr": None, "language": np.ones(3)},
                    weights)
    assert set(s.block_weights) == {"caption", "speech"}  # ocr missing, language not a topic
    assert s.block_weights["caption"] == pytest.approx(0.26 / 0.42)
    expected = (0.26 * s.block_probabilities["caption"] + 0.16 * s.block_probabilities["speech"])
    assert np.allclose(s.probabilities, expected / 0.42, atol=1e-9)
    assert s.block_top("caption")[0].id == "football"
    assert s.block_top("speech")[0].id == "business-finance"
    assert s.top.id == "football"  # the caption weighs more
    att = s.attribution()
    assert att["caption"] == pytest.approx(s.block_weights["caption"] *
                                           s.block_cosines["caption"][s.top_index], abs=1e-4)
    # the clip is about the topics select_topics keeps, likeliest first
    about = s.matched()
    assert about[0]["id"] == "football" and about == s.as_dict()["matched"]
    kept = select_topics(s.probabilities)
    assert [m["id"] for m in about] == [s.topics[i].id for i in np.argsort(-s.probabilities)
                                        if kept[i]]
    # nothing to score: uniform, no top topic
    empty = space.score({"caption": None}, weights)
    assert empty.top is None and empty.ranking() == [] and empty.matched() == []


def test_an_audio_encoder_with_a_text_side_scores_the_sound_against_topic_sounds(space):
    """Plumbing only (CLAP weights cannot be had offline): a stand-in audio model whose
    text side counts sound words checks that topic ``sounds`` reach the audio block."""
    from interestmap.encoders.base import AudioEncoder, EncoderInfo, l2_normalize
    from interestmap.topics.calibration import CLIP_TEMPERATURE

    words = ("crowd", "whistle", "sizzling", "barking", "guitar", "keyboard", "rain", "engine")

    class WordAudio(AudioEncoder):
        @property
        def info(self) -> EncoderInfo:
            return EncoderInfo("word-audio", "test", len(words), "audio")

        def encode(self, items, *, batch_size=8, show_progress=False):
            return np.zeros((len(items), len(words)), dtype=np.float32)

        @property
        def has_text_side(self) -> bool:
            return True

        def encode_text(self, texts):
            return l2_normalize(np.array([[t.lower().count(w) + 0.01 for w in words]
                                          for t in texts], dtype=np.float32))

    audio_space = TopicSpace(space.topics, space.text_encoder, audio_encoder=WordAudio())
    assert audio_space.scorable("audio") and not space.scorable("audio")
    assert not audio_space.scorable("visual") and not audio_space.scorable("language")
    assert audio_space.temperature("audio") == CLIP_TEMPERATURE
    stadium = WordAudio().encode_text(["crowd cheering and a referee whistle"])[0]
    s = audio_space.score({"audio": stadium}, {"audio": 0.06})
    assert list(s.block_weights) == ["audio"]
    assert s.top.id in ("football", "sports")
    with pytest.raises(ConfigError, match="cannot be scored"):
        space.vectors_for("audio")
