"""What-if: edit a clip (caption, language, geo, frames, audio, a block removed) and see
how far it moves, where it lands, and which blocks explain the move.

Only what an edit changes is re-encoded: a geo edit re-encodes the geo block, a caption
edit the caption (and the language, when it was read from the caption), a new image
the visual blocks and the on-screen text, a new audio track the sound, the speech and
its transcript. Everything else is the original clip's signals and vectors.

The distance moved in the fused space splits exactly into per-block parts
(:func:`distance_by_block`), and the change of each block's part in the similarity to
an audience (attribution delta) says why the clip moved towards or away from it. The
map shows what clips are about (their text view), so language and geo edits move a
clip between audiences without moving it on the map.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from interestmap.analysis.analyze import (
    BLOCK_WORDS,
    ClipAnalysis,
    analyze,
    analyze_encoded,
    encoder_for,
    resolve_index,
)
from interestmap.clip import Clip, EncodedClip, Signals
from interestmap.encoders.fusion import BLOCKS
from interestmap.errors import ConfigError

if TYPE_CHECKING:
    from interestmap.encoders.fusion import Fuser
    from interestmap.encoders.pipeline import ClipEncoder
    from interestmap.index.interest_index import InterestIndex

EDIT_KINDS: tuple[str, ...] = ("caption", "language", "geo", "media", "frames", "audio", "drop")
"""``caption`` text; ``language`` code; ``geo`` place; ``media`` a file replacing all the
media; ``frames`` an image or video whose pictures replace the clip's; ``audio`` a file
whose sound replaces the clip's; ``drop`` a block name (or ``visuals`` / ``sound`` for
both visual / both sound blocks)."""

DROP_ALIASES: dict[str, tuple[str, ...]] = {
    "visuals": ("visual", "visual_semantics"), "picture": ("visual", "visual_semantics"),
    "on-screen-text": ("ocr",), "text": ("ocr",), "sound": ("audio", "audio_semantics"),
    "location": ("geo",),
}


@dataclass(frozen=True)
class Edit:
    """One change to a clip."""

    kind: str
    value: str = ""

    def __post_init__(self) -> None:
        if self.kind not in EDIT_KINDS:
            raise ConfigError(f"unknown edit {self.kind!r}; edits are {', '.join(EDIT_KINDS)}")
        if self.kind != "caption" and not str(self.value).strip():
            raise ConfigError(f"the {self.kind} edit needs a value")
        if self.kind == "drop":
            drop_blocks(self.value)

    def describe(self) -> str:
        v = str(self.value)
        if self.kind == "caption":
            return f"caption -> {v if len(v) <= 60 else v[:57] + '...'!r}" if v else "caption removed"
        if self.kind == "drop":
            return "without the " + ", ".join(BLOCK_WORDS.get(b, b) for b in drop_blocks(v))
        if self.kind in ("media", "frames", "audio"):
            what = {"media": "media", "frames": "picture", "audio": "sound"}[self.kind]
            return f"{what} -> {Path(v).name}"
        return f"{self.kind} -> {v}"

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "value": str(self.value), "description": self.describe()}


def drop_blocks(name: str) -> tuple[str, ...]:
    """The blocks a ``drop`` edit removes; :class:`ConfigError` for an unknown name."""
    key = str(name).strip().lower().replace(" ", "-")
    if key in DROP_ALIASES:
        return DROP_ALIASES[key]
    key = key.replace("-", "_")
    if key in BLOCKS:
        return (key,)
    raise ConfigError(f"cannot drop {name!r}: name a block ({', '.join(BLOCKS)}) or "
                      f"{', '.join(DROP_ALIASES)}")


# Applying edits ----------------------------------------------------------------------------
def apply_edits(encoded: EncodedClip, edits: Sequence[Edit],
                index: InterestIndex | str | Path | None = None, *,
                ocr: bool = True, asr: bool = True) -> EncodedClip:
    """A copy of ``encoded`` with ``edits`` applied, re-encoding only what they change."""
    from interestmap.encoders.pipeline import _meaningful, caption_text
    from interestmap.signals.hashtags import parse_hashtags
    from interestmap.signals.language import detect_language, normalize_language, resolve_language

    index = resolve_index(index)
    enc = encoder_for(index, ocr=ocr, asr=asr)
    clip = copy.deepcopy(encoded.clip)
    sig = copy.deepcopy(encoded.signals)
    blocks = dict(encoded.blocks)
    missing = dict(encoded.missing)
    media_kind = encoded.media_kind
    notes = list(encoded.notes)
    speech_trusted = sig.language_source == "speech"
    relanguage = False

    def set_text_block(block: str, text: str, reason: str) -> None:
        if _meaningful(text):
            blocks[block] = enc.text.encode([text])[0]
            missing.pop(block, None)
        else:
            blocks[block] = None
            missing[block] = reason

    for e in edits:
        if e.kind == "caption":
            clip.caption = sig.caption = str(e.value)
            sig.hashtags = parse_hashtags(sig.caption)
            sig.caption_language = detect_language(sig.caption)[0]
            set_text_block("caption", caption_text(sig.caption), "no caption")
            relanguage = True
        elif e.kind == "language":
            clip.language = normalize_language(e.value)
            relanguage = True
        elif e.kind == "geo":
            from interestmap.signals.geo import resolve_geo

            point = resolve_geo(e.value)
            clip.geo, sig.geo = str(e.value), point
            v = enc.geo_encoder.encode([point])[0] if point is not None else None
            blocks["geo"] = v if v is not None and np.any(v) else None
            if blocks["geo"] is None:
                missing["geo"] = f"geo {e.value!r} not recognised"
            else:
                missing.pop("geo", None)
        elif e.kind in ("media", "frames", "audio"):
            media_kind, trusted = _swap_media(e, enc, clip, sig, blocks, missing, media_kind,
                                              ocr=ocr, asr=asr)
            notes.append(f"what-if: {e.describe()}")
            if trusted is not None:
                speech_trusted = trusted
                relanguage = True
    if relanguage:
        sig.language, sig.language_source = resolve_language(
            clip.language, sig.transcript, sig.speech_language, 1.0 if speech_trusted else 0.0,
            sig.caption_language, sig.ocr_language)
        v = enc.language_encoder.encode([sig.language])[0] if sig.language else None
        blocks["language"] = v if v is not None and np.any(v) else None
        if blocks["language"] is None:
            missing["language"] = "language unknown: give --language or a longer caption"
        else:
            missing.pop("language", None)
    for e in edits:
        if e.kind == "drop":
            for b in drop_blocks(e.value):
                blocks[b] = None
                missing[b] = "removed in this what-if"
    blocks = {b: blocks.get(b) for b in BLOCKS}
    fused = index.fuser.transform([blocks])[0]
    return EncodedClip(clip=clip, signals=sig, blocks=blocks, fused=fused,
                       media_kind=media_kind, missing={b: r for b, r in missing.items()
                                                       if blocks.get(b) is None},
                       notes=notes, timings_s={})


_PICTURE_SIGNALS = ("ocr_text", "ocr_language", "faces", "motion")
_SOUND_SIGNALS = ("transcript", "speech_segments", "speech_language", "speech_share",
                  "music_share", "silence_share", "loudness_dbfs")


def _swap_media(e: Edit, enc: ClipEncoder, clip: Clip, sig: Signals,
                blocks: dict[str, np.ndarray | None],
                missing: dict[str, str], media_kind: str, *, ocr: bool,
                asr: bool) -> tuple[str, bool | None]:
    """Encode the new file and take the picture side, the sound side, or both from it.

    Returns the new media kind and, when the sound changed, whether its speech decides
    the language (else None)."""
    from interestmap.encoders.pipeline import ClipEncoder

    path = Path(str(e.value)).expanduser()
    want_picture = e.kind in ("media", "frames")
    want_sound = e.kind in ("media", "audio")
    side = ClipEncoder(text_encoder=enc.text, image_encoder=enc.image, audio_encoder=enc.audio,
                       weights=enc.weights, ocr=ocr and want_picture, asr=asr and want_sound,
                       max_frames=enc.max_frames, max_duration_s=enc.max_duration_s)
    new = side.encode(Clip.of(path, language=clip.language))
    has_picture = new.media_kind in ("video", "image", "carousel")
    has_sound = new.signals.loudness_dbfs is not None
    if e.kind == "frames" and not has_picture:
        raise ConfigError(f"{path.name} has no pictures: give an image or a video to replace "
                          "the clip's frames")
    if e.kind == "audio" and not has_sound:
        raise ConfigError(f"{path.name} has no sound track: give an audio file or a video "
                          "with sound")
    picture_blocks = ("visual", "visual_semantics", "ocr")
    sound_blocks = ("audio", "audio_semantics", "speech")
    take = (picture_blocks if want_picture else ()) + (sound_blocks if want_sound else ())
    for b in take:
        blocks[b] = new.blocks.get(b)
        if blocks[b] is None:
            missing[b] = new.missing.get(b, "missing")
        else:
            missing.pop(b, None)
    if want_picture:
        for f in _PICTURE_SIGNALS:
            setattr(sig, f, copy.deepcopy(getattr(new.signals, f)))
    trusted = None
    if want_sound:
        for f in _SOUND_SIGNALS:
            setattr(sig, f, copy.deepcopy(getattr(new.signals, f)))
        trusted = new.signals.language_source == "speech"
    if e.kind == "media":
        clip.media = [path]
        return new.media_kind, trusted
    if e.kind == "frames":
        return ("video" if sig.loudness_dbfs is not None else new.media_kind), trusted
    has_picture_now = media_kind in ("video", "image", "carousel")
    return ("video" if has_picture_now else "audio"), trusted


# Measuring the move -------------------------------------------------------------------------
def distance_by_block(a: np.ndarray, b: np.ndarray, fuser: Fuser) -> dict[str, float]:
    """Each block's exact part of ``1 - cos(a, b)`` between two fused vectors.

    With ``W`` the total weight of the blocks present, ``1 - a.b`` equals the sum over
    blocks of ``(w/W_a [a has it] + w/W_b [b has it]) / 2 - w / sqrt(W_a W_b) * cos``
    (the last term where both have it): a changed block contributes ``w/W (1 - cos)``,
    a removed one its half share, and the blocks left get the small re-weighting rest.
    """
    layout = fuser.layout_
    pa, pb = fuser.presence(a)[0], fuser.presence(b)[0]
    wa = sum(layout.weights[x] for x, p in zip(BLOCKS, pa, strict=True) if p)
    wb = sum(layout.weights[x] for x, p in zip(BLOCKS, pb, strict=True) if p)
    sims = fuser.block_similarities(np.atleast_2d(a), np.atleast_2d(b))[0, 0]
    out = {}
    for i, blk in enumerate(BLOCKS):
        w = layout.weights[blk]
        part = 0.5 * ((w / wa if pa[i] else 0.0) + (w / wb if pb[i] else 0.0))
        if pa[i] and pb[i]:
            part -= w / np.sqrt(wa * wb) * float(sims[i])
        out[blk] = round(float(part), 5)
    return out


@dataclass
class AudienceMove:
    """How one audience's match with the clip changed with an edit."""

    id: int
    label: str
    similarity_before: float
    similarity_after: float
    change: float
    """``similarity_after - similarity_before``."""
    rank_before: int
    """Its rank among the audiences before the edit (1 = the nearest)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (an item of a variant's ``audiences`` in ``POST /v1/whatif``)."""
        return {"id": self.id, "label": self.label,
                "similarity_before": self.similarity_before,
                "similarity_after": self.similarity_after, "change": self.change,
                "rank_before": self.rank_before}


