"""Analyse a clip before posting: declared topics, clarity, audiences, modality agreement.

:func:`analyze` encodes a clip with an index's encoders and reads it three ways:

- declared topics, per block and fused (``topics.TopicSpace``), with a trained
  classifier blended in where the index has one;
- the nearest audiences of the index, with per-block attribution;
- topic clarity 0-100 (:class:`Clarity`) and which block drives the match and which
  disagrees (:class:`ModalityAgreement`), then ranked advice (``advice.py``).

The app, the API and ``interestmap analyze`` all call :func:`analyze`; what-if
(``whatif.py``) re-reads edited variants with :func:`analyze_encoded`.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from interestmap.clip import Clip, EncodedClip
from interestmap.errors import ConfigError
from interestmap.index.results import AudienceMatch, ClipMatch, NearestResult
from interestmap.topics.catalog import Topic, load_topics
from interestmap.topics.scoring import TopicScores, TopicSpace

if TYPE_CHECKING:
    from interestmap.analysis.advice import Advice
    from interestmap.analysis.whatif import Variant
    from interestmap.encoders.fusion import FusionLayout
    from interestmap.encoders.pipeline import ClipEncoder
    from interestmap.index.interest_index import InterestIndex
    from interestmap.topics.classifier import TopicClassifier

BLOCK_WORDS: dict[str, str] = {
    "caption": "caption", "ocr": "on-screen text", "speech": "speech",
    "visual": "picture", "visual_semantics": "visuals", "audio": "sound texture",
    "audio_semantics": "sound (what it sounds like)", "language": "language",
    "geo": "location",
}
"""How each block is named to a creator."""

RECOGNITION_SLOPE = 0.488
RECOGNITION_INTERCEPT = 0.693
"""Platt scaling from the fused top-topic probability ``p`` to the chance that the clip
is filed under a right topic: ``sigmoid(slope * logit(p) + intercept)``.

