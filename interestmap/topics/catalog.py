"""Declared topics: the interests a creator wants a clip to reach.

The shipped default is an atlas of ~35 Instagram/TikTok-style topics
(``interestmap/data/topics.yaml``). Users can bring their own as YAML (same schema) or as
a plain text file, one topic per line.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from interestmap.errors import ConfigError

# =====================================================================================
# Loading topics
# =====================================================================================

XTOPIC_LABELS: tuple[str, ...] = (
    "arts & culture", "business & entrepreneurs", "celebrity & pop culture",
    "diaries & daily life", "family", "fashion & style", "film tv & video",
    "fitness & health", "food & dining", "gaming", "learning & educational", "music",
    "news & social concern", "other hobbies", "relationships", "science & technology",
    "sports", "travel & adventure", "youth & student life",
)
"""The 19 topics of the X-Topic (TweetTopic-XL) data set, spelled as its README does.

Its ``topics`` field writes them in title case ("Film, TV & Video"), its columns with
underscores ("film_tv_&_video"); :func:`xtopic_label` maps both to these.
"""

TOPIC_FIELDS: tuple[str, ...] = ("id", "name", "description", "examples", "xtopic",
                                 "sounds", "visuals")


@dataclass
class Topic:
    """One declared topic.

    ``description`` is one plain sentence (what zero-shot scoring embeds); ``examples``
    are short posts on the topic; ``sounds`` and ``visuals`` are words typical of its
    audio and pictures; ``xtopic`` names the matching X-Topic labels, for evaluation.
    """

    id: str
    name: str
    description: str = ""
    examples: list[str] = field(default_factory=list)
    xtopic: list[str] = field(default_factory=list)
    sounds: list[str] = field(default_factory=list)
    visuals: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in TOPIC_FIELDS}


def default_topics_path() -> Path:
    """Path of the shipped declared-topic atlas (YAML)."""
    return Path(str(resources.files("interestmap").joinpath("data/topics.yaml")))


def slugify(name: str) -> str:
    """A topic id from its name: "Cooking & recipes" -> "cooking-recipes", "Футбол" -> "футбол"."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn").casefold()
    text = text.replace("&", " ").replace("'", "")
    return re.sub(r"[\W_]+", "-", text).strip("-")


def xtopic_label(label: str) -> str | None:
    """Any spelling of an X-Topic label ("Film, TV & Video", "film_tv_&_video") -> canonical."""
    key = re.sub(r"[\s_,]+", " ", label.casefold()).strip()
    return key if key in XTOPIC_LABELS else None


def load_topics(source: str | Path | None = None) -> list[Topic]:
    """Declared topics from the shipped atlas (None), a YAML file or a plain text file.

    YAML: a list of topics, or a mapping with a ``topics:`` list; each topic a mapping
    with ``name`` (required) and optionally ``id`` (derived from the name when absent),
    ``description``, ``examples``, ``xtopic``, ``sounds``, ``visuals``. A topic may also be
    a bare string (its name). Text: one topic per line, ``Name`` or ``Name: description``;
    blank lines and ``#`` comments are skipped. Files ending in .yaml/.yml/.json are
    read as YAML, anything else as text.

    Raises :class:`ConfigError` with a one-line reason (file missing, bad YAML with its
    line, no topics, a topic without a name, duplicate ids, unknown fields).
    """
    path = default_topics_path() if source is None else Path(source).expanduser()
    where = "the shipped topic atlas" if source is None else f"topics file {str(path)!r}"
    if not path.is_file():
        raise ConfigError(f"{where} not found: give a .yaml or .txt file of topics")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{where} is not UTF-8 text: save it as UTF-8 and try again") from None
    except OSError as e:
        raise ConfigError(f"cannot read {where}: {e.strerror or e}") from None
    if path.suffix.lower() in (".yaml", ".yml", ".json"):
        entries = _entries_from_yaml(text, where)
    else:
        entries = _entries_from_text(text)
    if not entries:
        raise ConfigError(f"{where} has no topics: write one topic per line "
                          "(Name or Name: description), or a YAML list of topics")
    topics = [_topic(raw, line, where) for raw, line in entries]
    _check_unique(topics, [line for _, line in entries], where)
    return topics


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records the line of each mapping (as ``__line__``)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _entries_from_yaml(text: str, where: str) -> list[tuple[Any, int]]:
    try:
        doc = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{where} is not valid YAML{at} ({problem}): check the quotes, "
                          "brackets and indentation there") from None
    if doc is None:
        return []
    if isinstance(doc, dict):
        if "topics" not in doc:
            raise ConfigError(f"{where} has no 'topics:' list: write a YAML list of topics, "
                              "or put them under 'topics:'")
        doc = doc["topics"] or []
    if not isinstance(doc, list):
        raise ConfigError(f"{where}: 'topics' must be a list of topics, got "
                          f"{type(doc).__name__}")
    out = []
    for i, item in enumerate(doc):
        line = item.get("__line__", 0) if isinstance(item, dict) else 0
        out.append((item, line or i + 1))
    return out