@dataclass
class Variant:
    """One edited version of the clip and how it compares with the original."""

    edits: list[Edit]
    analysis: ClipAnalysis
    fused_distance: float
    """``1 - cosine`` between the original and the edited fused vectors (0 = no move)."""
    distance_by_block: dict[str, float]
    map_from: tuple[float | None, float | None]
    map_to: tuple[float | None, float | None]
    map_distance: float | None
    top_topic_before: dict[str, Any] | None
    top_topic_after: dict[str, Any] | None
    audiences: list[AudienceMove]
    """The top audiences after the edit: similarity before and after, and the change."""
    attribution_delta: dict[str, Any]
    """Per block, the change of its part in the similarity to the original top audience
    (and to the new top audience when it differs)."""
    clarity_before: int
    clarity_after: int
    summary: str = ""

    @property
    def moved(self) -> float:
        """How far the edit moved the clip: ``1 - cosine`` in the interest space (0 = not
        at all); :attr:`distance_by_block` splits it by block."""
        return self.fused_distance

    @property
    def topic_kept(self) -> bool:
        """True when the edited clip has the same top declared topic."""
        return bool(self.top_topic_before and self.top_topic_after and
                    self.top_topic_before["id"] == self.top_topic_after["id"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "edits": [e.as_dict() for e in self.edits],
            "summary": self.summary,
            "fused_distance": round(self.fused_distance, 5),
            "distance_by_block": self.distance_by_block,
            "map": {"from": list(self.map_from), "to": list(self.map_to),
                    "distance": None if self.map_distance is None else round(self.map_distance, 4)},
            "top_topic": {"before": self.top_topic_before, "after": self.top_topic_after,
                          "kept": self.topic_kept},
            "topics": self.analysis.topics.ranking(5),
            "audiences": [a.as_dict() for a in self.audiences],
            "attribution_delta": self.attribution_delta,
            "clarity": {"before": self.clarity_before, "after": self.clarity_after},
            "analysis": self.analysis.as_dict(),
        }


@dataclass
class WhatIfReport:
    """The original clip's analysis and one :class:`Variant` per edit (or edit group)."""

    original: ClipAnalysis
    variants: list[Variant] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"original": self.original.as_dict(),
                "variants": [v.as_dict() for v in self.variants]}