Fitted on X-Topic en_train + en_validation (200 real posts, atlas topics, use-m3,
right = the top atlas topic maps to one of the post's labels). On the 800 en_test
posts predicted 0.70 vs 0.67 observed (bins 0.47/0.61/0.77/0.92 -> 0.32/0.59/0.77/0.87);
on es and ja it is optimistic (0.68 predicted vs 0.57 and 0.49 observed). Re-measured
with the use-m3+e5-small default: en_test 0.72 predicted vs 0.73 observed, es 0.70 vs
0.65, ja 0.68 vs 0.55; a refit on the same 200 posts (slope 0.46, intercept 0.98) was
less calibrated on en_test (0.77 predicted), so these constants stay."""

CLEAR, MIXED = 70, 40
"""Clarity bands: >= 70 clear, >= 40 mixed, below unclear."""
DISAGREE_SUPPORT = 0.5
"""A block disagrees when its own top topic is another one and it gives the clip's top
topic less than half the probability of its own favourite."""


def recognition_chance(p_top: float) -> float:
    """Chance that a clip whose fused top-topic probability is ``p_top`` is recognised as
    a right topic (see :data:`RECOGNITION_SLOPE`)."""
    p = float(np.clip(p_top, 1e-6, 1 - 1e-6))
    z = RECOGNITION_SLOPE * np.log(p / (1 - p)) + RECOGNITION_INTERCEPT
    return float(1.0 / (1.0 + np.exp(-z)))


# Topic spaces and classifiers of an index, built once per process -----------------------
_spaces: weakref.WeakKeyDictionary[InterestIndex, dict[Any, TopicSpace]] = (
    weakref.WeakKeyDictionary())
_spaces_lock = threading.Lock()


def resolve_index(index: InterestIndex | str | Path | None = None) -> InterestIndex:
    """``index`` itself, an index folder opened, or the embedded default for None."""
    from interestmap.index.default import ensure_default_index
    from interestmap.index.interest_index import InterestIndex

    if index is None:
        return ensure_default_index()
    if isinstance(index, str | Path) or hasattr(index, "__fspath__"):
        return InterestIndex.open(index)  # type: ignore[arg-type]
    return index


def topic_space(index: InterestIndex, topics: Sequence[Topic] | str | None = None) -> TopicSpace:
    """The declared topics of ``index`` (or ``topics``: a list or a topics file) embedded
    with the index's encoders; cached per index."""
    if isinstance(topics, str) or hasattr(topics, "__fspath__"):
        topics = load_topics(topics)
    own = topics is None
    key = "index" if own else tuple(t.id for t in topics)  # type: ignore[union-attr]
    with _spaces_lock:
        per_index = _spaces.setdefault(index, {})
        if key not in per_index:
            enc = index.encoder
            if own:
                vecs = getattr(index, "topic_vectors", None)
                examples = getattr(index, "topic_example_vectors", None)
                per_index[key] = TopicSpace.for_encoder(list(index.topics), enc, text_vectors=vecs,
                                                        example_vectors=examples)
            else:
                per_index[key] = TopicSpace.for_encoder(list(topics), enc)  # type: ignore[arg-type]
        return per_index[key]


def index_classifier(index: InterestIndex, classifier: TopicClassifier | str | None = "auto"
                     ) -> TopicClassifier | None:
    """The classifier to blend in: ``"auto"`` = the one saved with the index (or None)."""
    if classifier == "auto":
        from interestmap.topics.classifier import load_index_classifier

        return load_index_classifier(index) if hasattr(index, "dir") else None
    return classifier  # type: ignore[return-value]


# Results ---------------------------------------------------------------------------------
@dataclass
class BlockReading:
    """What one content block says the clip is about."""

    block: str
    weight: float
    """Its share of the topic score (fusion weights over the scored blocks present)."""
    top_topic: dict[str, Any]
    """Its own favourite topic: id, name, probability."""
    support: float
    """Its probability for the clip's top topic / for its own favourite (1 = agrees)."""
    agrees: bool
    topic_contribution: float
    """``weight * cosine`` with the clip's top topic (as in :meth:`TopicScores.attribution`)."""
    audience_contribution: float | None = None
    """Its part of the similarity to the top audience (from the index)."""
    evidence: str = ""
    """What the block contains, in a few words (text excerpt, what the frames show)."""

    @property
    def words(self) -> str:
        return BLOCK_WORDS.get(self.block, self.block)

    def as_dict(self) -> dict[str, Any]:
        return {"block": self.block, "name": self.words, "weight": round(self.weight, 4),
                "top_topic": self.top_topic, "support": round(self.support, 4),
                "agrees": self.agrees, "topic_contribution": round(self.topic_contribution, 4),
                "audience_contribution": (None if self.audience_contribution is None
                                          else round(self.audience_contribution, 4)),
                "evidence": self.evidence}


@dataclass
class ModalityAgreement:
    """Which blocks agree on the clip's topic, which one drives it, which disagree."""

    top_topic: dict[str, Any] | None
    blocks: list[BlockReading]
    agreement: float
    """Weighted mean support of the scored blocks (1 = every block says the top topic)."""
    topic_driver: str | None
    """The block whose evidence most favours the top topic over the runner-up."""
    audience_driver: str | None
    """The block that contributes most to the similarity with the top audience."""
    disagreeing: list[str]
    top_topic_attribution: dict[str, float] = field(default_factory=dict)
    top_audience_attribution: dict[str, float] = field(default_factory=dict)
    summary: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"top_topic": self.top_topic, "agreement": round(self.agreement, 4),
                "topic_driver": self.topic_driver, "audience_driver": self.audience_driver,
                "disagreeing": self.disagreeing,
                "blocks": [b.as_dict() for b in self.blocks],
                "top_topic_attribution": self.top_topic_attribution,
                "top_audience_attribution": self.top_audience_attribution,
                "summary": self.summary}