def _entries_from_text(text: str) -> list[tuple[Any, int]]:
    out: list[tuple[Any, int]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, description = line.partition(":")
        entry: dict[str, Any] = {"name": name.strip()}
        if sep and description.strip():
            entry["description"] = description.strip()
        out.append((entry, line_no))
    return out


def _str_list(value: Any, key: str, label: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",") if key in ("sounds", "visuals", "xtopic") else [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise ConfigError(f"{label}: '{key}' must be a list of texts")
    return [str(v).strip() for v in value if str(v).strip()]


def _topic(raw: Any, line: int, where: str) -> Topic:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}, topic at line {line}: expected a name or a mapping with "
                          f"'name', got {type(raw).__name__}")
    raw = {k: v for k, v in raw.items() if k != "__line__"}
    label = f"{where}, topic at line {line}"
    unknown = sorted(str(k) for k in raw if k not in TOPIC_FIELDS)
    if unknown:
        raise ConfigError(f"{label}: unknown field(s) {unknown}; fields are "
                          f"{', '.join(TOPIC_FIELDS)}")
    name = raw.get("name")
    if not isinstance(name, str | int | float) or not str(name).strip():
        raise ConfigError(f"{label} has no name: give every topic a 'name'")
    name = str(name).strip()
    label = f"{where}, topic {name!r} (line {line})"
    topic_id = str(raw.get("id") or "").strip() or slugify(name)
    if not topic_id:
        raise ConfigError(f"{label}: cannot make an id from its name; give it an 'id'")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise ConfigError(f"{label}: 'description' must be one sentence of text")
    xtopic = []
    for x in _str_list(raw.get("xtopic"), "xtopic", label):
        canonical = xtopic_label(x)
        if canonical is None:
            raise ConfigError(f"{label}: unknown X-Topic label {x!r}; use one of "
                              f"{', '.join(XTOPIC_LABELS)}")
        xtopic.append(canonical)
    return Topic(
        id=topic_id,
        name=name,
        description=(description or "").strip() or name,
        examples=_str_list(raw.get("examples"), "examples", label),
        xtopic=xtopic,
        sounds=_str_list(raw.get("sounds"), "sounds", label),
        visuals=_str_list(raw.get("visuals"), "visuals", label),
    )


def _check_unique(topics: list[Topic], lines: list[int], where: str) -> None:
    seen: dict[str, tuple[Topic, int]] = {}
    for topic, line in zip(topics, lines, strict=True):
        if topic.id in seen:
            other, other_line = seen[topic.id]
            raise ConfigError(
                f"{where}: topics {other.name!r} (line {other_line}) and {topic.name!r} "
                f"(line {line}) have the same id {topic.id!r}: rename one or give it its own id")
        seen[topic.id] = (topic, line)


# =====================================================================================
# (zero-shot scoring and classifiers follow below)
# =====================================================================================
#
# How a clip is scored against declared topics (measured numbers in the docstrings):
#
# - Text-space blocks (caption, on-screen text, speech) are compared with one vector per
#   topic: its "name. description" and the mean of its example posts, averaged
#   (:func:`embed_topics`).
# - Visual semantics (ImageNet labels of the frames, embedded as "a photo of a ...") is
#   compared with the topic's ``visuals`` words phrased the same way
#   (:func:`embed_topic_visuals`); with an image or audio encoder that has a text side
#   (CLIP, CLAP) the ``visual`` / ``audio`` blocks are compared with the topic's
#   ``visuals`` / ``sounds`` words encoded by that model's text tower.
# - Each block's cosines become probabilities by a softmax with a temperature fitted
#   once per encoder (:data:`CALIBRATIONS`), and the blocks are fused by the
#   fusion-weighted mean of their probabilities over the blocks the clip has, so a
#   block that disagrees takes its share away from the top topic.