def whatif(clip: Clip | EncodedClip | ClipAnalysis, edits: Sequence[Edit | Sequence[Edit]],
           index: InterestIndex | str | Path | None = None, *, combine: bool = False,
           k: int = 5, ocr: bool = True, asr: bool = True) -> WhatIfReport:
    """Apply each edit to ``clip`` (each a separate variant; a list of edits is one
    variant; ``combine=True`` makes all the edits one variant) and measure the moves."""
    index = resolve_index(index)
    if isinstance(clip, ClipAnalysis):
        original = clip
    else:
        original = analyze(clip, index, k=k, ocr=ocr, asr=asr)
    groups: list[list[Edit]] = []
    for e in edits:
        groups.append([e] if isinstance(e, Edit) else list(e))
    if combine and groups:
        groups = [[e for g in groups for e in g]]
    if not groups:
        raise ConfigError("no edits given: e.g. --set-caption TEXT, --set-language CODE, "
                          "--set-geo PLACE, --set-frames FILE, --set-audio FILE, --drop BLOCK")
    report = WhatIfReport(original=original)
    for group in groups:
        edited = apply_edits(original.encoded, group, index, ocr=ocr, asr=asr)
        after = analyze_encoded(edited, index, k=k)
        report.variants.append(compare(original, after, group, index))
    return report


