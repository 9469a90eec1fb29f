"""Declared topics as vectors, in the space of each block that can be compared with them.

How a clip is scored against declared topics (measured numbers in the docstrings):

- Text-space blocks (caption, on-screen text, speech) are compared with one vector per
  topic: its "name. description" and the mean of its example posts, averaged
  (:func:`embed_topics`), and with the topic's nearest example posts
  (:func:`embed_topic_examples`, :func:`nearest_example_cosines`): a post's score for a
  topic blends its cosine with the topic vector and its mean cosine with the
  :data:`NEAREST_EXAMPLES` example posts of that topic closest to it.
- Visual semantics (ImageNet labels of the frames, embedded as "a photo of a ...") is
  compared with the topic's ``visuals`` words phrased the same way
  (:func:`embed_topic_visuals`); with an image or audio encoder that has a text side
  (CLIP, CLAP) the ``visual`` / ``audio`` blocks are compared with the topic's
  ``visuals`` / ``sounds`` words encoded by that model's text tower.
- Audio semantics (YAMNet's AudioSet names of the sound track, embedded as "the sound
  of ...") is compared with the topic's ``sounds`` words phrased the same way
  (:func:`embed_topic_sounds_text`).
- Each block's cosines become probabilities by a softmax with a temperature fitted
  once per encoder (:data:`~interestmap.topics.calibration.CALIBRATIONS`), and the
  blocks are fused by the fusion-weighted mean of their probabilities over the blocks
  the clip has, so a block that disagrees takes its share away from the top topic.

Vectors are built once per process for a set of topics and an encoder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from interestmap.encoders.base import l2_normalize
from interestmap.topics.catalog import Topic

EXAMPLES_WEIGHT = 1.0
"""Weight of the example-posts mean against the "name. description" vector.

Measured on X-Topic test sets (atlas topics mapped to X-Topic labels, use-m3, top-1
accuracy en / es / ja): name+description alone 0.54 / 0.46 / 0.39; examples alone
0.62 / 0.55 / 0.45; equal mix 0.62 / 0.56 / 0.44; mix with weight 2 0.63 / 0.56 / 0.45.
The equal mix keeps a topic with one or two examples from being only its examples.
"""


NEAREST_EXAMPLES = 5
"""How many of a topic's example posts closest to a post count in its nearest-examples
score (:func:`nearest_example_cosines`)."""

NEAREST_WEIGHT = 0.5
"""Weight of the nearest-examples score against the topic-vector cosine (the score is
``(cos + w * nearest) / (1 + w)``; 0 turns it off).