@dataclass
class Clarity:
    """How clearly the clip says one declared topic, 0-100, and why.

    ``score = 100 * recognition * agreement``: ``recognition`` is the calibrated chance
    that the fused top topic is a right one (:func:`recognition_chance`), ``agreement``
    the weighted share of content blocks that say that topic
    (:attr:`ModalityAgreement.agreement`).
    """

    score: int
    band: str
    recognition: float
    agreement: float
    top_probability: float
    margin: float
    """Top-1 minus top-2 fused probability."""
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "band": self.band,
                "recognition": round(self.recognition, 4), "agreement": round(self.agreement, 4),
                "top_probability": round(self.top_probability, 4),
                "margin": round(self.margin, 4), "reason": self.reason}


@dataclass
class ClipAnalysis:
    """Everything :func:`analyze` found about one clip.

    ``clarity.score`` (0-100), ``audiences`` (the nearest, best first), ``topics``
    (declared-topic scores), ``agreement`` (which blocks agree), ``advice``; and
    :meth:`whatif` to try a change (another geo, language, caption, picture, sound).
    """

    encoded: EncodedClip
    topics: TopicScores
    nearest: NearestResult
    """:meth:`InterestIndex.nearest`: audiences (similarity, probability, attribution),
    nearest clips, and x, y on the map."""
    clarity: Clarity
    agreement: ModalityAgreement
    advice: list[Advice]
    index: str = ""
    """The index folder it was read against."""
    encoded_layout: FusionLayout | None = None
    source_index: InterestIndex | None = field(default=None, repr=False, compare=False)
    """The opened index it was read against (what :meth:`whatif` uses)."""

    @property
    def audiences(self) -> list[AudienceMatch]:
        """The nearest audiences, best first."""
        return self.nearest.audiences

    @property
    def nearest_clips(self) -> list[ClipMatch]:
        """The most similar clips of the index, best first."""
        return self.nearest.clips

    def whatif(self, *, caption: str | None = None, language: str | None = None,
               geo: str | None = None, media: str | Path | None = None,
               frames: str | Path | None = None, audio: str | Path | None = None,
               drop: str | Sequence[str] | None = None, k: int = 5) -> Variant:
        """The clip with all the given changes at once, and how far it moved
        (``.moved``), where it landed and why (see :func:`interestmap.analysis.whatif.whatif`).

        ``caption`` new text ("" removes it); ``language`` a code; ``geo`` a place;
        ``media`` a file replacing all the media; ``frames`` an image or video whose
        pictures replace the clip's; ``audio`` a file whose sound replaces the clip's;
        ``drop`` a block name or several (e.g. "visuals", "geo")."""
        from interestmap.analysis.whatif import Edit, whatif

        given = {"caption": caption, "language": language, "geo": geo, "media": media,
                 "frames": frames, "audio": audio}
        edits = [Edit(kind, str(value)) for kind, value in given.items() if value is not None]
        drops = [drop] if isinstance(drop, str) else list(drop or ())
        edits += [Edit("drop", d) for d in drops]
        if not edits:
            raise ConfigError("no change given: e.g. whatif(geo=\"Madrid\"), "
                              "whatif(language=\"es\"), whatif(caption=\"...\")")
        index = self.source_index if self.source_index is not None else self.index or None
        return whatif(self, [edits], index, k=k).variants[0]

    def as_dict(self, k: int = 5) -> dict[str, Any]:
        """JSON-ready (what ``interestmap analyze --json`` prints)."""
        from interestmap.encoders.pipeline import describe

        layout = self.encoded_layout
        enc = describe(self.encoded, layout) if layout is not None else {}
        return {
            "index": self.index,
            "clip": {"id": self.encoded.clip.id, "media": enc.get("media", []),
                     "media_kind": self.encoded.media_kind,
                     "blocks": {b: v["present"] for b, v in enc.get("blocks", {}).items()},
                     "missing": dict(self.encoded.missing),
                     "signals": enc.get("signals", {}), "notes": list(self.encoded.notes)},
            "clarity": self.clarity.as_dict(),
            "topics": self.topics.as_dict(k),
            "modalities": self.agreement.as_dict(),
            "audiences": [a.as_dict() for a in self.nearest.audiences],
            "nearest_clips": [c.as_dict() for c in self.nearest.clips],
            "map": {"x": self.nearest.x, "y": self.nearest.y},
            "advice": [a.as_dict() for a in self.advice],
        }