def compare(before: ClipAnalysis, after: ClipAnalysis, edits: Sequence[Edit],
            index: InterestIndex) -> Variant:
    """How ``after`` (an edited clip) differs from ``before``."""
    f0, f1 = before.encoded.fused, after.encoded.fused
    fused_distance = float(1.0 - np.clip(f0 @ f1, -1.0, 1.0)) if np.any(f0) and np.any(f1) \
        else 1.0
    parts = distance_by_block(f0, f1, index.fuser) if np.any(f0) and np.any(f1) else {}
    x0, y0 = before.nearest.x, before.nearest.y
    x1, y1 = after.nearest.x, after.nearest.y
    map_distance = (float(np.hypot(x1 - x0, y1 - y0))
                    if None not in (x0, y0, x1, y1) else None)
    audiences, delta = _audience_moves(f0, f1, before, after, index)
    tb = before.agreement.top_topic
    ta = after.agreement.top_topic
    v = Variant(edits=list(edits), analysis=after, fused_distance=fused_distance,
                distance_by_block=parts, map_from=(x0, y0), map_to=(x1, y1),
                map_distance=map_distance, top_topic_before=tb, top_topic_after=ta,
                audiences=audiences, attribution_delta=delta,
                clarity_before=before.clarity.score, clarity_after=after.clarity.score)
    v.summary = _summary(v)
    return v


