"""Concrete suggestions for a clip, computed from its signals, each with its evidence.

Every rule reads what the pipeline measured (transcript and its timing, on-screen text,
languages, faces, loudness, motion, hashtags) and what the analysis found (the top
declared topic, blocks that disagree). A rule that fires gives an :class:`Advice` with
a priority; :func:`advise` returns them best first. Thresholds are module constants,
with the measurement behind each.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from interestmap.clip import EncodedClip
from interestmap.signals.language import language_name
from interestmap.topics.catalog import Topic
from interestmap.topics.scoring import TopicScores, TopicSpace

if TYPE_CHECKING:
    from interestmap.analysis.analyze import Clarity, ModalityAgreement

OPENING_S = 3.0
"""The opening a viewer decides in: the topic should be said within it."""
QUIET_DBFS = -30.0
"""Mean RMS level below which a clip sounds quiet. Normalised short videos sit around
-14 to -20 dBFS (platforms target about -14 LUFS); espeak-ng speech measures about -16."""
LOUD_DBFS = -9.0
"""Mean RMS level above which a track is close to clipping on phones."""
STATIC_MOTION = 0.005
"""Motion below this is a still picture (a photo over sound measured 0.0002; Big Buck
Bunny's gentle animation 0.023)."""
BUSY_MOTION = 0.2
"""Motion above this is a cut every fraction of a second (cuts every 0.25 s measured
0.25, every second 0.074)."""
MIN_SPEECH_SHARE = 0.2
"""A clip with at least this share of speech is a talking clip that needs subtitles."""
READABLE_SHARE = 0.5
"""On-screen text with fewer well-formed words than this share reads as garbled."""


@dataclass
class Advice:
    """One suggestion: what to do, why, and the measured evidence."""

    id: str
    priority: float
    """0-1; higher first."""
    title: str
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "priority": round(self.priority, 3), "title": self.title,
                "detail": self.detail, "evidence": self.evidence}


def advise(encoded: EncodedClip, scores: TopicScores, agreement: ModalityAgreement,
           clarity: Clarity | None = None,
           space: TopicSpace | None = None) -> list[Advice]:
    """Every suggestion that applies to the clip, highest priority first."""
    top = scores.top
    out: list[Advice] = []
    out += _nothing_said(encoded, top)
    if top is not None:
        out += _disagreeing(agreement, top)
        out += _caption(encoded, top)
        out += _opening(encoded, top, scores, space)
    out += _subtitles(encoded)
    out += _languages(encoded)
    out += _sound(encoded)
    out += _picture(encoded)
    out += _context(encoded)
    return sorted(out, key=lambda a: -a.priority)


def _has(encoded: EncodedClip, block: str) -> bool:
    return encoded.blocks.get(block) is not None


def _visual(encoded: EncodedClip) -> bool:
    return encoded.media_kind in ("video", "image", "carousel")


def _nothing_said(encoded: EncodedClip, top: Topic | None) -> list[Advice]:
    if top is not None:
        return []
    return [Advice("no_topic_signal", 0.99, "Say what the clip is about",
                   "Nothing in the clip names a topic: there is no caption, no speech, no "
                   "readable on-screen text and no visuals that could be read. Write a caption "
                   "or say the topic out loud.",
                   {"missing": dict(encoded.missing)})]


def _disagreeing(agreement: ModalityAgreement, top: Topic) -> list[Advice]:
    out = []
    for r in getattr(agreement, "blocks", []):
        if r.agrees:
            continue
        prio = 0.8 + 0.15 * r.weight * (1 - r.support)
        other = r.top_topic["name"]
        ev = {"block": r.block, "its_topic": r.top_topic, "support_for_top": round(r.support, 3),
              "contains": r.evidence}
        if r.block == "visual_semantics":
            title = f"Show {top.name} in the picture"
            detail = (f"The frames look like {other}, not {top.name}"
                      + (f" ({r.evidence})" if r.evidence else "")
                      + f": the visuals pull the clip away from people who picked {top.name}.")
        elif r.block == "audio_semantics":
            title = f"Make the sound fit {top.name}"
            detail = (f"The sound track is heard as {other}, not {top.name}"
                      + (f" (it {r.evidence})" if r.evidence else "")
                      + f": pick a sound people who chose {top.name} expect, or keep it "
                        "quiet under the talking.")
        elif r.block in ("caption", "ocr", "speech"):
            what = {"caption": "caption", "ocr": "on-screen text", "speech": "speech"}[r.block]
            verb = {"caption": "Write the caption", "ocr": "Put on-screen text",
                    "speech": "Talk"}[r.block]
            title = f"{verb} about {top.name}"
            detail = (f"The {what} is about {other}, not {top.name}"
                      + (f" (\"{r.evidence}\")" if r.evidence else "")
                      + f". Say {top.name} in every part of the clip so the platform files it "
                        "under one topic.")
        else:
            title = f"Make the {r.words} fit {top.name}"
            detail = f"The {r.words} sounds like {other}, not {top.name}."
        out.append(Advice(f"off_topic_{r.block}", prio, title, detail, ev))
    return out