# Analysis ---------------------------------------------------------------------------------
def analyze(clip: Clip | EncodedClip, index: InterestIndex | str | Path | None = None, *,
            topics: Sequence[Topic] | str | None = None,
            classifier: TopicClassifier | str | None = "auto",
            k: int = 5, k_clips: int = 5, ocr: bool = True, asr: bool = True,
            max_advice: int = 6) -> ClipAnalysis:
    """Encode ``clip`` with the index's encoders (None: the embedded default index) and
    analyse it. ``topics`` replaces the index's declared topics; ``classifier`` is
    ``"auto"`` (the index's saved one, if any), None (zero-shot only) or a
    :class:`~interestmap.topics.classifier.TopicClassifier`."""
    index = resolve_index(index)
    if isinstance(clip, EncodedClip):
        encoded = clip
    else:
        encoded = encoder_for(index, ocr=ocr, asr=asr).encode(clip)
    return analyze_encoded(encoded, index, topics=topics, classifier=classifier, k=k,
                           k_clips=k_clips, max_advice=max_advice)


def encoder_for(index: InterestIndex, *, ocr: bool = True, asr: bool = True) -> ClipEncoder:
    """The index's ClipEncoder, or a twin with OCR / ASR switched off (same models)."""
    enc = index.encoder
    if enc.ocr == ocr and enc.asr == asr:
        return enc
    from interestmap.encoders.pipeline import ClipEncoder

    return ClipEncoder(text_encoder=enc.text_encoder, image_encoder=enc.image_encoder,
                       audio_encoder=enc.audio_encoder, weights=enc.weights, ocr=ocr, asr=asr,
                       max_frames=enc.max_frames, max_duration_s=enc.max_duration_s)


def analyze_encoded(encoded: EncodedClip, index: InterestIndex | str | Path | None = None, *,
                    topics: Sequence[Topic] | str | None = None,
                    classifier: TopicClassifier | str | None = "auto",
                    k: int = 5, k_clips: int = 5, max_advice: int = 6) -> ClipAnalysis:
    """Analyse an already encoded clip (see :func:`analyze`)."""
    from interestmap.analysis.advice import advise

    index = resolve_index(index)
    space = topic_space(index, topics)
    # the index's saved classifier knows the index's topics, not a replacement list
    clf = index_classifier(index, None if topics is not None and classifier == "auto"
                           else classifier)
    weights = index.layout.weights
    scores = space.score(topic_blocks(encoded), weights, clf)
    if np.any(encoded.fused):
        near = index.nearest(encoded.fused, k=k, k_clips=k_clips)
    else:
        near = NearestResult()
    agreement = modality_agreement(encoded, scores, near, space)
    clarity = topic_clarity(scores, agreement)
    advice = advise(encoded, scores, agreement, clarity, space)[:max_advice]
    return ClipAnalysis(encoded=encoded, topics=scores, nearest=near, clarity=clarity,
                        agreement=agreement, advice=advice, index=str(getattr(index, "dir", "")),
                        encoded_layout=index.layout, source_index=index)


MIN_TOPIC_WORDS: dict[str, int] = {"speech": 3, "ocr": 2}
"""Fewer words than this and a transcript or on-screen text says nothing about a topic
("Hmm", "Oh yeah", a stray OCR token): the block stays in the fused vector but is not
read for declared topics. (Big Buck Bunny's "Hmm" was read as Comedy & memes.)"""


def topic_blocks(encoded: EncodedClip) -> dict[str, Any]:
    """The clip's blocks as read for declared topics (see :data:`MIN_TOPIC_WORDS`)."""
    texts = {"speech": encoded.signals.transcript, "ocr": encoded.signals.ocr_text}
    out = dict(encoded.blocks)
    for b, n in MIN_TOPIC_WORDS.items():
        if out.get(b) is not None and len(re.findall(r"\w+", texts[b] or "")) < n:
            out[b] = None
    return out


