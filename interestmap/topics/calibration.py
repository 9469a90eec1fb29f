"""Topic-score calibration: the softmax temperatures that turn cosines into probabilities."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from interestmap.encoders.base import l2_normalize
from interestmap.errors import ConfigError
from interestmap.topics.catalog import Topic, load_topics
from interestmap.topics.embed import (
    EXAMPLES_WEIGHT,
    NEAREST_EXAMPLES,
    NEAREST_WEIGHT,
    blend_nearest,
    embed_topic_examples,
    embed_topics,
    mean_per_topic,
    nearest_example_cosines,
    topic_phrasings,
)

CLIP_TEMPERATURE = 0.01
"""Softmax temperature of CLIP/CLAP image- or audio-to-text cosines: the inverse of the
logit scale such models are trained with (100)."""


@dataclass(frozen=True)
class TopicCalibration:
    """Softmax temperatures that turn a text encoder's cosines into probabilities.

    ``text``: caption, on-screen text and speech against topic vectors; ``visual``:
    visual semantics against topic visuals. ``source`` says how they were fitted.
    """

    text: float
    visual: float
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "visual": self.visual, "source": self.source}


_FIT = ("text: X-Topic en_train (180 real tweets; right = an atlas topic mapped to one of "
        "the tweet's labels), scored with the nearest examples (weight 0.5 of 5); visual: "
        "180 scene photos (30 per folder of scenes/)")
CALIBRATIONS: dict[str, TopicCalibration] = {
    "use-m3+e5-small": TopicCalibration(
        text=0.0272, visual=0.0144,
        source=_FIT.split("; visual")[0] + "; visual: use-m3's visual/text ratio (0.475) "
               "times the text temperature of the topic vectors alone (0.0304)"),
    "use-m3": TopicCalibration(text=0.0294, visual=0.0152, source=_FIT),
    "e5-small": TopicCalibration(text=0.0048, visual=0.00197, source=_FIT),
    "minilm-l6": TopicCalibration(text=0.0316, visual=0.0173, source=_FIT),
}
"""Softmax temperatures fitted once per shipped text encoder with :func:`fit_temperature`
against the atlas topics, text scored as :class:`~interestmap.topics.scoring.TopicSpace`
scores it (topic vectors blended with the nearest examples). With the topic vectors alone
the same fit gives 0.0319 / 0.0348 / 0.0052 / 0.0359 on today's atlas (0.0304 / 0.0320 /
0.00487 / 0.0364 were fitted on the atlas before its Spanish and Japanese examples).
Refitting use-m3 on X-Topic en_validation gave 0.031 (text); es and ja posts 0.019 and
0.046, so probabilities in those languages are about as calibrated as in English.
``tests/test_topics_scoring.py`` refits and checks them."""

ATLAS_OVERCONFIDENCE = 0.96
"""Text temperature on real posts / on the atlas's own examples (leave-one-out), as
measured for use-m3 with the nearest-examples scoring (0.0294 / 0.0306; it was 1.8 with
the topic vectors alone and the atlas before its casual posts). Encoders without an entry
in :data:`CALIBRATIONS` are calibrated on the atlas and scaled by this; the ratio varies
between encoders (the default 1.03, minilm-l6 0.78, e5-small 1.23), so that is only a
rough fit."""

def fit_temperature(cosines: np.ndarray, gold: np.ndarray) -> float:
    """The softmax temperature that best predicts ``gold`` from ``cosines``.

    ``cosines`` ``(n, n_topics)``; ``gold`` ``(n, n_topics)`` booleans (several true
    where an item has several right topics). Minimises the mean negative log of the
    probability given to the right topics together.
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax, logsumexp

    cos = np.asarray(cosines, dtype=np.float64)
    gold = np.asarray(gold, dtype=bool)
    keep = gold.any(axis=1)
    if not np.any(keep):
        raise ConfigError("cannot fit a temperature: no item has a right topic")
    cos, gold = cos[keep], gold[keep]

    def nll(log_t: float) -> float:
        lp = log_softmax(cos / np.exp(log_t), axis=1)
        return float(-logsumexp(np.where(gold, lp, -np.inf), axis=1).mean())

    res = minimize_scalar(nll, bounds=(np.log(1e-3), np.log(2.0)), method="bounded")
    return float(np.exp(res.x))


def atlas_temperature(topics: Sequence[Topic], text_encoder: Any) -> float:
    """Text temperature fitted on the topics' own examples, leave-one-out.

    Each example is scored as a post is (:class:`~interestmap.topics.scoring.TopicSpace`:
    topic vectors blended with the nearest examples) with itself left out: of its own
    topic's example mean and of the examples it could be nearest to. Examples written for
    a topic are clearer than real posts, so this is sharper than a fit on real posts; see
    :data:`ATLAS_OVERCONFIDENCE`.
    """
    phrasings = [topic_phrasings(t) for t in topics]
    prompts = mean_per_topic(l2_normalize(text_encoder.encode([p for ps in phrasings for p in ps])),
                              [len(ps) for ps in phrasings])
    full = embed_topics(topics, text_encoder)
    examples = embed_topic_examples(topics, text_encoder)
    counts = [len(t.examples) for t in topics]
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    w = NEAREST_WEIGHT
    cos_rows, gold_rows = [], []
    for k in range(len(topics)):
        if counts[k] < 2:
            continue
        ex = examples[starts[k]:starts[k + 1]]
        for j in range(len(ex)):
            rest = np.delete(ex, j, axis=0).mean(axis=0)
            vecs = full.copy()
            vecs[k] = l2_normalize(prompts[k] + EXAMPLES_WEIGHT * l2_normalize(rest))
            cos = vecs @ ex[j]
            if w > 0:
                others = np.delete(examples, starts[k] + j, axis=0) @ ex[j]
                left = list(counts)
                left[k] -= 1
                near = nearest_example_cosines(others[None, :], left, NEAREST_EXAMPLES)[0]
                cos = blend_nearest(cos, near, w)
            cos_rows.append(cos)
            gold_rows.append(np.arange(len(topics)) == k)
    if not cos_rows:
        raise ConfigError("cannot calibrate topic scores: no topic has two or more examples")
    return fit_temperature(np.stack(cos_rows), np.stack(gold_rows))


_calibration_lock = threading.Lock()


def calibration_for(text_encoder: Any) -> TopicCalibration:
    """The temperatures for ``text_encoder``: the shipped fit for a known encoder, else a
    fit on the atlas examples corrected by :data:`ATLAS_OVERCONFIDENCE` (a few seconds,
    once per process)."""
    name = text_encoder.info.name
    with _calibration_lock:
        if name not in CALIBRATIONS:
            t_text = atlas_temperature(load_topics(), text_encoder) * ATLAS_OVERCONFIDENCE
            ref = CALIBRATIONS.get("use-m3")
            ratio = ref.visual / ref.text if ref else 1.0
            CALIBRATIONS[name] = TopicCalibration(
                text=t_text, visual=t_text * ratio,
                source="fitted at run time on the atlas examples (leave-one-out), scaled "
                       "by the atlas-to-real-posts ratio measured for use-m3")
        return CALIBRATIONS[name]