def _audience_moves(f0: np.ndarray, f1: np.ndarray, before: ClipAnalysis,
                    after: ClipAnalysis, index: InterestIndex
                    ) -> tuple[list[AudienceMove], dict[str, Any]]:
    auds = list(getattr(index, "audiences", []) or [])
    if not auds or not np.any(f0) or not np.any(f1):
        return [], {}
    cents = np.stack([a.centroid for a in auds])
    attr = index.fuser.attribution(np.stack([f0, f1]), cents)  # (2, A, blocks)
    sims = attr.sum(-1)
    order = np.argsort(-sims[1])[:len(after.audiences) or 5]
    rows = [AudienceMove(id=auds[j].id, label=auds[j].label,
                         similarity_before=round(float(sims[0, j]), 4),
                         similarity_after=round(float(sims[1, j]), 4),
                         change=round(float(sims[1, j] - sims[0, j]), 4),
                         rank_before=int(np.sum(sims[0] > sims[0, j])) + 1) for j in order]
    j0, j1 = int(np.argmax(sims[0])), int(np.argmax(sims[1]))

    def delta(j: int) -> dict[str, Any]:
        d = {b: round(float(attr[1, j, i] - attr[0, j, i]), 4) for i, b in enumerate(BLOCKS)}
        return {"audience": {"id": auds[j].id, "label": auds[j].label},
                "before": {b: round(float(attr[0, j, i]), 4) for i, b in enumerate(BLOCKS)},
                "after": {b: round(float(attr[1, j, i]), 4) for i, b in enumerate(BLOCKS)},
                "change": d,
                "main_change": max(d, key=lambda b: abs(d[b])) if any(d.values()) else None}

    out = {"original_top_audience": delta(j0)}
    if j1 != j0:
        out["new_top_audience"] = delta(j1)
    return rows, out


def _summary(v: Variant) -> str:
    what = "; ".join(e.describe() for e in v.edits)
    parts = [f"{what}: moved {v.fused_distance:.3f} in the interest space"]
    if v.map_distance is not None:
        parts[-1] += (f" and {v.map_distance:.2f} on the map" if v.map_distance > 1e-3 else
                      " and not at all on the map (the map shows what clips are about)")
    if v.top_topic_after and v.topic_kept:
        parts.append(f"still {v.top_topic_after['name']}")
    elif v.top_topic_after:
        before = v.top_topic_before["name"] if v.top_topic_before else "no topic"
        parts.append(f"topic {before} -> {v.top_topic_after['name']}")
    elif v.top_topic_before:
        parts.append(f"nothing says {v.top_topic_before['name']} any more")
    moved = {b: p for b, p in v.distance_by_block.items() if p > 1e-4}
    if moved:
        main = max(moved, key=lambda b: moved[b])
        parts.append(f"the {BLOCK_WORDS.get(main, main)} block explains "
                     f"{moved[main] / max(v.fused_distance, 1e-9):.0%} of the move")
    d = v.attribution_delta.get("original_top_audience")
    if d and d.get("main_change"):
        b = d["main_change"]
        parts.append(f"its {BLOCK_WORDS.get(b, b)} part of the match with "
                     f"'{d['audience']['label']}' went {d['before'][b]:+.3f} -> {d['after'][b]:+.3f}")
    new = v.attribution_delta.get("new_top_audience")
    if new:
        parts.append(f"the nearest audience is now '{new['audience']['label']}'")
    parts.append(f"clarity {v.clarity_before} -> {v.clarity_after}")
    return "; ".join(parts) + "."
