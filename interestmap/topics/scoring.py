"""Scoring clips and texts against declared topics: which topics, how sure, which block.

Each block's cosines become probabilities by a softmax with its calibrated temperature;
the blocks are fused by the fusion-weighted mean of their probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from scipy.special import softmax

from interestmap.encoders.base import l2_normalize
from interestmap.errors import ConfigError
from interestmap.topics.calibration import CLIP_TEMPERATURE, TopicCalibration, calibration_for
from interestmap.topics.catalog import Topic
from interestmap.topics.embed import (
    NEAREST_EXAMPLES,
    NEAREST_WEIGHT,
    blend_nearest,
    embed_topic_examples,
    embed_topic_sounds,
    embed_topic_sounds_text,
    embed_topic_visuals,
    embed_topic_visuals_clip,
    embed_topics,
    nearest_example_cosines,
)

MATCH_MIN_PROBABILITY = 0.15
"""A post is about every declared topic it gives at least this probability (and always
about its top one): posts are often about two or three things at once ("Sunday long run,
then brunch with the family").

Chosen on X-Topic's train and validation tweets (800 real posts in en/es/gr/ja, 1.9
labels each), never its test tweets: zero-shot macro-F1 through the atlas, mean of the
four languages, 0.399 with the top topic alone, 0.420 / 0.428 / 0.425 / 0.421 at 0.12 /
0.15 / 0.18 / 0.20; with the 19 label names as topics 0.313 alone, 0.355 at 0.15. On the
test tweets, scored once afterwards: en / es / gr / ja 0.499 / 0.393 / 0.302 / 0.430
(top topic only 0.444 / 0.402 / 0.266 / 0.382). With the atlas's Spanish and Japanese
examples and its new X-Topic mapping (re-swept: no setting better by more than 0.003)
0.524 / 0.421 / 0.339 / 0.459; with the nearest examples in the text scores (re-swept:
still the best, train + validation mean 0.465) 0.533 / 0.432 / 0.336 / 0.456.
``benchmarks/topic_accuracy.py --sweep`` prints the grid."""

MATCH_MAX_TOPICS = 3
"""At most this many topics per post (the same sweep: at most 2, 3 or 5 give the same
mean)."""


def select_topics(probabilities: np.ndarray, *,
                  min_probability: float = MATCH_MIN_PROBABILITY,
                  max_topics: int = MATCH_MAX_TOPICS) -> np.ndarray:
    """Which topics each post is about: a boolean mask shaped like ``probabilities``.

    ``probabilities`` is ``(n_topics,)`` for one post or ``(n, n_topics)``; per post the
    mask holds its top topic and every other topic with at least ``min_probability``,
    at most ``max_topics`` of them, likeliest first.
    """
    if not 0.0 <= float(min_probability) <= 1.0:
        raise ConfigError(f"min_probability must be between 0 and 1, got {min_probability}")
    if int(max_topics) < 1:
        raise ConfigError(f"max_topics must be at least 1, got {max_topics}")
    p = np.asarray(probabilities, dtype=np.float64)
    rows = np.atleast_2d(p)
    mask = np.zeros(rows.shape, dtype=bool)
    if rows.size == 0:
        return mask.reshape(p.shape)
    order = np.argsort(-rows, axis=1, kind="stable")[:, :int(max_topics)]
    keep = np.take_along_axis(rows, order, axis=1) >= float(min_probability)
    keep[:, 0] = True
    np.put_along_axis(mask, order, keep, axis=1)
    return mask.reshape(p.shape)


SOUND_TEMPERATURE_RATIO = 1.64
"""Softmax temperature of audio semantics (sound names against the topics' ``sounds``),
as a multiple of the encoder's visual-semantics temperature (both are label bridges).
Fitted (:func:`~interestmap.topics.calibration.fit_temperature`) on the dev half of ESC-50:
119 real sounds whose class belongs to an atlas topic (dog -> Pets & animals, rain ->
Nature & outdoors, crying baby -> Parenting, ...), default text encoder: 0.0236, i.e.
1.64 x its visual temperature 0.0144; top-1 topic right for 0.65 of them."""


# Scoring -------------------------------------------------------------------------------
@dataclass
class TopicScores:
    """Declared-topic probabilities of one clip: fused, and per block.

    ``block_weights`` are the fusion weights of the scored blocks the clip has,
    normalised to sum to 1; ``sources`` says per block whether a trained classifier was
    blended in.
    """

    topics: list[Topic]
    probabilities: np.ndarray
    block_probabilities: dict[str, np.ndarray] = field(default_factory=dict)
    block_cosines: dict[str, np.ndarray] = field(default_factory=dict)
    block_weights: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def top_index(self) -> int | None:
        return int(np.argmax(self.probabilities)) if self.block_weights else None

    @property
    def top(self) -> Topic | None:
        i = self.top_index
        return None if i is None else self.topics[i]

    def ranking(self, k: int = 5, block: str | None = None) -> list[dict[str, Any]]:
        """The ``k`` likeliest topics (fused, or of one block): id, name, probability."""
        p = self.probabilities if block is None else self.block_probabilities.get(block)
        if p is None or not self.block_weights:
            return []
        order = np.argsort(-p)[:k]
        return [{"id": self.topics[i].id, "name": self.topics[i].name,
                 "probability": round(float(p[i]), 4)} for i in order]

    def matched(self, *, min_probability: float = MATCH_MIN_PROBABILITY,
                max_topics: int = MATCH_MAX_TOPICS) -> list[dict[str, Any]]:
        """The topics the clip is about (:func:`select_topics`), likeliest first: id,
        name, probability. Empty when nothing in the clip could be scored."""
        if not self.block_weights:
            return []
        p = self.probabilities
        mask = select_topics(p, min_probability=min_probability, max_topics=max_topics)
        return [{"id": self.topics[i].id, "name": self.topics[i].name,
                 "probability": round(float(p[i]), 4)}
                for i in np.argsort(-p, kind="stable") if mask[i]]

    def block_top(self, block: str) -> tuple[Topic, float] | None:
        """A block's own top topic and its probability (None if the block was not scored)."""
        p = self.block_probabilities.get(block)
        if p is None:
            return None
        i = int(np.argmax(p))
        return self.topics[i], float(p[i])

    def attribution(self, topic_index: int | None = None) -> dict[str, float]:
        """Each block's share in the clip's match with a topic (the top one by default):
        ``weight * cosine``, the same convention as audience attribution (they sum to the
        weighted mean cosine)."""
        i = self.top_index if topic_index is None else topic_index
        if i is None:
            return {}
        return {b: round(float(w * self.block_cosines[b][i]), 4)
                for b, w in self.block_weights.items()}

    def as_dict(self, k: int = 5) -> dict[str, Any]:
        return {
            "top": self.ranking(k),
            "matched": self.matched(),
            "blocks": {b: {"weight": round(w, 4), "source": self.sources.get(b, "zero-shot"),
                           "top": self.ranking(3, block=b)}
                       for b, w in self.block_weights.items()},
            "attribution": self.attribution(),
        }


class TopicSpace:
    """Declared topics embedded for one set of encoders, ready to score clips and texts.

    ``image_encoder`` / ``audio_encoder`` are only used when they have a text side
    (CLIP / CLAP); visual and audio semantics and every text block need only the text
    encoder. Text blocks score a topic as ``(cos + w * nearest) / (1 + w)``: the cosine
    with the topic vector and the mean cosine with the topic's ``nearest_examples`` example
    posts closest to the post, ``w`` = ``nearest_weight`` (0: the topic vector alone;
    topics without examples always use it alone).
    """

    TEXT_BLOCKS: tuple[str, ...] = ("caption", "ocr", "speech")

    def __init__(self, topics: Sequence[Topic], text_encoder: Any, *,
                 image_encoder: Any = None, audio_encoder: Any = None,
                 calibration: TopicCalibration | None = None,
                 text_vectors: np.ndarray | None = None,
                 example_vectors: np.ndarray | None = None,
                 nearest_examples: int = NEAREST_EXAMPLES,
                 nearest_weight: float = NEAREST_WEIGHT) -> None:
        if not topics:
            raise ConfigError("no declared topics to score against")
        if int(nearest_examples) < 1:
            raise ConfigError(f"nearest_examples must be at least 1, got {nearest_examples}")
        if not float(nearest_weight) >= 0.0:
            raise ConfigError(f"nearest_weight must be 0 or more, got {nearest_weight}")
        self.nearest_examples = int(nearest_examples)
        self.nearest_weight = float(nearest_weight)
        self.topics = list(topics)
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.audio_encoder = audio_encoder
        self._calibration = calibration
        if text_vectors is not None:
            tv = np.asarray(text_vectors, dtype=np.float32)
            if tv.shape != (len(self.topics), text_encoder.info.dim):
                raise ConfigError(f"topic vectors of shape {tv.shape} do not fit "
                                  f"{len(self.topics)} topics of {text_encoder.info.dim}-d")
            self.__dict__["text_vectors"] = l2_normalize(tv)
        if example_vectors is not None:
            ev = np.asarray(example_vectors, dtype=np.float32)
            n = sum(len(t.examples) for t in self.topics)
            if ev.shape != (n, text_encoder.info.dim):
                raise ConfigError(f"example vectors of shape {ev.shape} do not fit the "
                                  f"{n} examples of these topics in {text_encoder.info.dim}-d")
            self.__dict__["example_vectors"] = l2_normalize(ev)

    @classmethod
    def for_encoder(cls, topics: Sequence[Topic], encoder: Any,
                    text_vectors: np.ndarray | None = None,
                    example_vectors: np.ndarray | None = None) -> TopicSpace:
        """The topic space of a :class:`~interestmap.encoders.pipeline.ClipEncoder`'s encoders
        (``text_vectors`` / ``example_vectors``: the topic and example-post vectors an
        index already stores, if any)."""
        return cls(topics, encoder.text, image_encoder=encoder.image,
                   audio_encoder=encoder.audio, text_vectors=text_vectors,
                   example_vectors=example_vectors)

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.topics]

    @cached_property
    def calibration(self) -> TopicCalibration:
        return self._calibration or calibration_for(self.text_encoder)

    @cached_property
    def text_vectors(self) -> np.ndarray:
        return embed_topics(self.topics, self.text_encoder)

    @cached_property
    def example_vectors(self) -> np.ndarray:
        """``(n_examples, d)`` the topics' example posts, topic by topic (as an index
        stores them, else encoded on first use)."""
        return embed_topic_examples(self.topics, self.text_encoder)

    def _text_cosines(self, v: np.ndarray) -> np.ndarray:
        cos = v @ self.text_vectors.T
        counts = [len(t.examples) for t in self.topics]
        if self.nearest_weight == 0 or not any(counts):
            return cos
        near = nearest_example_cosines(v @ self.example_vectors.T, counts,
                                       self.nearest_examples)
        return blend_nearest(cos, near, self.nearest_weight).astype(cos.dtype)

    def scorable(self, block: str) -> bool:
        """Whether a block can be compared with declared topics at all."""
        if block in self.TEXT_BLOCKS or block in ("visual_semantics", "audio_semantics"):
            return True
        if block == "visual":
            return bool(self.image_encoder is not None and self.image_encoder.has_text_side)
        if block == "audio":
            return bool(self.audio_encoder is not None and self.audio_encoder.has_text_side)
        return False

    def vectors_for(self, block: str) -> np.ndarray:
        """The topic vectors a block is compared with."""
        if block in self.TEXT_BLOCKS:
            return self.text_vectors
        if block == "visual_semantics":
            return embed_topic_visuals(self.topics, self.text_encoder)
        if block == "audio_semantics":
            return embed_topic_sounds_text(self.topics, self.text_encoder)
        if block == "visual" and self.scorable("visual"):
            return embed_topic_visuals_clip(self.topics, self.image_encoder)
        if block == "audio" and self.scorable("audio"):
            return embed_topic_sounds(self.topics, self.audio_encoder)
        raise ConfigError(f"the '{block}' block cannot be scored against declared topics")

    def temperature(self, block: str) -> float:
        if block in self.TEXT_BLOCKS:
            return self.calibration.text
        if block == "visual_semantics":
            return self.calibration.visual
        if block == "audio_semantics":
            return self.calibration.visual * SOUND_TEMPERATURE_RATIO
        return CLIP_TEMPERATURE

    def cosines(self, block: str, vectors: np.ndarray) -> np.ndarray:
        """``(n, n_topics)`` cosines of block vectors with the topics (for the text
        blocks, blended with the nearest examples' cosines: see the class docstring)."""
        v = l2_normalize(np.atleast_2d(np.asarray(vectors, dtype=np.float32)))
        if block in self.TEXT_BLOCKS:
            return self._text_cosines(v)
        return v @ self.vectors_for(block).T

    def proba(self, block: str, vectors: np.ndarray, classifier: Any = None) -> np.ndarray:
        """``(n, n_topics)`` calibrated probabilities of block vectors; a trained
        ``classifier`` (see classifier.py) is blended in for the text blocks."""
        cos = np.asarray(self.cosines(block, vectors), dtype=np.float64)
        p = softmax(cos / self.temperature(block), axis=1)
        if classifier is not None and block in self.TEXT_BLOCKS:
            p = classifier.blend_with(p, vectors, self.ids)
        return p

    def proba_texts(self, texts: Sequence[str], classifier: Any = None,
                    batch_size: int = 64) -> np.ndarray:
        """``(n, n_topics)`` probabilities of texts read as captions."""
        vecs = self.text_encoder.encode(list(texts), batch_size=batch_size)
        return self.proba("caption", vecs, classifier)

    def score(self, blocks: Mapping[str, np.ndarray | None], weights: Mapping[str, float],
              classifier: Any = None) -> TopicScores:
        """Score one clip's blocks: per block, and fused over the blocks it has.

        The fused probabilities are the ``weights``-weighted mean of the blocks'
        probabilities over the scored blocks the clip has (a linear opinion pool): a
        block that says another topic takes its share away from the top topic. (A
        geometric mean was tried first: one very sure caption then outvoted speech and
        visuals that both disagreed, 0.97 for the caption's topic.)
        """
        present = {b: np.asarray(v, dtype=np.float32) for b, v in blocks.items()
                   if v is not None and self.scorable(b) and weights.get(b, 0) > 0
                   and np.any(v)}
        n = len(self.topics)
        if not present:
            return TopicScores(self.topics, np.full(n, 1.0 / n))
        total = sum(float(weights[b]) for b in present)
        probs, cos, bw, src = {}, {}, {}, {}
        acc = np.zeros(n, dtype=np.float64)
        for b, v in present.items():
            cos[b] = self.cosines(b, v)[0]
            probs[b] = self.proba(b, v, classifier)[0]
            bw[b] = float(weights[b]) / total
            src[b] = ("zero-shot + classifier" if classifier is not None
                      and b in self.TEXT_BLOCKS else "zero-shot")
            acc += bw[b] * probs[b]
        return TopicScores(self.topics, acc / acc.sum(), probs, cos, bw, src)
