"""Declared topics as vectors, in the space of each block that can be compared with them.

How a clip is scored against declared topics (measured numbers in the docstrings):

- Text-space blocks (caption, on-screen text, speech) are compared with one vector per
  topic: its "name. description" and the mean of its example posts, averaged
  (:func:`embed_topics`).
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
_vectors_lock = threading.Lock()


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


def embed_topics(topics: Sequence[Topic], text_encoder: Any, *,
                 examples_weight: float = EXAMPLES_WEIGHT) -> np.ndarray:
    """``(n_topics, d)`` unit vectors in the text space: the mean of each topic's
    phrasings (:func:`topic_phrasings`) and the mean of its examples (weighted by
    ``examples_weight``), averaged."""
    def build() -> np.ndarray:
        phrasings = [topic_phrasings(t) for t in topics]
        flat = [p for ps in phrasings for p in ps]
        examples = [e for t in topics for e in t.examples]
        vecs = text_encoder.encode(flat + examples)
        out = mean_per_topic(l2_normalize(vecs[:len(flat)]), [len(ps) for ps in phrasings]).copy()
        start = len(flat)
        for k, t in enumerate(topics):
            n = len(t.examples)
            if n:
                out[k] = out[k] + examples_weight * l2_normalize(vecs[start:start + n].mean(axis=0))
            start += n
        return l2_normalize(out)

    if examples_weight != EXAMPLES_WEIGHT:
        return build()
    return _cached("text", topics, text_encoder, build)


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

