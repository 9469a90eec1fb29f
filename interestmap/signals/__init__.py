"""Raw signals read from a clip's media and caption: what a platform's models see and hear.

``extract_signals`` runs one module per signal, in this order (each stage's time lands in
``Signals.timings_s``):
- caption: hashtags and the caption's language (``language.py``);
- sound: speech / music / silence shares and loudness (``sound.py``);
- asr: the transcript, skipped when the sound stage heard no speech (``asr.py``);
- ocr: on-screen text (``ocr.py``);
- language: the clip's language, user-given > speech > caption > on-screen text;
- faces (``faces.py``), motion (``motion.py``, videos only), geo (``geo.py``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TypeVar

from ..clip import GeoPoint, Media, Signals

__all__ = ["extract_signals", "parse_hashtags"]

MIN_SPEECH_S = 0.5
"""Less detected speech than this and ASR is skipped."""

_HASHTAG = re.compile(r"(?<![\w#&/])#(\w*[^\W\d_]\w*)")
T = TypeVar("T")


def parse_hashtags(caption: str) -> list[str]:
    """Hashtags of a caption, lower-cased, without '#', in order, without repeats.

    A tag needs at least one letter (any script: #футбол, #café); '#1' is not a tag.
    """
    seen: dict[str, None] = {}
    for m in _HASHTAG.finditer(caption or ""):
        seen.setdefault(m.group(1).casefold(), None)
    return list(seen)


def extract_signals(media: Media, caption: str = "", language: str | None = None,
                    geo: str | None = None, *, ocr: bool = True, asr: bool = True) -> Signals:
    """Read every raw signal of one clip. ``ocr``/``asr`` False skip those (slow) stages.

    Raises ConfigError for an invalid ``language`` or an unknown ``geo`` place, and
    MissingDependencyError when a needed tool (e.g. tesseract for OCR) is not installed.
    """
    from . import language as lang_mod

    given = lang_mod.normalize_language(language)
    sig = Signals(caption=caption or "")
    timings = sig.timings_s

    def timed(stage: str, fn: Callable[[], T]) -> T:
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            timings[stage] = time.perf_counter() - t0

    def caption_stage() -> None:
        sig.hashtags = parse_hashtags(sig.caption)
        sig.caption_language, _ = lang_mod.detect_language(sig.caption)

    timed("caption", caption_stage)

    speech_probability = 0.0
    if media.audio is not None and media.audio.size:
        from .sound import analyse_sound

        mix = timed("sound", lambda: analyse_sound(media.audio_at(16000)))
        sig.speech_share, sig.music_share = mix.speech_share, mix.music_share
        sig.silence_share, sig.loudness_dbfs = mix.silence_share, mix.loudness_dbfs
        if asr and mix.speech_s >= MIN_SPEECH_S:
            from .asr import transcribe

            tr = timed("asr", lambda: transcribe(media.audio_at(16000), given))
            sig.transcript, sig.speech_segments = tr.text, tr.segments
            sig.speech_language = tr.language if tr.text else None
            speech_probability = tr.language_probability if given is None else 1.0
            if sig.speech_language and speech_probability < 1.0:
                # Whisper is often unsure on short or synthetic speech; the transcript's
                # own language agreeing with it is enough confirmation
                text_lang, _ = lang_mod.detect_language(tr.text)
                if text_lang == sig.speech_language:
                    speech_probability = 1.0

    if ocr and media.frames:
        from .ocr import read_text

        hint = given or sig.caption_language
        res = timed("ocr", lambda: read_text(media.frames, media.frame_times_s, hint))
        sig.ocr_text, sig.ocr_language = res.text, res.language

    sig.language, sig.language_source = timed("language", lambda: lang_mod.resolve_language(
        given, sig.transcript, sig.speech_language, speech_probability,
        sig.caption_language, sig.ocr_language))

    if media.frames:
        from .faces import detect_faces

        sig.faces = timed("faces", lambda: detect_faces(media.frames))
    if media.kind == "video":
        from .motion import motion_score

        sig.motion = timed("motion", lambda: motion_score(media.frames))

    if geo is not None and str(geo).strip():
        sig.geo = timed("geo", lambda: _resolve_geo(str(geo)))
    return sig


def _resolve_geo(text: str) -> GeoPoint | None:
    try:
        from .geo import resolve_geo
    except ImportError:
        return None
    return resolve_geo(text)
