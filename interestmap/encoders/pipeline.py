"""Clip -> EncodedClip: media, signals, one vector per block, and the fused vector.

Reads top to bottom like the product: decode the media, read its signals (OCR, ASR,
language, faces, sound), embed each modality with its encoder, fuse the blocks. Text
blocks of many clips are embedded in one batch, which is what makes corpus builds fast.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from interestmap._threads import background, import_stage_modules, join_all
from interestmap.clip import Clip, EncodedClip, Media, Signals
from interestmap.encoders.base import (
    AudioEncoder,
    EncoderInfo,
    ImageEncoder,
    TextEncoder,
    l2_normalize,
)
from interestmap.encoders.fusion import BLOCKS, Fuser, FusionLayout
from interestmap.errors import InterestmapError, MissingDependencyError
from interestmap.signals.hashtags import spell_out_hashtags

SILENT_DBFS = -60.0
"""An audio track quieter than this on average is treated as no sound."""

SPEECH_CLASSES: tuple[str, ...] = (
    "Speech", "Child speech, kid speaking", "Conversation", "Narration, monologue",
    "Babbling", "Speech synthesizer", "Male speech, man speaking",
    "Female speech, woman speaking", "Silence",
)
"""AudioSet classes the sound block leaves out: talking is read by the speech block (ASR),
so a talking clip's sound block says what else is heard (a crowd, a dog, music)."""

MIN_SOUND_SCORE = 0.03
"""A clip's sound block is missing when no class other than :data:`SPEECH_CLASSES` scores
this much: the track is only talking (or too faint to name) and says nothing beyond the
speech block. Chosen on the dev half of ESC-50 (207 real sounds): the strongest
non-speech class is under 0.03 for 1 clip (under 0.1 for 7: cows, sheep, frogs); on
espeak-ng sentences (the tests' spoken clips) it is 0.001-0.002. Leaving the speech
classes out does not hurt the bridge: zero-shot top-1 on the same clips 0.567 -> 0.572."""


def caption_text(caption: str) -> str:
    """The caption as a text model should read it: '#RealMadrid' -> 'Real Madrid'."""
    return spell_out_hashtags(caption)


def _meaningful(text: str, min_letters: int = 3) -> bool:
    return sum(ch.isalpha() for ch in text or "") >= min_letters


@dataclass
class EncodeProblem:
    """A clip that could not be encoded, and why (one line)."""

    index: int
    clip_id: str | None
    message: str


@dataclass
class _Pending:
    """A clip between the per-clip stages and the batched text stage."""

    clip: Clip
    media: Media
    signals: Signals
    blocks: dict[str, np.ndarray | None] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