A topic's example posts cover several sub-themes (a match, a transfer, a fan's heartbreak);
their mean sits between them, and a post close to one of them is far from the mean. Chosen
on X-Topic's train + validation tweets (200 per language, never its test tweets; default
encoder, temperature refitted on en_train each time, multi-label rule): macro-F1 change
en / es / gr / ja against the topic vector alone +0.013 / +0.026 / +0.011 / -0.005 (mean
+0.011, paired bootstrap sd 0.005) at 5 examples and weight 0.5; 3 or 7 examples and
weights 0.75-1 gave mean +0.006 to +0.014 with English flat and Japanese -0.006 to
-0.017. On the test tweets, scored once afterwards: 0.524 / 0.421 / 0.339 / 0.459 ->
0.533 / 0.432 / 0.336 / 0.456. ``benchmarks/README.md`` ("The nearest example posts") has
the grid."""


def topic_prompt(topic: Topic) -> str:
    """The main sentence a topic is embedded as: "Name. Description" (or just the name)."""
    desc = topic.description.strip()
    return topic.name if not desc or desc == topic.name else f"{topic.name}. {desc}"


def topic_phrasings(topic: Topic) -> list[str]:
    """The phrasings a topic's name and description are embedded as (their mean is used).

    The bare name, "Name. Description" and a post-like "A post about name: description".
    Measured with use-m3+e5-small (``benchmarks/topic_accuracy.py``): on X-Topic with only
    the 19 topic names, macro-F1 en/es/ja 0.402/0.319/0.338 with the bare name and
    0.410/0.336/0.366 with the mean of phrasings like these; on the held-out multilingual
    set (topics with a name and a description) 0.95 -> 0.97 in English.
    """
    desc = topic.description.strip()
    about = topic.name[:1].lower() + topic.name[1:] if topic.name[1:2].islower() else topic.name
    out = [topic.name, topic_prompt(topic),
           f"A post about {about}: {desc}" if desc and desc != topic.name
           else f"A post about {about}"]
    return list(dict.fromkeys(out))


def visual_phrases(topic: Topic) -> list[str]:
    """What a topic looks like, phrased as the visual-semantics bridge phrases labels."""
    from interestmap.encoders.semantics import label_texts

    if topic.visuals:
        return label_texts(topic.visuals)
    return label_texts([topic_prompt(topic).replace(". ", ": ", 1)])


def sound_phrases(topic: Topic) -> list[str]:
    """What a topic sounds like, as prompts for an audio-text model (CLAP), phrased as the
    audio-semantics bridge phrases sound names ("the sound of dog barking")."""
    from interestmap.encoders.semantics import SOUND_TEMPLATE, label_texts

    return label_texts(topic.sounds or [topic.name], SOUND_TEMPLATE)


_vectors: dict[tuple[Any, ...], np.ndarray] = {}
_vectors_lock = threading.RLock()  # builds may use other cached parts


def _topics_key(topics: Sequence[Topic]) -> tuple[Any, ...]:
    return tuple((t.id, t.name, t.description, tuple(t.examples), tuple(t.visuals),
                  tuple(t.sounds)) for t in topics)


def _cached(kind: str, topics: Sequence[Topic], encoder: Any, build: Any) -> np.ndarray:
    """Topic vectors of one kind, built once per process for these topics and encoder."""
    key = (kind, repr(encoder.info), _topics_key(topics))
    with _vectors_lock:
        if key not in _vectors:
            _vectors[key] = np.asarray(build(), dtype=np.float32)
        return _vectors[key]


def _phrase_means(kind: str, topics: Sequence[Topic], encoder: Any,
                  phrases_of: Callable[[Topic], list[str]],
                  encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """``(n_topics, d)`` each topic's mean vector over its phrases, cached per encoder."""
    def build() -> np.ndarray:
        phrases = [phrases_of(t) for t in topics]
        vecs = encode([p for ps in phrases for p in ps])
        return mean_per_topic(vecs, [len(ps) for ps in phrases])

    return _cached(kind, topics, encoder, build)