def _caption(encoded: EncodedClip, top: Topic) -> list[Advice]:
    s = encoded.signals
    if not _has(encoded, "caption"):
        return [Advice("no_caption", 0.7, f"Write a caption that names {top.name}",
                       "The clip has no caption the platform can read; the caption is the "
                       "strongest single signal of the topic (it carries the largest weight).",
                       {"caption": s.caption})]
    if not s.hashtags:
        tags = suggest_hashtags(top, s.language or s.caption_language, exclude=s.caption)
        hint = (" such as " + " ".join("#" + t for t in tags)) if tags else ""
        return [Advice("no_hashtags", 0.35, f"Add 2-4 hashtags for {top.name}",
                       f"The caption has no hashtags. Hashtags that name the topic{hint} help "
                       "the platform file the clip.",
                       {"caption": s.caption, "suggested": tags})]
    return []


def suggest_hashtags(topic: Topic, language: str | None, exclude: str = "",
                     n: int = 3) -> list[str]:
    """The topic's most used hashtags in its examples, in ``language`` first."""
    from interestmap.signals.hashtags import parse_hashtags
    from interestmap.signals.language import detect_language

    have = set(parse_hashtags(exclude))
    local, every = Counter(), Counter()
    for ex in topic.examples:
        tags = parse_hashtags(ex)
        every.update(tags)
        if language and detect_language(ex)[0] == language:
            local.update(tags)
    out: list[str] = []
    for counter in (local, every):
        for tag, _ in counter.most_common():
            if tag not in have and tag not in out:
                out.append(tag)
            if len(out) >= n:
                return out
    return out


def _opening(encoded: EncodedClip, top: Topic, scores: TopicScores,
             space: TopicSpace | None) -> list[Advice]:
    s = encoded.signals
    segs = [(float(a), float(b), str(t)) for a, b, t in s.speech_segments if str(t).strip()]
    if encoded.media_kind not in ("video", "audio") or not segs or not talks(encoded):
        return []
    first = min(a for a, _, _ in segs)
    if first > OPENING_S:
        return [Advice("topic_late", 0.55, f"Start talking within {OPENING_S:.0f} seconds",
                       f"The first words come at {first:.1f} s; most viewers decide in the first "
                       f"{OPENING_S:.0f} seconds. Open by saying {top.name}.",
                       {"first_words_s": round(first, 2)})]
    opening = " ".join(t for a, _, t in segs if a < OPENING_S).strip()
    if space is None or len(re.findall(r"\w+", opening)) < 3:
        return []
    p = space.proba_texts([opening])[0]
    top_i = scores.top_index
    own = int(np.argmax(p))
    support = float(p[top_i] / max(p[own], 1e-12)) if top_i is not None else 1.0
    if own == top_i or support >= 0.5:
        return []
    return [Advice("topic_not_in_opening", 0.55,
                   f"Say {top.name} in the first {OPENING_S:.0f} seconds",
                   f"The opening words (\"{opening[:80]}\") read as {space.topics[own].name}, "
                   f"not {top.name}. Name the topic up front.",
                   {"opening": opening, "opening_topic": space.topics[own].name,
                    "support_for_top": round(support, 3)})]


def readable_share(text: str) -> float:
    """Share of on-screen tokens that look like words (2+ letters, not mixed with
    symbols): low for garbled OCR."""
    tokens = [t for t in re.split(r"\s+", text or "") if t]
    if not tokens:
        return 0.0
    good = sum(1 for t in tokens
               if sum(ch.isalpha() for ch in t) >= 2
               and sum(ch.isalnum() for ch in t) >= 0.8 * len(t.strip(".,!?:;\"'()«»")))
    return good / len(tokens)


def talks(encoded: EncodedClip) -> bool:
    """Whether the clip has real speech: a transcript of 3+ words, or (without a
    transcript, e.g. ASR off) at least :data:`MIN_SPEECH_SHARE` of speech-like sound."""
    s = encoded.signals
    words = len(re.findall(r"\w+", s.transcript or ""))
    if words >= 3:
        return True
    return not (s.transcript or "").strip() and (s.speech_share or 0) >= MIN_SPEECH_SHARE