EXAMPLES_WEIGHT = 1.0
"""Weight of the example-posts mean against the "name. description" vector.

Measured on X-Topic test sets (atlas topics mapped to X-Topic labels, use-m3, top-1
accuracy en / es / ja): name+description alone 0.54 / 0.46 / 0.39; examples alone
0.62 / 0.55 / 0.45; equal mix 0.62 / 0.56 / 0.44; mix with weight 2 0.63 / 0.56 / 0.45.
The equal mix keeps a topic with one or two examples from being only its examples.
"""

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
        "the tweet's labels); visual: 180 scene photos (30 per folder of scenes/)")
CALIBRATIONS: dict[str, TopicCalibration] = {
    "use-m3+e5-small": TopicCalibration(
        text=0.0304, visual=0.0144,
        source=_FIT.split("; visual")[0] + "; visual: the text temperature times use-m3's "
               "visual/text ratio (0.475)"),
    "use-m3": TopicCalibration(text=0.0320, visual=0.0152, source=_FIT),
    "e5-small": TopicCalibration(text=0.00487, visual=0.00197, source=_FIT),
    "minilm-l6": TopicCalibration(text=0.0364, visual=0.0173, source=_FIT),
}
"""Softmax temperatures fitted once per shipped text encoder with :func:`fit_temperature`
against the atlas topics. Refitting use-m3 on X-Topic en_validation gives 0.031 (text);
es and ja posts give 0.019 and 0.046, so probabilities in those languages are about as
calibrated as in English. ``tests/test_topics_scoring.py`` refits and checks them."""

ATLAS_OVERCONFIDENCE = 1.8
"""Text temperature on real posts / on the atlas's own examples (leave-one-out), as
measured for use-m3 (0.0320 / 0.0178). Encoders without an entry in
:data:`CALIBRATIONS` are calibrated on the atlas and scaled by this; the ratio varies
between encoders (minilm-l6 0.85, e5-small 2.28), so that is only a rough fit."""


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
    """What a topic sounds like, as prompts for an audio-text model (CLAP)."""
    return [f"the sound of {s}" for s in (topic.sounds or [topic.name])]


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


def _unit(x: np.ndarray) -> np.ndarray:
    from interestmap.encoders.base import l2_normalize

    return l2_normalize(x)