def mean_per_topic(vecs: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    """Row ``k``: the unit mean of the next ``counts[k]`` rows of ``vecs``."""
    out, start = [], 0
    for n in counts:
        out.append(l2_normalize(vecs[start:start + n].mean(axis=0)))
        start += n
    return np.stack(out) if out else np.zeros((0, vecs.shape[1]), dtype=np.float32)


def _text_parts(topics: Sequence[Topic], text_encoder: Any) -> np.ndarray:
    """Unit vectors of every topic's phrasings, then of every topic's examples, in topic
    order (one encoder call, cached per process)."""
    def build() -> np.ndarray:
        flat = [p for t in topics for p in topic_phrasings(t)]
        examples = [e for t in topics for e in t.examples]
        return l2_normalize(text_encoder.encode(flat + examples))

    return _cached("text-parts", topics, text_encoder, build)


def embed_topics(topics: Sequence[Topic], text_encoder: Any, *,
                 examples_weight: float = EXAMPLES_WEIGHT) -> np.ndarray:
    """``(n_topics, d)`` unit vectors in the text space: the mean of each topic's
    phrasings (:func:`topic_phrasings`) and the mean of its examples (weighted by
    ``examples_weight``), averaged."""
    def build() -> np.ndarray:
        counts = [len(topic_phrasings(t)) for t in topics]
        vecs = _text_parts(topics, text_encoder)
        out = mean_per_topic(vecs[:sum(counts)], counts).copy()
        start = sum(counts)
        for k, t in enumerate(topics):
            n = len(t.examples)
            if n:
                out[k] = out[k] + examples_weight * l2_normalize(vecs[start:start + n].mean(axis=0))
            start += n
        return l2_normalize(out)

    if examples_weight != EXAMPLES_WEIGHT:
        return build()
    return _cached("text", topics, text_encoder, build)


def embed_topic_examples(topics: Sequence[Topic], text_encoder: Any) -> np.ndarray:
    """``(n_examples, d)`` unit vectors of every topic's example posts, topic by topic in
    the order of ``topics`` (``[len(t.examples) for t in topics]`` rows each)."""
    n_phrasings = sum(len(topic_phrasings(t)) for t in topics)
    return _text_parts(topics, text_encoder)[n_phrasings:]


def nearest_example_cosines(example_cosines: np.ndarray, counts: Sequence[int],
                            k: int = NEAREST_EXAMPLES) -> np.ndarray:
    """``(n, n_topics)`` per post and topic, the mean of its ``k`` highest cosines with the
    topic's examples (all of them when it has fewer; NaN when it has none).

    ``example_cosines`` is ``(n, n_examples)`` with the examples in the layout of
    :func:`embed_topic_examples`, ``counts[j]`` examples for topic ``j``.
    """
    cos = np.atleast_2d(np.asarray(example_cosines, dtype=np.float64))
    out = np.full((cos.shape[0], len(counts)), np.nan)
    start = 0
    for j, n in enumerate(counts):
        if n:
            part = cos[:, start:start + n]
            top = part if n <= k else np.partition(part, n - k, axis=1)[:, n - k:]
            out[:, j] = top.mean(axis=1)
        start += n
    return out


def blend_nearest(cos: np.ndarray, near: np.ndarray, weight: float = NEAREST_WEIGHT
                  ) -> np.ndarray:
    """Topic-vector cosines blended with nearest-example cosines (from
    :func:`nearest_example_cosines`): ``(cos + w * near) / (1 + w)``, ``cos`` alone where a
    topic has no examples (``near`` is NaN)."""
    return np.where(np.isnan(near), cos, (cos + weight * near) / (1.0 + weight))


def embed_topic_visuals(topics: Sequence[Topic], text_encoder: Any) -> np.ndarray:
    """``(n_topics, d)`` what each topic looks like, in the text space (for visual semantics).

    The mean of "a photo of a <visual>" over the topic's ``visuals`` words; topics
    without them fall back to "a photo of a <name>: <description>". Measured on 180
    scene photos (top-1 topic among the plausible ones, use-m3 + efficientnet-lite0):
    visuals words 0.81, the name-and-description fallback 0.26, the text topic vectors
    0.11 (every photo lands on "Photography" there).
    """
    return _phrase_means("visual-text", topics, text_encoder, visual_phrases,
                         text_encoder.encode)


def embed_topic_visuals_clip(topics: Sequence[Topic], image_encoder: Any) -> np.ndarray:
    """``(n_topics, d_image)`` topic visuals through an image encoder's text side (CLIP)."""
    return _phrase_means("visual-image", topics, image_encoder, visual_phrases,
                         image_encoder.encode_text)


def embed_topic_sounds_text(topics: Sequence[Topic], text_encoder: Any) -> np.ndarray:
    """``(n_topics, d)`` what each topic sounds like, in the text space (for audio semantics).

    The mean of "the sound of <sound>" over the topic's ``sounds`` words (its name when it
    has none), phrased as the YAMNet bridge phrases AudioSet names, so "the sound of dog
    barking" (Pets) meets a clip heard as "the sound of bark".
    """
    return _phrase_means("sound-text", topics, text_encoder, sound_phrases,
                         text_encoder.encode)


def embed_topic_sounds(topics: Sequence[Topic], audio_encoder: Any) -> np.ndarray:
    """``(n_topics, d_audio)`` topic sounds through an audio encoder's text side (CLAP)."""
    return _phrase_means("sound-audio", topics, audio_encoder, sound_phrases,
                         audio_encoder.encode_text)