def _subtitles(encoded: EncodedClip) -> list[Advice]:
    s = encoded.signals
    if encoded.media_kind != "video":
        return []
    speaks = talks(encoded)
    if s.ocr_text.strip():
        share = readable_share(s.ocr_text)
        if share < READABLE_SHARE or not _has(encoded, "ocr"):
            return [Advice("ocr_unreadable", 0.5, "Make the on-screen text readable",
                           f"Text was found on screen but only {share:.0%} of it reads as words "
                           "(\"" + s.ocr_text.replace(chr(10), " / ")[:60] + "\"). Use larger, "
                           "high-contrast letters with an outline, away from busy backgrounds.",
                           {"ocr_text": s.ocr_text, "readable_share": round(share, 3)})]
        return []
    if speaks and "ocr" in encoded.missing:
        share = s.speech_share
        return [Advice("no_subtitles", 0.6, "Add burned-in subtitles",
                       (f"{share:.0%} of the clip is speech" if share is not None
                        else "The clip has speech") + " but no on-screen text was found. Many "
                       "people watch with the sound off, and subtitles give the platform a "
                       "second text signal of the topic.",
                       {"speech_share": share, "ocr_text": ""})]
    if not speaks and encoded.signals.loudness_dbfs is not None:
        return [Advice("no_words", 0.4, "Say or write what the clip is about",
                       "Nothing is said and there is no on-screen text: only the caption and "
                       "the picture tell the platform the topic. A voice-over or a title "
                       "naming the topic adds a second signal.",
                       {"speech_share": s.speech_share, "ocr_text": ""})]
    return []


def _languages(encoded: EncodedClip) -> list[Advice]:
    s = encoded.signals
    out = []
    if s.caption_language and s.speech_language and s.caption_language != s.speech_language:
        out.append(Advice(
            "caption_speech_language", 0.5,
            f"Write the caption in {language_name(s.speech_language)}",
            f"The caption is in {language_name(s.caption_language)} but the speech is in "
            f"{language_name(s.speech_language)}. Platforms show a clip to people of one "
            "language; mixed signals split its reach.",
            {"caption_language": s.caption_language, "speech_language": s.speech_language}))
    if s.caption_language and s.ocr_language and s.caption_language != s.ocr_language \
            and _has(encoded, "ocr"):
        out.append(Advice(
            "caption_text_language", 0.35,
            "Use one language for the caption and the on-screen text",
            f"The caption is in {language_name(s.caption_language)}, the on-screen text in "
            f"{language_name(s.ocr_language)}.",
            {"caption_language": s.caption_language, "ocr_language": s.ocr_language}))
    return out


def _sound(encoded: EncodedClip) -> list[Advice]:
    level = encoded.signals.loudness_dbfs
    if level is None or level <= -90:
        return []
    if level < QUIET_DBFS:
        return [Advice("too_quiet", 0.45, "Turn the sound up",
                       f"The track averages {level:.0f} dBFS; well-mixed short videos sit "
                       f"around -14 to -20 dBFS, so this will sound faint next to them.",
                       {"loudness_dbfs": round(level, 1), "quiet_below": QUIET_DBFS})]
    if level > LOUD_DBFS:
        return [Advice("too_loud", 0.4, "Turn the sound down",
                       f"The track averages {level:.0f} dBFS, close to clipping; it will "
                       "sound harsh and platforms will turn it down.",
                       {"loudness_dbfs": round(level, 1), "loud_above": LOUD_DBFS})]
    return []


def _picture(encoded: EncodedClip) -> list[Advice]:
    s = encoded.signals
    out = []
    if _visual(encoded) and s.faces and int(s.faces.get("frames", 0)) > 0 and \
            int(s.faces.get("frames_with_faces", 0)) == 0:
        out.append(Advice("no_face", 0.25, "Show a face",
                          f"No face was seen in any of the {s.faces['frames']} frames looked at. "
                          "A person on screen, above all in the first frame, makes people stop "
                          "scrolling.", {"faces": dict(s.faces)}))
    if encoded.media_kind == "video" and s.motion is not None:
        if s.motion < STATIC_MOTION:
            out.append(Advice("too_static", 0.3, "Add movement or cuts",
                              f"The picture barely changes (motion {s.motion:.3f}; a still photo "
                              "is about 0). Cut between shots or move the camera every few "
                              "seconds.", {"motion": round(s.motion, 4),
                                           "static_below": STATIC_MOTION}))
        elif s.motion > BUSY_MOTION:
            out.append(Advice("too_busy", 0.3, "Slow the cuts down",
                              f"The picture changes very fast (motion {s.motion:.2f}, like a cut "
                              "every quarter second); give each shot a moment so the topic "
                              "can be seen.", {"motion": round(s.motion, 4),
                                               "busy_above": BUSY_MOTION}))
    return out


def _context(encoded: EncodedClip) -> list[Advice]:
    out = []
    if "language" in encoded.missing:
        out.append(Advice("no_language", 0.2, "Set the clip's language",
                          "The language could not be told; platforms use it to pick whose feed "
                          "a clip reaches. Give it (e.g. --language en) or write a longer caption.",
                          {"missing": encoded.missing.get("language")}))
    if "geo" in encoded.missing:
        out.append(Advice("no_geo", 0.15, "Add a location",
                          "No location given: a place helps the clip reach people nearby.",
                          {"missing": encoded.missing.get("geo")}))
    return out