def modality_agreement(encoded: EncodedClip, scores: TopicScores, near: NearestResult,
                       space: TopicSpace | None = None) -> ModalityAgreement:
    """Per content block: its own top topic, its support for the clip's top topic, its
    part of the match with the top topic and the top audience; who drives, who disagrees."""
    top_i = scores.top_index
    aud = near.audiences[0] if near.audiences else None
    aud_attr = dict(aud.attribution) if aud else {}
    if top_i is None:
        return ModalityAgreement(None, [], 0.0, None, _driver(aud_attr), [],
                                 top_audience_attribution=aud_attr,
                                 summary="Nothing in the clip says what it is about: no caption, "
                                         "speech, on-screen text or visuals could be read.")
    top = scores.topics[top_i]
    runner = int(np.argsort(-scores.probabilities)[1]) if len(scores.topics) > 1 else top_i
    topic_attr = scores.attribution(top_i)
    readings, evidence_for = [], {}
    for b, w in scores.block_weights.items():
        p = scores.block_probabilities[b]
        own = int(np.argmax(p))
        support = float(p[top_i] / max(p[own], 1e-12))
        agrees = own == top_i or support >= DISAGREE_SUPPORT
        evidence_for[b] = w * float(np.log(max(p[top_i], 1e-12)) - np.log(max(p[runner], 1e-12)))
        readings.append(BlockReading(
            block=b, weight=w,
            top_topic={"id": scores.topics[own].id, "name": scores.topics[own].name,
                       "probability": round(float(p[own]), 4)},
            support=support, agrees=agrees, topic_contribution=topic_attr.get(b, 0.0),
            audience_contribution=aud_attr.get(b) if aud else None,
            evidence=block_evidence(encoded, b, space)))
    agreement = float(sum(r.weight * r.support for r in readings))
    disagreeing = [r.block for r in readings if not r.agrees]
    topic_driver = max(evidence_for, key=evidence_for.get) if len(readings) > 1 else readings[0].block
    result = ModalityAgreement(
        top_topic={"id": top.id, "name": top.name,
                   "probability": round(float(scores.probabilities[top_i]), 4)},
        blocks=readings, agreement=agreement, topic_driver=topic_driver,
        audience_driver=_driver(aud_attr), disagreeing=disagreeing,
        top_topic_attribution=topic_attr, top_audience_attribution=aud_attr)
    result.summary = _agreement_summary(result)
    return result


def _driver(attribution: dict[str, float]) -> str | None:
    if not attribution:
        return None
    b = max(attribution, key=lambda k: attribution[k])
    return b if attribution[b] > 0 else None


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _is(block_words: str) -> str:
    return "are" if block_words.endswith("s") and block_words != "speech" else "is"


def _agreement_summary(m: ModalityAgreement) -> str:
    top = m.top_topic["name"] if m.top_topic else "?"
    if len(m.blocks) == 1:
        return f"Only the {m.blocks[0].words} says what the clip is about ({top})."
    same = [r for r in m.blocks if r.top_topic["id"] == (m.top_topic or {}).get("id")]
    vague = [r for r in m.blocks if r.agrees and r not in same]
    off = [r for r in m.blocks if not r.agrees]
    if not vague and not off:
        who = "both" if len(same) == 2 else "all"
        return f"{_join([r.words for r in same]).capitalize()} {who} say {top}."
    if same:
        verb = "says" if len(same) == 1 else "say"
        head = f"The {_join([r.words for r in same])} {verb} {top}"
    else:
        head = f"The clip leans to {top}"
    parts = []
    if vague:
        parts.append("; " + _join([f"the {r.words} {_is(r.words)} less clear (closest to "
                                   f"{r.top_topic['name']}, but {top} fits it too)"
                                   for r in vague]))
    if off:
        parts.append(", but " + _join([f"the {r.words} {_is(r.words)} about "
                                       f"{r.top_topic['name']}" for r in off]))
    return head + "".join(parts) + "."