def _phrase_means(kind: str, topics: Sequence[Topic], encoder: Any,
                  phrases_of: Callable[[Topic], list[str]],
                  encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """``(n_topics, d)`` each topic's mean vector over its phrases, cached per encoder."""
    def build() -> np.ndarray:
        phrases = [phrases_of(t) for t in topics]
        vecs = encode([p for ps in phrases for p in ps])
        return _mean_per_topic(vecs, [len(ps) for ps in phrases])

    return _cached(kind, topics, encoder, build)


def _mean_per_topic(vecs: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    out, start = [], 0
    for n in counts:
        out.append(_unit(vecs[start:start + n].mean(axis=0)))
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
        out = _mean_per_topic(_unit(vecs[:len(flat)]), [len(ps) for ps in phrasings]).copy()
        start = len(flat)
        for k, t in enumerate(topics):
            n = len(t.examples)
            if n:
                out[k] = out[k] + examples_weight * _unit(vecs[start:start + n].mean(axis=0))
            start += n
        return _unit(out)

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


def embed_topic_sounds(topics: Sequence[Topic], audio_encoder: Any) -> np.ndarray:
    """``(n_topics, d_audio)`` topic sounds through an audio encoder's text side (CLAP)."""
    return _phrase_means("sound-audio", topics, audio_encoder, sound_phrases,
                         audio_encoder.encode_text)


# Calibration ---------------------------------------------------------------------------
def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, numerically stable."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    return np.exp(log_softmax(logits))


def fit_temperature(cosines: np.ndarray, gold: np.ndarray) -> float:
    """The softmax temperature that best predicts ``gold`` from ``cosines``.

    ``cosines`` ``(n, n_topics)``; ``gold`` ``(n, n_topics)`` booleans (several true
    where an item has several right topics). Minimises the mean negative log of the
    probability given to the right topics together.
    """
    from scipy.optimize import minimize_scalar

    cos = np.asarray(cosines, dtype=np.float64)
    gold = np.asarray(gold, dtype=bool)
    keep = gold.any(axis=1)
    if not np.any(keep):
        raise ConfigError("cannot fit a temperature: no item has a right topic")
    cos, gold = cos[keep], gold[keep]

    def nll(log_t: float) -> float:
        lp = log_softmax(cos / np.exp(log_t))
        right = np.where(gold, lp, -np.inf)
        m = right.max(axis=1, keepdims=True)
        return float(-(m[:, 0] + np.log(np.exp(right - m).sum(axis=1))).mean())

    res = minimize_scalar(nll, bounds=(np.log(1e-3), np.log(2.0)), method="bounded")
    return float(np.exp(res.x))


def atlas_temperature(topics: Sequence[Topic], text_encoder: Any) -> float:
    """Text temperature fitted on the topics' own examples, leave-one-out.

    Each example is scored against topic vectors in which its own topic's example mean
    leaves it out. Examples written for a topic are clearer than real posts, so this is
    sharper than a fit on real posts; see :data:`ATLAS_OVERCONFIDENCE`.
    """
    phrasings = [topic_phrasings(t) for t in topics]
    prompts = _mean_per_topic(_unit(text_encoder.encode([p for ps in phrasings for p in ps])),
                              [len(ps) for ps in phrasings])
    full = embed_topics(topics, text_encoder)
    cos_rows, gold_rows = [], []
    for k, t in enumerate(topics):
        if len(t.examples) < 2:
            continue
        ex = _unit(text_encoder.encode(list(t.examples)))
        for j in range(len(ex)):
            rest = np.delete(ex, j, axis=0).mean(axis=0)
            vecs = full.copy()
            vecs[k] = _unit(prompts[k] + EXAMPLES_WEIGHT * _unit(rest))
            cos_rows.append(vecs @ ex[j])
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


# Which topics a post is about ------------------------------------------------------------
MATCH_MIN_PROBABILITY = 0.15
"""A post is about every declared topic it gives at least this probability (and always
about its top one): posts are often about two or three things at once ("Sunday long run,
then brunch with the family").

Chosen on X-Topic's train and validation tweets (800 real posts in en/es/gr/ja, 1.9
labels each), never its test tweets: zero-shot macro-F1 through the atlas, mean of the
four languages, 0.399 with the top topic alone, 0.420 / 0.428 / 0.425 / 0.421 at 0.12 /
0.15 / 0.18 / 0.20; with the 19 label names as topics 0.313 alone, 0.355 at 0.15. On the
test tweets, scored once afterwards: en / es / gr / ja 0.499 / 0.393 / 0.302 / 0.430
(top topic only 0.444 / 0.402 / 0.266 / 0.382). ``benchmarks/topic_accuracy.py --sweep``
prints the grid."""

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
    (CLIP / CLAP); visual semantics and every text block need only the text encoder.
    """

    TEXT_BLOCKS: tuple[str, ...] = ("caption", "ocr", "speech")

    def __init__(self, topics: Sequence[Topic], text_encoder: Any, *,
                 image_encoder: Any = None, audio_encoder: Any = None,
                 calibration: TopicCalibration | None = None,
                 text_vectors: np.ndarray | None = None) -> None:
        if not topics:
            raise ConfigError("no declared topics to score against")
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
            self.__dict__["text_vectors"] = _unit(tv)

    @classmethod
    def for_encoder(cls, topics: Sequence[Topic], encoder: Any,
                    text_vectors: np.ndarray | None = None) -> TopicSpace:
        """The topic space of a :class:`~interestmap.encoders.pipeline.ClipEncoder`'s encoders
        (``text_vectors``: the topic vectors an index already stores, if any)."""
        return cls(topics, encoder.text, image_encoder=encoder.image,
                   audio_encoder=encoder.audio, text_vectors=text_vectors)

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.topics]

    @cached_property
    def calibration(self) -> TopicCalibration:
        return self._calibration or calibration_for(self.text_encoder)

    @cached_property
    def text_vectors(self) -> np.ndarray:
        return embed_topics(self.topics, self.text_encoder)

    def scorable(self, block: str) -> bool:
        """Whether a block can be compared with declared topics at all."""
        if block in self.TEXT_BLOCKS or block == "visual_semantics":
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
        return CLIP_TEMPERATURE

    def cosines(self, block: str, vectors: np.ndarray) -> np.ndarray:
        """``(n, n_topics)`` cosines of block vectors with the topics."""
        v = _unit(np.atleast_2d(np.asarray(vectors, dtype=np.float32)))
        return v @ self.vectors_for(block).T

    def proba(self, block: str, vectors: np.ndarray, classifier: Any = None) -> np.ndarray:
        """``(n, n_topics)`` calibrated probabilities of block vectors; a trained
        ``classifier`` (see classifier.py) is blended in for the text blocks."""
        p = softmax(self.cosines(block, vectors) / self.temperature(block))
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