class ClipEncoder:
    """Encode clips into fused interest vectors.

    Encoders are given as objects or names (see ``encoders.registry``); ``None`` takes
    the offline defaults. Models load on first use, once per process. ``encode_many``
    works on ``clips_in_flight`` clips at a time (their results do not depend on it).
    """

    def __init__(
        self,
        text_encoder: TextEncoder | str | None = None,
        image_encoder: ImageEncoder | str | None = None,
        audio_encoder: AudioEncoder | str | None = None,
        weights: Mapping[str, float] | None = None,
        *,
        ocr: bool = True,
        asr: bool = True,
        max_frames: int = 16,
        max_duration_s: float | None = None,
        clips_in_flight: int = 2,
    ) -> None:
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.audio_encoder = audio_encoder
        self.weights = weights
        self.ocr = ocr
        self.asr = asr
        self.max_frames = max_frames
        self.max_duration_s = max_duration_s
        self.clips_in_flight = clips_in_flight

    # Models, resolved lazily ----------------------------------------------------------
    @cached_property
    def text(self) -> TextEncoder:
        from interestmap.encoders.registry import get_text_encoder

        te = self.text_encoder
        return te if isinstance(te, TextEncoder) else get_text_encoder(te)

    @cached_property
    def image(self) -> ImageEncoder:
        from interestmap.encoders.registry import get_image_encoder

        ie = self.image_encoder
        return ie if isinstance(ie, ImageEncoder) else get_image_encoder(ie)

    @cached_property
    def audio(self) -> AudioEncoder:
        from interestmap.encoders.registry import get_audio_encoder

        ae = self.audio_encoder
        return ae if isinstance(ae, AudioEncoder) else get_audio_encoder(ae)

    @cached_property
    def semantics(self) -> Any:
        from interestmap.encoders.semantics import VisualSemantics

        return VisualSemantics(self.image, self.text)

    @cached_property
    def sound_semantics(self) -> Any:
        """What the sound track is, in the text space (YAMNet's sound names, embedded)."""
        from interestmap.encoders.audio_yamnet import YamnetTagger
        from interestmap.encoders.semantics import AudioSemantics

        return AudioSemantics(YamnetTagger(), self.text, ignore=SPEECH_CLASSES)

    @cached_property
    def language_encoder(self) -> Any:
        from interestmap.encoders.context import LanguageEncoder

        return LanguageEncoder()

    @cached_property
    def geo_encoder(self) -> Any:
        from interestmap.encoders.context import GeoEncoder

        return GeoEncoder()

    def block_encoders(self) -> dict[str, EncoderInfo]:
        """Which encoder makes each block (name, version, dim)."""
        t = self.text.info
        return {
            "caption": t, "ocr": t, "speech": t,
            "visual": self.image.info,
            "visual_semantics": self.semantics.info,
            "audio": self.audio.info,
            "audio_semantics": self.sound_semantics.info,
            "language": self.language_encoder.info,
            "geo": self.geo_encoder.info,
        }

    @cached_property
    def fuser(self) -> Fuser:
        return Fuser(self.weights).fit(self.block_encoders())

    @property
    def layout(self) -> FusionLayout:
        """Block dimensions, weights and encoders of the vectors this encoder makes."""
        return self.fuser.layout_

    def load_models(self) -> ClipEncoder:
        """Load every model this encoder will use now, instead of on the first clip.

        For a worker or a server that wants its first clip as fast as its hundredth.
        Returns ``self``.
        """
        self.text.encode(["warm up"])
        frame = np.full((64, 64, 3), 127, dtype=np.uint8)
        self.semantics.encode([frame])  # the image model and the class-name vectors
        forget = getattr(self.image, "_cache", None)
        if forget is not None:
            forget.clear()
        self.audio.encode([np.zeros(self.audio.sample_rate, dtype=np.float32)])
        from interestmap.signals.sound import analyse_sound

        noise = np.random.default_rng(0).normal(0, 0.01, 16000).astype(np.float32)
        with contextlib.suppress(MissingDependencyError):  # then the block says so per clip
            self.sound_semantics.encode([noise])  # YAMNet and the sound-name vectors
        analyse_sound(noise)  # voice detection and the sound-mix analysis
        if self.asr:
            from interestmap.signals.asr import whisper_model

            whisper_model()
        if self.ocr:
            from interestmap.signals.ocr import installed_languages

            installed_languages()
        return self

    # Encoding -------------------------------------------------------------------------
    def encode(self, clip: Clip) -> EncodedClip:
        """Encode one clip. Raises an :class:`InterestmapError` with a one-line message."""
        return self._finish([self._per_clip(clip, caption_early=True)])[0]

    def encode_many(
        self,
        clips: Sequence[Clip],
        *,
        on_error: str = "raise",
        progress: Callable[[int, int], None] | None = None,
        show_progress: bool = False,
    ) -> tuple[list[EncodedClip], list[EncodeProblem]]:
        """Encode a batch. With ``on_error="skip"`` a bad clip is reported and skipped.

        Returns the encoded clips (in input order, bad ones left out) and the problems.
        ``progress(done, total)`` is called after each clip's media stage.
        """
        if on_error not in ("raise", "skip"):
            raise ValueError("on_error must be 'raise' or 'skip'")
        import_stage_modules()  # before clips and stages run side by side
        pending: list[_Pending] = []
        problems: list[EncodeProblem] = []
        bar = _progress_bar(len(clips), show_progress)
        # The next clip starts while this one finishes: one clip's stages rarely keep
        # both cores busy to the end (a spoken clip over a still photo is mostly ASR).
        in_flight = max(1, int(self.clips_in_flight))
        with ThreadPoolExecutor(max_workers=in_flight,
                                thread_name_prefix="interestmap-clip") as pool:
            queue: deque[tuple[int, Clip, Future[_Pending]]] = deque()
            todo = iter(enumerate(clips))

            def start_next() -> None:
                nxt = next(todo, None)
                if nxt is not None:
                    queue.append((nxt[0], nxt[1], pool.submit(self._per_clip, nxt[1])))

            for _ in range(in_flight):
                start_next()
            while queue:
                i, clip, job = queue.popleft()
                try:
                    pending.append(job.result())
                except InterestmapError as e:
                    if on_error == "raise":
                        for *_, other in queue:
                            other.cancel()
                        raise
                    problems.append(EncodeProblem(i, clip.id, str(e)))
                start_next()
                if progress is not None:
                    progress(i + 1, len(clips))
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
        return self._finish(pending), problems

    def _per_clip(self, clip: Clip, *, caption_early: bool = False) -> _Pending:
        """Media, signals, visual and audio blocks of one clip (text blocks come later).

        With ``caption_early`` the caption's text block is embedded here too, beside the
        other stages (a single clip's encode: nothing to batch it with).
        """
        from interestmap.media.decode import load_media
        from interestmap.signals import extract_signals

        import_stage_modules()
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        jobs = []
        caption: dict[str, Any] = {}
        if caption_early and _meaningful(caption_text(clip.caption)):
            jobs.append(background(lambda: self._caption_block(clip.caption, caption)))
        kw: dict[str, Any] = {"max_frames": self.max_frames}
        if self.max_duration_s is not None:
            kw["max_duration_s"] = self.max_duration_s
        try:
            media = load_media(clip.media or None, **kw)
        except BaseException:
            join_all(jobs, raise_errors=False)
            raise
        timings["decode"] = time.perf_counter() - t0

        # The picture and sound encoders run beside the signal stages (all of them mostly
        # outside the GIL), so none of them waits at the end of the clip
        visual: dict[str, Any] = {}
        audio: dict[str, Any] = {}
        jobs.append(background(lambda: self._visual_blocks(media, visual)))
        jobs.append(background(lambda: self._audio_block(media, audio)))
        try:
            signals = extract_signals(media, clip.caption, clip.language, clip.geo,
                                      ocr=self.ocr, asr=self.asr)
        except BaseException:
            join_all(jobs, raise_errors=False)
            raise
        join_all(jobs)
        timings.update(signals.timings_s)
        p = _Pending(clip=clip, media=media, signals=signals, timings=timings)
        p.missing.update(media.missing)
        for part in (visual, audio, caption):
            p.blocks.update(part.get("blocks", {}))
            p.missing.update(part.get("missing", {}))
            p.timings.update(part.get("timings", {}))
        self._context_blocks(p)
        p.timings["clip_wall"] = time.perf_counter() - t0
        return p

    def _caption_block(self, caption: str, out: dict[str, Any]) -> None:
        """``out`` gets the caption's text block and its time."""
        t0 = time.perf_counter()
        vec = self.text.encode([caption_text(caption)])[0]
        out.update(blocks={"caption": vec}, timings={"text": time.perf_counter() - t0})

    def _visual_blocks(self, media: Media, out: dict[str, Any]) -> None:
        """``out`` gets the visual and visual-semantics blocks, missing reasons, timings."""
        blocks: dict[str, np.ndarray | None] = {}
        missing: dict[str, str] = {}
        timings: dict[str, float] = {}
        out.update(blocks=blocks, missing=missing, timings=timings)
        if not media.frames:
            reason = media.missing.get("visual", "no images or video frames")
            blocks["visual"] = blocks["visual_semantics"] = None
            missing["visual"] = missing["visual_semantics"] = reason
            return
        from interestmap.media.frames import representatives

        # near-identical frames are encoded once and weighted by how many they stand for
        reps = representatives(media.frames)
        uniq = sorted(set(reps))
        weight = np.array([reps.count(i) for i in uniq], dtype=np.float32)[:, None]
        frames = [media.frames[i] for i in uniq]
        t0 = time.perf_counter()
        feats = self.image.encode(frames)
        blocks["visual"] = l2_normalize((feats * weight).sum(axis=0) / weight.sum())
        timings["visual"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        sem = self.semantics.encode(frames)
        blocks["visual_semantics"] = l2_normalize((sem * weight).sum(axis=0) / weight.sum())
        timings["visual_semantics"] = time.perf_counter() - t0

    def _audio_block(self, media: Media, out: dict[str, Any]) -> None:
        """``out`` gets the audio and audio-semantics blocks (or why they are missing) and
        their times."""
        blocks: dict[str, np.ndarray | None] = {}
        missing: dict[str, str] = {}
        timings: dict[str, float] = {}
        out.update(blocks=blocks, missing=missing, timings=timings)
        if media.audio is None or not media.audio.size:
            blocks["audio"] = blocks["audio_semantics"] = None
            missing["audio"] = missing["audio_semantics"] = media.missing.get(
                "audio", "no sound track")
            return
        from interestmap.signals.sound import loudness_dbfs

        # the same level the sound stage reports (same function, same 16 kHz track)
        loud = loudness_dbfs(np.asarray(media.audio_at(16000), dtype=np.float32))
        if loud < SILENT_DBFS:
            blocks["audio"] = blocks["audio_semantics"] = None
            missing["audio"] = missing["audio_semantics"] = (
                f"the sound track is silent ({loud:.0f} dBFS)")
            return
        t0 = time.perf_counter()
        wave = media.audio_at(self.audio.sample_rate)
        blocks["audio"] = self.audio.encode([wave])[0]
        timings["audio"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        blocks["audio_semantics"], why = self._sound_semantics(media)
        if why:
            missing["audio_semantics"] = why
        timings["audio_semantics"] = time.perf_counter() - t0

    def _sound_semantics(self, media: Media) -> tuple[np.ndarray | None, str]:
        """The audio-semantics block of a sound track, or None and why it is missing."""
        try:
            sem = self.sound_semantics
            raw = sem.tagger.class_probabilities([media.audio_at(sem.sample_rate)])
        except MissingDependencyError as e:
            return None, f"the sound tagger is not installed ({e})"
        scores = sem.without_ignored(raw)
        if float(scores.max()) >= MIN_SOUND_SCORE:
            return sem.encode_scores(scores)[0], ""
        top = sem.tagger.class_names[int(np.argmax(raw[0]))]
        if top in SPEECH_CLASSES and top != "Silence":
            return None, "the sound track is only talking (the speech block reads it)"
        return None, "no sound in the track is clear enough to name"

    def _context_blocks(self, p: _Pending) -> None:
        lang = p.signals.language
        p.blocks["language"] = self.language_encoder.encode([lang])[0] if lang else None
        if lang is None:
            p.missing["language"] = "language unknown: give --language or a longer caption"
        geo = p.signals.geo
        p.blocks["geo"] = self.geo_encoder.encode([geo])[0] if geo is not None else None
        if geo is None:
            p.missing["geo"] = "no geo given"
        for b in ("language", "geo"):
            v = p.blocks[b]
            if v is not None and not np.any(v):
                p.blocks[b] = None
                p.missing.setdefault(b, f"{b} not recognised")

    def _finish(self, pending: list[_Pending]) -> list[EncodedClip]:
        """Embed the text blocks of all pending clips in one batch, then fuse."""
        texts: list[str] = []
        where: list[tuple[int, str]] = []
        for i, p in enumerate(pending):
            s = p.signals
            for block, text in (("caption", caption_text(s.caption)),
                                ("ocr", s.ocr_text), ("speech", s.transcript)):
                if p.blocks.get(block) is not None:
                    continue  # embedded early (a single clip's caption)
                if _meaningful(text):
                    texts.append(text)
                    where.append((i, block))
                else:
                    p.blocks[block] = None
                    p.missing[block] = {"caption": "no caption",
                                        "ocr": "no readable on-screen text",
                                        "speech": "no speech"}[block]
        if texts:
            t0 = time.perf_counter()
            vecs = self.text.encode(texts)
            per_clip = (time.perf_counter() - t0) / max(len(pending), 1)
            for (i, block), v in zip(where, vecs, strict=True):
                pending[i].blocks[block] = v
            for p in pending:
                p.timings["text"] = p.timings.get("text", 0.0) + per_clip
        out = []
        fuser = self.fuser
        for p in pending:
            t0 = time.perf_counter()
            blocks = {b: p.blocks.get(b) for b in BLOCKS}
            fused = fuser.transform([blocks])[0]
            p.timings["fusion"] = time.perf_counter() - t0
            out.append(EncodedClip(
                clip=p.clip, signals=p.signals, blocks=blocks, fused=fused,
                media_kind=p.media.kind,
                missing={b: r for b, r in p.missing.items() if blocks.get(b) is None},
                notes=list(p.media.notes), timings_s=p.timings,
            ))
        return out


def _progress_bar(total: int, show: bool) -> Any:
    if not show or total <= 1:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="encoding clips", unit="clip")


def describe(encoded: EncodedClip, layout: FusionLayout) -> dict[str, Any]:
    """A JSON-ready summary of an encoded clip (what ``interestmap encode --json`` prints)."""
    sig = encoded.signals
    blocks = {}
    for b in BLOCKS:
        v = encoded.blocks.get(b)
        enc = layout.encoders.get(b, {})
        blocks[b] = {
            "present": v is not None,
            "dim": int(layout.dims[b]),
            "weight": float(layout.weights[b]),
            "encoder": enc,
            **({"missing": encoded.missing.get(b, "missing")} if v is None else {}),
        }
    return {
        "id": encoded.clip.id,
        "media": [str(p) for p in encoded.clip.media],
        "media_kind": encoded.media_kind,
        "vector_dim": int(encoded.fused.shape[0]),
        "blocks": blocks,
        "signals": {
            "caption": sig.caption,
            "hashtags": sig.hashtags,
            "ocr_text": sig.ocr_text,
            "transcript": sig.transcript,
            "language": sig.language,
            "language_source": sig.language_source,
            "caption_language": sig.caption_language,
            "ocr_language": sig.ocr_language,
            "speech_language": sig.speech_language,
            "faces": sig.faces,
            "speech_share": sig.speech_share,
            "music_share": sig.music_share,
            "silence_share": sig.silence_share,
            "loudness_dbfs": sig.loudness_dbfs,
            "motion": sig.motion,
            "geo": None if sig.geo is None else {
                "name": sig.geo.name, "lat": sig.geo.lat, "lon": sig.geo.lon,
                "country": sig.geo.country},
        },
        "notes": encoded.notes,
        "timings_s": {k: round(float(v), 4) for k, v in encoded.timings_s.items()},
    }


def iter_texts(encoded: Iterable[EncodedClip]) -> list[str]:
    """Caption, on-screen text and transcript of each clip joined: the words of a clip."""
    return [" ".join(t for t in (caption_text(e.signals.caption), e.signals.ocr_text,
                                 e.signals.transcript) if t) for e in encoded]