def topic_clarity(scores: TopicScores, agreement: ModalityAgreement) -> Clarity:
    """Topic clarity 0-100 with its reason (see :class:`Clarity` for the formula)."""
    if scores.top_index is None:
        return Clarity(0, "unclear", 0.0, 0.0, 0.0, 0.0,
                       "Unclear (0/100): nothing in the clip says what it is about. Add a "
                       "caption, speech or on-screen text that names the topic.")
    p = np.sort(scores.probabilities)[::-1]
    p1, margin = float(p[0]), float(p[0] - (p[1] if len(p) > 1 else 0.0))
    rec = recognition_chance(p1)
    agr = float(np.clip(agreement.agreement, 0.0, 1.0))
    score = int(round(100 * rec * agr))
    band = "clear" if score >= CLEAR else "mixed" if score >= MIXED else "unclear"
    top = agreement.top_topic["name"] if agreement.top_topic else "?"
    second = scores.ranking(2)[1]["name"] if len(scores.topics) > 1 else None
    why = [agreement.summary]
    if margin < 0.15 and second:
        why.append(f"It is split between {top} ({p1:.0%}) and {second} ({p[1]:.0%}).")
    why.append(f"Posts that score like this are filed under their topic about {rec:.0%} of "
               "the time" + ("." if agr > 0.95 else
                             f", and {agr:.0%} of the clip's content agrees on {top}."))
    return Clarity(score, band, rec, agr, p1, margin,
                   f"{band.capitalize()} ({score}/100): " + " ".join(why))


def block_evidence(encoded: EncodedClip, block: str, space: TopicSpace | None = None,
                   n_words: int = 12) -> str:
    """A few words saying what a block contains (a text excerpt; what the frames show)."""
    s = encoded.signals
    text = {"caption": s.caption, "ocr": s.ocr_text, "speech": s.transcript}.get(block)
    if text is not None:
        words = text.split()
        return " ".join(words[:n_words]) + (" …" if len(words) > n_words else "")
    if block == "visual_semantics" and space is not None:
        seen = seen_in_frames(encoded.blocks.get(block), space)
        return ("looks like " + ", ".join(seen)) if seen else ""
    if block == "audio_semantics" and space is not None:
        heard = heard_in_sound(encoded.blocks.get(block), space)
        return ("sounds like " + ", ".join(heard)) if heard else ""
    return ""


def heard_in_sound(vector: np.ndarray | None, space: TopicSpace, k: int = 3) -> list[str]:
    """The sound names (AudioSet's) nearest to an audio-semantics vector: what is heard."""
    def names() -> list[str]:
        from interestmap.encoders.audio_yamnet import class_names

        return class_names()

    from interestmap.encoders.pipeline import SPEECH_CLASSES
    from interestmap.encoders.semantics import SOUND_TEMPLATE

    return [n.lower() for n in _names_nearest(vector, space, names, k, SOUND_TEMPLATE,
                                              skip=SPEECH_CLASSES)]


def seen_in_frames(vector: np.ndarray | None, space: TopicSpace, k: int = 3) -> list[str]:
    """The image-class names nearest to a visual-semantics vector: what the frames show."""
    if space.image_encoder is None:
        return []

    def names() -> list[str]:
        from interestmap.encoders.semantics import readable_class_names

        return readable_class_names(space.image_encoder.class_names or [])

    from interestmap.encoders.semantics import LABEL_TEMPLATE

    return _names_nearest(vector, space, names, k, LABEL_TEMPLATE)


def _names_nearest(vector: np.ndarray | None, space: TopicSpace,
                   names: Callable[[], list[str]], k: int, template: str,
                   skip: Sequence[str] = ()) -> list[str]:
    """The ``k`` class names (phrased with ``template``) nearest to a label-bridge vector,
    leaving out ``skip``; none when there is no vector or the names cannot be had."""
    if vector is None:
        return []
    try:
        from interestmap.encoders.semantics import class_name_vectors

        labels = names()
        if not labels:
            return []
        sims = class_name_vectors(space.text_encoder, labels, template) @ np.asarray(
            vector, np.float32)
    except Exception:  # noqa: BLE001 - evidence is a nicety; the analysis stands without it
        return []
    order = [i for i in np.argsort(-sims) if labels[i] not in skip]
    return [labels[i] for i in order[:k]]
